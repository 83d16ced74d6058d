/* scheduler_fcfs.c: "FCFS": strictly the oldest request (earliest arrival, then buffer order),
 * whether or not its next command is ready; nothing younger may overtake it. */
#include <stddef.h>
#include "engine_internal.h"

static void fcfs_scan(hd_system *s, hd_buffer *buf, int64_t clk, hd_scan *out) {
    (void)clk;
    int best = -1;
    int64_t min_ready = HD_NEVER;
    for (int i = 0; i < buf->size; i++) {
        hd_req *r = hd_buf_at(buf, i);
        hd_req_validate(s, r);
        min_ready = hd_min64(min_ready, hd_req_ready(s, r));
        if (best < 0 || r->arrive < hd_buf_at(buf, best)->arrive) best = i;
    }
    out->best = best;
    out->best_at_min = best;
    out->min_ready = min_ready;
}

const hd_scheduler_impl hd_scheduler_fcfs = {"FCFS", fcfs_scan, NULL, NULL};
