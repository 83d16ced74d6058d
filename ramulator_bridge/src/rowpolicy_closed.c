/* rowpolicy_closed.c: "ClosedRowPolicy" (Ramulator2 v2.0a semantics): counts column accesses per
 * bank; when a bank reaches `cap`, a close-row (PRE) request goes to the priority buffer.
 * Counters reset whenever the bank is precharged or refreshed. */
#include "engine_internal.h"

static void closed_on_schedule(hd_system *s, hd_ctrl *c, const hd_req *r) {
    const hd_config *cfg = &s->cfg;
    int cmd = r->cmd;
    const int32_t *v = r->vec;
    if (cmd == HD_CMD_PRE || cmd == HD_CMD_PREA || cmd == HD_CMD_PRESB || cmd == HD_CMD_RDA ||
        cmd == HD_CMD_WRA || cmd == HD_CMD_REFAB || cmd == HD_CMD_REFSB) {
        for (int g = 0; g < cfg->bankgroups; g++) {
            if (v[2] >= 0 && g != v[2]) continue;
            for (int b = 0; b < cfg->banks; b++) {
                if (v[3] >= 0 && b != v[3]) continue;
                s->col_accesses[hd_bank_index(s, v[0], v[1], g, b)] = 0;
            }
        }
    } else if (cmd == HD_CMD_RD || cmd == HD_CMD_WR) {
        int64_t bn = hd_bank_index(s, v[0], v[1], v[2], v[3]);
        if (++s->col_accesses[bn] >= cfg->row_policy_cap) {
            hd_ctrl_priority_send(s, c, HD_REQ_CLOSE_ROW, v);
            s->col_accesses[bn] = 0;
            c->stats.close_requests++;
        }
    }
}

const hd_rowpolicy_impl hd_rowpolicy_closed = {"ClosedRowPolicy", closed_on_schedule};
