/* scheduler_fcfs.c: "FCFS": strictly the oldest request (earliest arrival, then buffer order),
 * whether or not its next command is ready; nothing younger may overtake it. */
#include "engine_internal.h"

static int fcfs_best(const hd_system *s, const hd_buffer *buf, int64_t clk) {
    (void)s;
    (void)clk;
    int best = -1;
    for (int i = 0; i < buf->size; i++)
        if (best < 0 || buf->items[i].arrive < buf->items[best].arrive) best = i;
    return best;
}

const hd_scheduler_impl hd_scheduler_fcfs = {"FCFS", fcfs_best};
