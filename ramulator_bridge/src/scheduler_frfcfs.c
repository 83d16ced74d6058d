/* scheduler_frfcfs.c: "FRFCFS" as in Ramulator2 v2.0a: requests whose next command is ready this
 * cycle first, then the earliest arrival (then buffer order). Ready-first, not row-hit-first. */
#include "engine_internal.h"

static void frfcfs_scan(hd_system *s, hd_buffer *buf, int64_t clk, hd_scan *out) {
    int best = -1, best_ready = 0, at_min = -1;
    int64_t min_ready = HD_NEVER;
    for (int i = 0; i < buf->size; i++) {
        hd_req *r = &buf->items[i];
        hd_req_validate(s, r);
        int64_t t = hd_req_ready(s, r);
        int ready = t <= clk;
        if (best < 0 || (ready && !best_ready) ||
            (ready == best_ready && r->arrive < buf->items[best].arrive)) {
            best = i;
            best_ready = ready;
        }
        /* at cycle min_ready exactly the requests with that ready time are ready */
        if (t < min_ready || (t == min_ready && r->arrive < buf->items[at_min].arrive)) {
            min_ready = t;
            at_min = i;
        }
    }
    out->best = best;
    out->best_at_min = at_min;
    out->min_ready = min_ready;
}

/* A new request is the youngest: it only wins if it is ready and the current choice is not. */
static void frfcfs_add(hd_system *s, hd_buffer *buf, int idx, hd_scan *sc) {
    const hd_req *r = &buf->items[idx];
    int64_t t = hd_req_ready(s, r);
    if (sc->best < 0) {
        sc->best = idx;
    } else if (t <= sc->clk && hd_req_ready(s, &buf->items[sc->best]) > sc->clk) {
        sc->best = idx;
    }
    if (t < sc->min_ready) {
        sc->min_ready = t;
        sc->best_at_min = idx;
    }
}

const hd_scheduler_impl hd_scheduler_frfcfs = {"FRFCFS", frfcfs_scan, frfcfs_add};
