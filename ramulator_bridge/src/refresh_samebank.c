/* refresh_samebank.c: "SameBank" (DDR5 REFsb): every nREFI / banks cycles one same-bank refresh
 * request per rank goes to the priority buffer, cycling over the bank index (bank k of every bank
 * group), so each bank is refreshed once per nREFI. Open banks with that index are closed first
 * (PREsb). Needs a standard with REFsb/PREsb (checked when the config is resolved). */
#include "engine_internal.h"

static int64_t interval(const hd_system *s) {
    int64_t n = s->cfg.nREFI / s->cfg.banks;
    return n > 0 ? n : 1;
}

static void samebank_init(hd_system *s, hd_ctrl *c) { c->next_refresh = interval(s); }

static void samebank_tick(hd_system *s, hd_ctrl *c) {
    if (s->clk != c->next_refresh) return;
    int64_t k = s->clk / interval(s) - 1;
    c->next_refresh += interval(s);
    for (int r = 0; r < c->rank_count; r++) {
        int32_t vec[6] = {c->channel, c->rank_first + r, -1, (int32_t)(k % s->cfg.banks), -1, -1};
        hd_ctrl_priority_send(s, c, HD_REQ_REFRESH_SAME_BANK, vec);
        c->stats.refresh_requests++;
    }
}

static int64_t samebank_next_event(const hd_system *s, const hd_ctrl *c) {
    (void)s;
    return c->next_refresh;
}

const hd_refresh_impl hd_refresh_samebank = {"SameBank", samebank_init, samebank_tick,
                                             samebank_next_event};
