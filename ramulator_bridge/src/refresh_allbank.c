/* refresh_allbank.c: "AllBank": every nREFI cycles one all-bank refresh request per rank goes to
 * the priority buffer (the controller closes open banks with PREA first). */
#include "engine_internal.h"

static void allbank_init(hd_system *s, hd_ctrl *c) { c->next_refresh = s->cfg.nREFI; }

static void allbank_tick(hd_system *s, hd_ctrl *c) {
    if (s->clk != c->next_refresh) return;
    c->next_refresh += s->cfg.nREFI;
    for (int r = 0; r < c->rank_count; r++) {
        int32_t vec[6] = {c->channel, c->rank_first + r, -1, -1, -1, -1};
        hd_ctrl_priority_send(s, c, HD_REQ_REFRESH_ALL, vec);
        c->stats.refresh_requests++;
    }
}

static int64_t allbank_next_event(const hd_system *s, const hd_ctrl *c) {
    (void)s;
    return c->next_refresh;
}

const hd_refresh_impl hd_refresh_allbank = {"AllBank", allbank_init, allbank_tick,
                                            allbank_next_event};
