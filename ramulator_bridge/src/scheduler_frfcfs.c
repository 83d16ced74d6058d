/* scheduler_frfcfs.c: "FRFCFS" as in Ramulator2 v2.0a: requests whose next command is ready this
 * cycle first, then the earliest arrival (then buffer order). Ready-first, not row-hit-first.
 *
 * A pass turns each request into an ordering key (not-ready flag, age) and keeps the minimum,
 * and the earliest ready time with the same age tie-break. Read and write queues with a bank
 * index (bank_index.c) are passed over per bank: only the oldest request of each (bank, command)
 * class can win or set the earliest ready time, as the others of its class share its ready time
 * and are younger. Other buffers get the plain pass over every request. */
#include "engine_internal.h"

#define IDX_BITS 12 /* buffers hold at most 4095 requests (checked in hd_create) */

typedef struct {
    uint64_t best_key;            /* (not ready at clk) << 63 | age */
    unsigned __int128 min_key;    /* max(ready, 0) << 64 | age */
} pass_min;

/* Ready times are >= -1 (-1: never constrained); clamped to 0 so they order as unsigned (a ready
 * time <= clk means "now" wherever min_ready is used). age < 2^63 orders requests by arrival. */
static inline void pass_offer(pass_min *p, int64_t t, int64_t clk, uint64_t age) {
    uint64_t key = ((uint64_t)(t > clk) << 63) | age;
    p->best_key = key < p->best_key ? key : p->best_key;
    unsigned __int128 mkey = ((unsigned __int128)(uint64_t)hd_max64(t, 0) << 64) | age;
    p->min_key = mkey < p->min_key ? mkey : p->min_key;
}

static void plain_pass(hd_system *s, hd_buffer *buf, int64_t clk, hd_scan *out) {
    pass_min p = {UINT64_MAX, ~(unsigned __int128)0};
    for (int i = 0; i < buf->size; i++) {
        hd_req *r = hd_buf_at(buf, i);
        hd_req_validate(s, r);
        pass_offer(&p, hd_req_ready(s, r), clk, ((uint64_t)r->arrive << IDX_BITS) | (uint64_t)i);
    }
    out->best = (int)(p.best_key & ((1u << IDX_BITS) - 1));
    out->best_at_min = (int)((uint64_t)p.min_key & ((1u << IDX_BITS) - 1));
    out->min_ready = (int64_t)(uint64_t)(p.min_key >> 64);
}

/* Ready time of a bank's candidate k (the same as hd_req_ready of that request). */
static inline int64_t slot_ready(const hd_bank_slot *slot, int k) {
    int cmd = slot->cmd[k];
    int64_t t = hd_max64(slot->rd_bank[cmd], slot->rd_bg[cmd]);
    return hd_max64(t, hd_max64(slot->rd_rank[cmd], slot->rd_ch[cmd]));
}

/* pass_offer without the ready-first key (a pass that wants only min_ready). */
static inline void pass_offer_min(pass_min *p, int64_t t, uint64_t age) {
    unsigned __int128 mkey = ((unsigned __int128)(uint64_t)hd_max64(t, 0) << 64) | age;
    p->min_key = mkey < p->min_key ? mkey : p->min_key;
}

/* The minima over the bank index's candidates (with_best: also the ready-first key). */
static inline void index_minima(const hd_buffer *buf, int64_t clk, pass_min *p, int with_best) {
    for (uint64_t m = buf->nonempty; m; m &= m - 1) {
        const hd_bank_slot *slot = &buf->slots[__builtin_ctzll(m)];
        for (int k = 0; k < 2; k++) {
            if (slot->age[k] == HD_NO_SEQ) continue;
            if (with_best) pass_offer(p, slot_ready(slot, k), clk, slot->age[k]);
            else pass_offer_min(p, slot_ready(slot, k), slot->age[k]);
        }
    }
}

/* The pass over the bank index: ages are the candidates' hd_bidx_age. A pass for min_ready
 * only (out->min_only) skips the ready-first key: if nothing is ready at clk, best is -1 as a
 * full pass would find; else best is left unknown (out->best_unknown). */
static void indexed_pass(hd_system *s, hd_buffer *buf, int64_t clk, hd_scan *out) {
    pass_min p = {UINT64_MAX, ~(unsigned __int128)0};
    if (buf->dirty & buf->nonempty) hd_bidx_refresh_dirty(s, buf);
    if (out->min_only) index_minima(buf, clk, &p, 0);
    else index_minima(buf, clk, &p, 1);
    out->best_unknown = out->min_only && (int64_t)(uint64_t)(p.min_key >> 64) <= clk;
    /* Only results the controller can use become buffer indices (and have their cached
     * command validated, which the controller reads): best when it is ready at clk (else -1),
     * best_at_min when min_ready is later than clk (else -1; see scan_best). */
    out->min_ready = (int64_t)(uint64_t)(p.min_key >> 64);
    out->version = buf->version;
    out->best = out->best_at_min = -1;
    if (!(p.best_key >> 63)) {
        out->best = hd_bidx_index_of(buf, p.best_key);
        hd_req_validate(s, hd_buf_at(buf, out->best));
    }
    if (out->min_ready > clk) {
        out->best_at_min = hd_bidx_index_of(buf, (uint64_t)p.min_key);
        hd_req_validate(s, hd_buf_at(buf, out->best_at_min));
    }
}

static void frfcfs_scan(hd_system *s, hd_buffer *buf, int64_t clk, hd_scan *out) {
    out->best_unknown = 0;
    if (buf->size == 0) {
        out->best = out->best_at_min = -1;
        out->min_ready = HD_NEVER;
    } else if (buf->slots) {
        indexed_pass(s, buf, clk, out);
    } else {
        plain_pass(s, buf, clk, out);
    }
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

/* An outdated pass of an indexed buffer still holds at clk if since then only ready times
 * moved (same buffer version: same requests, same bank states) and nothing was ready: ready
 * times only grow, so if its earliest request still becomes ready at min_ready > clk, min_ready
 * is still the minimum and that request still the oldest reaching it; nothing is ready now. */
static int frfcfs_still_valid(hd_system *s, hd_buffer *buf, int64_t clk, hd_scan *sc) {
    if (!buf->slots || sc->version != buf->version || sc->best_at_min < 0 ||
        sc->min_ready <= clk)
        return 0;
    hd_req *r = hd_buf_at(buf, sc->best_at_min);
    hd_req_validate(s, r);
    if (hd_max64(hd_req_ready(s, r), 0) != sc->min_ready) return 0;
    sc->best = -1;
    return 1;
}

const hd_scheduler_impl hd_scheduler_frfcfs = {"FRFCFS", frfcfs_scan, frfcfs_add,
                                               frfcfs_still_valid, 1};
