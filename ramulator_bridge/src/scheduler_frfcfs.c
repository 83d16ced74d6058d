/* scheduler_frfcfs.c: "FRFCFS" as in Ramulator2 v2.0a: requests whose next command is ready this
 * cycle first, then the earliest arrival (then buffer order). Ready-first, not row-hit-first. */
#include "engine_internal.h"

static int frfcfs_best(const hd_system *s, const hd_buffer *buf, int64_t clk) {
    int best = -1, best_ready = 0;
    for (int i = 0; i < buf->size; i++) {
        const hd_req *r = &buf->items[i];
        int ready = hd_req_ready(s, r) <= clk;
        if (best < 0) {
            best = i;
            best_ready = ready;
        } else if (ready != best_ready) {
            if (ready) {
                best = i;
                best_ready = 1;
            }
        } else if (r->arrive < buf->items[best].arrive) {
            best = i;
        }
    }
    return best;
}

const hd_scheduler_impl hd_scheduler_frfcfs = {"FRFCFS", frfcfs_best};
