/* scheduler_frfcfs.c: "FRFCFS" as in Ramulator2 v2.0a: requests whose next command is ready this
 * cycle first, then the earliest arrival (then buffer order). Ready-first, not row-hit-first.
 *
 * The pass is branch-free: each request becomes an ordering key (not-ready flag, arrival, index),
 * and the earliest ready time is kept with the same (arrival, index) tie-break. */
#include "engine_internal.h"

#define IDX_BITS 12 /* buffers hold at most 4095 requests (checked in hd_create) */

static void frfcfs_scan(hd_system *s, hd_buffer *buf, int64_t clk, hd_scan *out) {
    uint64_t best_key = UINT64_MAX;
    unsigned __int128 min_key = ~(unsigned __int128)0;
    /* In an arrival-ordered buffer, requests of one bank needing the same command share one
     * ready time, so only the oldest of such a class can be chosen and the others can be
     * skipped. That pays only when classes are few (streams): with scattered traffic the test
     * mispredicts, so after a pass that met many classes the next 64 passes are plain. */
    uint64_t seen[HD_MAX_CMDS] = {0};
    int skip = buf->arrival_ordered && buf->full_passes == 0 && !s->cfg.reference_scheduling;
    int classes = 0;
    for (int i = 0; i < buf->size; i++) {
        hd_req *r = hd_buf_at(buf, i);
        hd_req_validate(s, r);
        if (skip) {
            if (r->local_bank >= 0) {
                uint64_t bit = 1ull << r->local_bank;
                if (seen[r->cmd] & bit) continue;
                seen[r->cmd] |= bit;
            }
            classes++;
        }
        int64_t t = hd_req_ready(s, r);
        uint64_t age = ((uint64_t)r->arrive << IDX_BITS) | (uint64_t)i;
        uint64_t key = ((uint64_t)(t > clk) << 63) | age;
        best_key = key < best_key ? key : best_key;
        /* ready times are >= -1 (-1: never constrained); clamped to 0 so they order as
         * unsigned (a ready time <= clk means "now" wherever min_ready is used) */
        unsigned __int128 mkey = ((unsigned __int128)(uint64_t)hd_max64(t, 0) << 64) | age;
        min_key = mkey < min_key ? mkey : min_key;
    }
    if (skip)
        buf->full_passes = classes * 4 > buf->size ? 64 : 0;
    else if (buf->full_passes > 0)
        buf->full_passes--;
    int empty = buf->size == 0;
    out->best = empty ? -1 : (int)(best_key & ((1u << IDX_BITS) - 1));
    out->best_at_min = empty ? -1 : (int)((uint64_t)min_key & ((1u << IDX_BITS) - 1));
    out->min_ready = empty ? HD_NEVER : (int64_t)(uint64_t)(min_key >> 64);
}

/* A new request is the youngest: it only wins if it is ready and the current choice is not. */
static void frfcfs_add(hd_system *s, hd_buffer *buf, int idx, hd_scan *sc) {
    const hd_req *r = hd_buf_at(buf, idx);
    int64_t t = hd_req_ready(s, r);
    if (sc->best < 0) {
        sc->best = idx;
    } else if (t <= sc->clk && hd_req_ready(s, hd_buf_at(buf, sc->best)) > sc->clk) {
        sc->best = idx;
    }
    if (t < sc->min_ready) {
        sc->min_ready = t;
        sc->best_at_min = idx;
    }
}

const hd_scheduler_impl hd_scheduler_frfcfs = {"FRFCFS", frfcfs_scan, frfcfs_add};
