/* memory_system.c: a memory system = device tree + one controller per channel (per rank in NDP
 * mode) + address mapper. Time advances one memory cycle per tick; idle stretches are skipped
 * to the next cycle at which anything can happen. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "engine_internal.h"

/* setup.py defines HD_PROFILE_GUIDED for the final pass of its profile-guided build */
#ifdef HD_PROFILE_GUIDED
#define HD_BUILD_KIND ", profile-guided build"
#else
#define HD_BUILD_KIND ""
#endif
const char *hd_version(void) { return "hermes-dram 0.1" HD_BUILD_KIND; }

static int log2i(int64_t v) {
    int b = 0;
    while ((1LL << b) < v) b++;
    return b;
}

static int is_pow2(int64_t v) { return v > 0 && (v & (v - 1)) == 0; }

#define FAIL(...) do { snprintf(err, (size_t)err_len, __VA_ARGS__); hd_destroy(s); return NULL; } while (0)

hd_system *hd_create(const hd_config *cfg, char *err, int err_len) {
    hd_system *s = calloc(1, sizeof(hd_system));
    if (!s) return NULL;
    s->cfg = *cfg;
    const hd_config *c = &s->cfg;
    int64_t counts[6] = {c->channels, c->ranks, c->bankgroups, c->banks, c->rows, c->columns};
    const char *names[6] = {"channel", "rank", "bankgroup", "bank", "row", "column"};
    for (int l = 0; l < 6; l++) {
        if (!is_pow2(counts[l])) FAIL("org.%s must be a power of two >= 1, got %lld", names[l], (long long)counts[l]);
        s->addr_bits[l] = log2i(counts[l]);
    }
    s->scheduler = hd_scheduler_impl_get(c->scheduler);
    s->rowpolicy = hd_row_policy_impl_get(c->row_policy);
    s->refresh = hd_refresh_impl_get(c->refresh);
    s->mapper = hd_mapper_impl_get(c->mapper);
    if (!s->scheduler || !s->rowpolicy || !s->refresh || !s->mapper) FAIL("unknown unit id");
    if (c->read_buffer_max < 0 || c->write_buffer_max < 0 || c->active_buffer_max < 0 || c->priority_buffer_max < 0)
        FAIL("buffer sizes must be >= 0");
    if (c->read_buffer_max > 4094 || c->write_buffer_max > 4094 || c->active_buffer_max > 4094 ||
        c->priority_buffer_max > 4094)
        FAIL("buffer sizes must be <= 4094");
    if (c->memory_clock_ratio < 1) FAIL("clock_ratio must be >= 1");
    if (c->nREFI < 1) FAIL("nREFI must be >= 1");
    s->capacity_tx = 1;
    for (int l = 0; l < 6; l++) s->capacity_tx *= (uint64_t)counts[l];

    /* device tree */
    s->level_nodes[0] = c->channels;
    s->level_nodes[1] = s->level_nodes[0] * c->ranks;
    s->level_nodes[2] = s->level_nodes[1] * c->bankgroups;
    s->level_nodes[3] = s->level_nodes[2] * c->banks;
    for (int l = 0; l < HD_NUM_LEVELS; l++) {
        int64_t n = s->level_nodes[l] * HD_MAX_CMDS;
        s->ready[l] = malloc((size_t)n * sizeof(int64_t));
        s->history[l] = malloc((size_t)n * HD_MAX_WINDOW * sizeof(int64_t));
        if (!s->ready[l] || !s->history[l]) FAIL("out of memory");
        for (int64_t i = 0; i < n; i++) s->ready[l][i] = -1;
        for (int64_t i = 0; i < n * HD_MAX_WINDOW; i++) s->history[l][i] = -1;
    }
    if (c->num_constraints < 0 || c->num_constraints > HD_MAX_CONSTRAINTS) FAIL("too many timing constraints");
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < c->num_constraints; i++) {
            int L = c->con_level[i], p = c->con_prev[i], nx = c->con_next[i], w = c->con_window[i];
            if (L < 0 || L >= HD_NUM_LEVELS || p < 0 || p >= HD_MAX_CMDS || nx < 0 || nx >= HD_MAX_CMDS)
                FAIL("timing constraint %d out of range", i);
            if (w < 1 || w > HD_MAX_WINDOW) FAIL("timing constraint %d: window must be 1..%d", i, HD_MAX_WINDOW);
            if (pass == 0) {
                if (c->con_sibling[i]) s->n_scons[L][p]++; else s->n_tcons[L][p]++;
                if (w > s->hist_len[L][p]) s->hist_len[L][p] = w;
            } else {
                hd_con con = {nx, c->con_latency[i], w};
                if (c->con_sibling[i]) s->scons[L][p][s->n_scons[L][p]++] = con;
                else s->tcons[L][p][s->n_tcons[L][p]++] = con;
            }
        }
        if (pass == 0) {
            for (int L = 0; L < HD_NUM_LEVELS; L++)
                for (int p = 0; p < HD_MAX_CMDS; p++) {
                    s->tcons[L][p] = malloc(sizeof(hd_con) * (size_t)(s->n_tcons[L][p] + 1));
                    s->scons[L][p] = malloc(sizeof(hd_con) * (size_t)(s->n_scons[L][p] + 1));
                    s->n_tcons[L][p] = s->n_scons[L][p] = 0;
                }
        }
    }
    for (int p = 0; p < HD_MAX_CMDS; p++) {
        int any = 0;
        for (int L = HD_NUM_LEVELS - 1; L >= 0; L--) {
            any |= s->hist_len[L][p] > 0;
            s->below[L][p] = any;
        }
        if (s->n_tcons[0][p] || s->n_scons[0][p] || s->n_scons[1][p]) s->cross_ctrl = 1;
    }
    if (!c->ndp_mode) s->cross_ctrl = 1;
    for (int p = 0; p < HD_MAX_CMDS; p++) { /* timing programs: tcons flattened */
        int n = 0;
        for (int L = 0; L < HD_NUM_LEVELS; L++) n += s->n_tcons[L][p];
        s->program[p] = malloc(sizeof(hd_op) * (size_t)(n + 1));
        if (!s->program[p]) FAIL("out of memory");
        for (int L = 0; L < HD_NUM_LEVELS; L++) {
            if (s->hist_len[L][p] > 1) s->history_levels[p] |= 1 << L;
            if (s->n_scons[L][p]) s->sibling_levels[p] |= 1 << L;
        }
        for (int L = 0; L < HD_NUM_LEVELS; L++)
            for (int i = 0; i < s->n_tcons[L][p]; i++) {
                const hd_con *k = &s->tcons[L][p][i];
                s->program[p][s->n_program[p]++] = (hd_op){L, k->next, k->window, k->latency};
                if (L != HD_LEVEL_BANK) s->upper_cmds[p] |= 1u << k->next;
            }
        for (int L = 0, end = 0; L < HD_NUM_LEVELS; L++) /* the program is in level order */
            s->program_end[p][L] = end += s->n_tcons[L][p];
        if (s->sibling_levels[p]) s->upper_cmds[p] = ~0u;
    }
    int64_t nb = s->level_nodes[3];
    s->bank_state = calloc((size_t)nb, 1);
    s->open_row = malloc((size_t)nb * sizeof(int32_t));
    s->col_accesses = calloc((size_t)nb, sizeof(int64_t));
    for (int64_t i = 0; i < nb; i++) s->open_row[i] = -1;
    s->bank_epoch = calloc((size_t)nb, sizeof(uint64_t));
    s->bank_cmd_epoch = calloc((size_t)nb * HD_MAX_CMDS, sizeof(uint64_t));
    for (int k = 0; k < HD_MAX_CMDS; k++) s->neutral_row[k] = -1;
    s->sched_epoch = 1;
    s->cap_future = (int)(s->level_nodes[1] * (c->banks + 1) + 16);
    s->future = malloc((size_t)s->cap_future * sizeof(hd_future));

    /* controllers */
    s->n_ctrl = c->ndp_mode ? c->channels * c->ranks : c->channels;
    s->ctrl = calloc((size_t)s->n_ctrl, sizeof(hd_ctrl));
    for (int k = 0; k < s->n_ctrl; k++) {
        hd_ctrl *q = &s->ctrl[k];
        q->id = k;
        q->channel = c->ndp_mode ? k / c->ranks : k;
        q->rank_first = c->ndp_mode ? k % c->ranks : 0;
        q->rank_count = c->ndp_mode ? 1 : c->ranks;
        hd_buffer *bufs[4] = {&q->readq, &q->writeq, &q->activeq, &q->prioq};
        int maxes[4] = {c->read_buffer_max, c->write_buffer_max, c->active_buffer_max,
                        c->priority_buffer_max};
        for (int i = 0; i < 4; i++) {
            int cap = 1;
            while (cap < maxes[i] + 1) cap <<= 1;
            bufs[i]->max_size = maxes[i];
            bufs[i]->mask = cap - 1;
            bufs[i]->items = malloc(sizeof(hd_req) * (size_t)cap);
            if (!bufs[i]->items) FAIL("out of memory");
        }
        if (!c->reference_scheduling && (!hd_bidx_init(s, q, &q->readq, HD_CMD_RD) ||
                                         !hd_bidx_init(s, q, &q->writeq, HD_CMD_WR)))
            FAIL("out of memory");
        q->readq.unordered = q->readq.slots && s->scheduler->index_order;
        q->writeq.unordered = q->writeq.slots && s->scheduler->index_order;
        /* integer watermarks: size > x <=> size > floor(x), size < y <=> size < ceil(y) */
        double high = c->wr_high_watermark * (double)c->write_buffer_max;
        double low = c->wr_low_watermark * (double)c->write_buffer_max;
        q->wr_high_size = (int)high - ((double)(int)high > high);
        q->wr_low_size = (int)low + ((double)(int)low < low);
        q->pend_cap = 256;
        q->pend = malloc(sizeof(hd_pending) * (size_t)q->pend_cap);
        s->refresh->init(s, q);
        q->changed_epoch = 1; /* scans are stamped from 1 on; 0 = never computed */
    }
    s->lat_hist = calloc(HD_LATENCY_BUCKETS, sizeof(int64_t));
    s->log_cap = 4096;
    s->log = malloc(sizeof(hd_command_record) * (size_t)s->log_cap);
    s->comp_cap = 4096;
    s->comp_tags = malloc(sizeof(int64_t) * (size_t)s->comp_cap);
    s->comp_cycles = malloc(sizeof(int64_t) * (size_t)s->comp_cap);
    return s;
}

void hd_destroy(hd_system *s) {
    if (!s) return;
    for (int l = 0; l < HD_NUM_LEVELS; l++) {
        free(s->ready[l]);
        free(s->history[l]);
        for (int p = 0; p < HD_MAX_CMDS; p++) {
            free(s->tcons[l][p]);
            free(s->scons[l][p]);
        }
    }
    for (int p = 0; p < HD_MAX_CMDS; p++) free(s->program[p]);
    free(s->bank_state);
    free(s->open_row);
    free(s->col_accesses);
    free(s->bank_epoch);
    free(s->bank_cmd_epoch);
    free(s->future);
    if (s->ctrl) {
        for (int k = 0; k < s->n_ctrl; k++) {
            hd_ctrl *q = &s->ctrl[k];
            hd_bidx_free(&q->readq);
            hd_bidx_free(&q->writeq);
            free(q->readq.items);
            free(q->writeq.items);
            free(q->activeq.items);
            free(q->prioq.items);
            free(q->pend);
        }
    }
    free(s->ctrl);
    free(s->lat_hist);
    free(s->log);
    free(s->comp_tags);
    free(s->comp_cycles);
    free(s);
}

static hd_ctrl *route(hd_system *s, const int32_t *vec) {
    int k = s->cfg.ndp_mode ? vec[0] * s->cfg.ranks + vec[1] : vec[0];
    return &s->ctrl[k];
}

static void prepare(const hd_system *s, hd_req *r, uint64_t addr, int is_write, int64_t tag) {
    r->addr = addr;
    r->tag = tag;
    r->type = is_write ? HD_REQ_WRITE : HD_REQ_READ;
    r->forward_checked = -1;
    s->mapper->map(s, addr >> s->cfg.tx_offset_bits, r->vec);
}

static int offer_prepared(hd_system *s, hd_req *r) {
    hd_ctrl *c = route(s, r->vec);
    if (!hd_ctrl_enqueue(s, c, r)) return 0;
    if (r->type == HD_REQ_WRITE) c->stats.writes++; else c->stats.reads++;
    return 1;
}

static int offer(hd_system *s, uint64_t addr, int is_write, int64_t tag) {
    hd_req r;
    prepare(s, &r, addr, is_write, tag);
    return offer_prepared(s, &r);
}

int hd_send(hd_system *s, uint64_t addr, int is_write, int64_t tag) {
    if ((addr >> s->cfg.tx_offset_bits) >= s->capacity_tx) return -1;
    return offer(s, addr, is_write, tag);
}

static void add_occupancy(hd_system *s, int64_t cycles) {
    for (int k = 0; k < s->n_ctrl; k++) {
        hd_ctrl *q = &s->ctrl[k];
        q->stats.read_queue_occupancy_sum += cycles * (q->readq.size + q->pend_count);
        q->stats.write_queue_occupancy_sum += cycles * q->writeq.size;
    }
}

static void system_tick(hd_system *s) {
    /* per-controller next events computed just before (not trusted in reference mode) */
    int known = s->next_evt_valid && !s->cfg.reference_scheduling;
    s->next_evt_valid = 0;
    s->clk++;
    hd_dev_tick(s);
    add_occupancy(s, 1);
    for (int k = 0; k < s->n_ctrl; k++) {
        hd_ctrl *c = &s->ctrl[k];
        if (known && c->next_evt > s->clk) continue; /* nothing it can do this cycle */
        hd_ctrl_tick(s, c);
    }
}

/* Earliest cycle (> clk) at which a tick can change anything. */
static int64_t next_event(hd_system *s) {
    int64_t e = HD_NEVER;
    for (int i = 0; i < s->n_future; i++) e = hd_min64(e, s->future[i].cycle);
    for (int k = 0; k < s->n_ctrl; k++) {
        hd_ctrl *c = &s->ctrl[k];
        c->next_evt = hd_ctrl_next_event(s, c);
        e = hd_min64(e, c->next_evt);
    }
    /* a refresh ending changes bank states of every controller of its channel */
    s->next_evt_valid = s->n_future == 0;
    if (s->cfg.reference_scheduling) return s->clk + 1; /* reference: every cycle is ticked */
    return hd_max64(e, s->clk + 1);
}

/* Skip to cycle `target` (<= the next event - 1) without simulating the idle cycles. */
static void skip_to(hd_system *s, int64_t target) {
    if (target <= s->clk) return;
    add_occupancy(s, target - s->clk);
    s->clk = target;
}

static void advance_to(hd_system *s, int64_t target) {
    while (s->clk < target) {
        int64_t e = next_event(s);
        skip_to(s, hd_min64(e - 1, target));
        if (s->clk < target) system_tick(s);
    }
}

void hd_tick(hd_system *s, int64_t n) {
    s->owe_tick = 0;
    advance_to(s, s->clk + n);
}

int64_t hd_tick_until_completions(hd_system *s, int64_t count, int64_t max_cycles) {
    int64_t n = 0;
    do {
        hd_tick(s, 1);
        n++;
    } while (s->comp_count < count && n < max_cycles);
    return n;
}

int64_t hd_cycle(const hd_system *s) { return s->clk; }

int hd_idle(const hd_system *s) {
    for (int k = 0; k < s->n_ctrl; k++)
        if (!hd_ctrl_idle(&s->ctrl[k])) return 0;
    return 1;
}

int64_t hd_drain(hd_system *s) {
    s->owe_tick = 0;
    while (!hd_idle(s)) {
        int64_t e = next_event(s);
        skip_to(s, e - 1);
        system_tick(s);
    }
    return s->clk;
}

/* Where a replay's requests come from: byte addresses (through the mapper) or address vectors. */
typedef struct {
    const uint64_t *addr;      /* byte addresses, or NULL */
    const int32_t *vec;        /* n x 6 address vectors (channel .. column), or NULL */
    const uint8_t *is_write;
} hd_source;

/* Fills cur with request i; 0 if it lies outside the memory. */
static int prepare_from(const hd_system *s, const hd_source *src, int64_t i, int64_t tag,
                        hd_req *cur) {
    if (src->addr) {
        if ((src->addr[i] >> s->cfg.tx_offset_bits) >= s->capacity_tx) return 0;
        prepare(s, cur, src->addr[i], src->is_write[i], tag);
        return 1;
    }
    const int32_t *v = &src->vec[i * 6];
    const int64_t counts[6] = {s->cfg.channels, s->cfg.ranks, s->cfg.bankgroups, s->cfg.banks,
                               s->cfg.rows, s->cfg.columns};
    uint64_t packed = 0; /* a unique address for write forwarding: fields in level order */
    for (int l = 0; l < 6; l++) {
        if (v[l] < 0 || v[l] >= counts[l]) return 0;
        packed = (packed << s->addr_bits[l]) | (uint64_t)v[l];
        cur->vec[l] = v[l];
    }
    cur->addr = packed << s->cfg.tx_offset_bits;
    cur->tag = tag;
    cur->type = src->is_write[i] ? HD_REQ_WRITE : HD_REQ_READ;
    cur->forward_checked = -1;
    return 1;
}

static int64_t run_source(hd_system *s, const hd_source *src, const int64_t *arrival, int64_t n,
                          int64_t base_tag, int64_t *accepted) {
    const int64_t M = s->cfg.memory_clock_ratio;
    int64_t i = 0, prepared = -1;
    hd_req cur;
    if (n <= 0) return 0;
    if (s->owe_tick) {
        s->owe_tick = 0;
        system_tick(s);
    }
    for (;;) {
        /* one step: the frontend offers (at frontend ticks), then the memory ticks */
        int64_t front_next = HD_NEVER; /* next step at which an offer could succeed */
        int rejected = 0;
        if ((M == 1 || s->clk % M == 0) && (!arrival || arrival[i] <= s->clk)) {
            if (prepared != i) {
                if (!prepare_from(s, src, i, base_tag >= 0 ? base_tag + i : -1, &cur))
                    return -(i + 1);
                prepared = i;
            }
            if (offer_prepared(s, &cur)) {
                if (accepted) accepted[i] = s->clk;
                if (++i == n) {
                    s->owe_tick = 1;
                    return n;
                }
                front_next = s->clk + 1;
                /* look ahead: if the next request's queue is full, it is rejected at every
                 * frontend tick until the next memory event, as if offered now */
                if (prepare_from(s, src, i, base_tag >= 0 ? base_tag + i : -1, &cur)) {
                    prepared = i;
                    if (hd_ctrl_rejects(route(s, cur.vec), &cur)) {
                        front_next = HD_NEVER;
                        rejected = 1;
                    }
                }
            } else {
                rejected = 1; /* the queue frees only at a memory event */
            }
        } else {
            int64_t t = arrival ? hd_max64(arrival[i], s->clk + 1) : s->clk + 1;
            front_next = M == 1 ? t : (t + M - 1) / M * M;
        }
        int64_t e = next_event(s);
        int64_t step = hd_min64(e - 1, front_next);
        if (step > s->clk) {
            skip_to(s, step);
            /* at `step` the frontend offers again before the memory ticks, unless it was just
             * rejected: nothing changed since, so it would be rejected again */
            if (!rejected) continue;
        }
        system_tick(s);
    }
}

int64_t hd_run_trace(hd_system *s, const uint64_t *addr, const uint8_t *is_write,
                     const int64_t *arrival, int64_t n, int64_t base_tag) {
    hd_source src = {addr, NULL, is_write};
    return run_source(s, &src, arrival, n, base_tag, NULL);
}

int64_t hd_run_trace_record(hd_system *s, const uint64_t *addr, const uint8_t *is_write,
                            const int64_t *arrival, int64_t n, int64_t base_tag,
                            int64_t *accepted) {
    hd_source src = {addr, NULL, is_write};
    return run_source(s, &src, arrival, n, base_tag, accepted);
}

int64_t hd_run_trace_vectors(hd_system *s, const int32_t *vec6, const uint8_t *is_write,
                             const int64_t *arrival, int64_t n, int64_t base_tag) {
    hd_source src = {NULL, vec6, is_write};
    return run_source(s, &src, arrival, n, base_tag, NULL);
}

static void add_stats(hd_stats *acc, const hd_stats *x) {
    int64_t *a = (int64_t *)acc;
    const int64_t *b = (const int64_t *)x;
    for (size_t i = 0; i < sizeof(hd_stats) / sizeof(int64_t); i++) a[i] += b[i];
    acc->read_latency_max = hd_max64(acc->read_latency_max - x->read_latency_max,
                                     x->read_latency_max); /* max, not sum */
}

void hd_get_stats(const hd_system *s, hd_stats *out) {
    memset(out, 0, sizeof *out);
    for (int k = 0; k < s->n_ctrl; k++) add_stats(out, &s->ctrl[k].stats);
    out->cycles = s->clk;
}

int hd_controller_count(const hd_system *s) { return s->n_ctrl; }

int hd_get_controller_stats(const hd_system *s, int k, hd_stats *out, int32_t *channel,
                            int32_t *rank) {
    if (k < 0 || k >= s->n_ctrl) return 0;
    *out = s->ctrl[k].stats;
    out->cycles = s->clk;
    *channel = s->ctrl[k].channel;
    *rank = s->cfg.ndp_mode ? s->ctrl[k].rank_first : -1;
    return 1;
}

void hd_mark_snapshot(hd_system *s) {
    hd_get_stats(s, &s->snapshot);
    s->has_snapshot = 1;
}

int hd_get_snapshot(const hd_system *s, hd_stats *out) {
    if (!s->has_snapshot) return 0;
    *out = s->snapshot;
    return 1;
}

int64_t hd_latency_histogram(const hd_system *s, int64_t *out, int64_t n) {
    int64_t m = n < HD_LATENCY_BUCKETS ? n : HD_LATENCY_BUCKETS;
    for (int64_t i = 0; i < m; i++) out[i] = s->lat_hist[i];
    return m;
}

void hd_decode(const hd_system *s, uint64_t addr, int64_t *out6) {
    int32_t v[6];
    s->mapper->map(s, addr >> s->cfg.tx_offset_bits, v);
    for (int l = 0; l < 6; l++) out6[l] = v[l];
}

uint64_t hd_capacity_bytes(const hd_system *s) { return s->capacity_tx << s->cfg.tx_offset_bits; }

int64_t hd_command_count(const hd_system *s) { return s->log_count; }

int64_t hd_take_commands(hd_system *s, hd_command_record *out, int64_t max) {
    int64_t n = s->log_count < max ? s->log_count : max;
    memcpy(out, s->log, (size_t)n * sizeof(hd_command_record));
    memmove(s->log, s->log + n, (size_t)(s->log_count - n) * sizeof(hd_command_record));
    s->log_count -= n;
    return n;
}

int64_t hd_completion_count(const hd_system *s) { return s->comp_count; }

int64_t hd_take_completions(hd_system *s, int64_t *tags, int64_t *cycles, int64_t max) {
    int64_t n = s->comp_count < max ? s->comp_count : max;
    memcpy(tags, s->comp_tags, (size_t)n * sizeof(int64_t));
    memcpy(cycles, s->comp_cycles, (size_t)n * sizeof(int64_t));
    memmove(s->comp_tags, s->comp_tags + n, (size_t)(s->comp_count - n) * sizeof(int64_t));
    memmove(s->comp_cycles, s->comp_cycles + n, (size_t)(s->comp_count - n) * sizeof(int64_t));
    s->comp_count -= n;
    return n;
}
