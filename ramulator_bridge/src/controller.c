/* controller.c: one memory controller (Ramulator2 v2.0a "Generic" semantics): read, write,
 * active and priority buffers, write draining between watermarks, one command per cycle chosen
 * by the scheduler unit, row policy and refresh units, in-order retirement of reads. */
#include <stdlib.h>
#include <string.h>
#include "engine_internal.h"

static int is_closing(int cmd) {
    return cmd == HD_CMD_PRE || cmd == HD_CMD_PREA || cmd == HD_CMD_PRESB || cmd == HD_CMD_RDA ||
           cmd == HD_CMD_WRA;
}

/* Removal. An unordered buffer moves its youngest entry into the hole (one copy; the entries'
 * order is their bank-index ages, which do not move). Else order-keeping: shifts the shorter
 * side of the ring. Either way an index is told where its moved requests now are. */
static void buf_remove(hd_system *s, hd_buffer *b, int idx) {
    hd_bank_entry *pool = b->slots ? b->pool : NULL;
    if (pool) hd_bidx_removing(s, b, idx);
    if (b->unordered) {
        int last = b->size - 1;
        if (idx != last) {
            hd_req *to = hd_buf_at(b, idx);
            *to = *hd_buf_at(b, last);
            pool[to->pool].pos = (int16_t)((b->head + idx) & b->mask);
        }
        b->size--;
        return;
    }
    if (idx < b->size / 2) {
        for (int i = idx; i > 0; i--) {
            hd_req *to = hd_buf_at(b, i);
            *to = *hd_buf_at(b, i - 1);
            if (pool) pool[to->pool].pos = (int16_t)((b->head + i) & b->mask);
        }
        b->head = (b->head + 1) & b->mask;
    } else {
        for (int i = idx; i < b->size - 1; i++) {
            hd_req *to = hd_buf_at(b, i);
            *to = *hd_buf_at(b, i + 1);
            if (pool) pool[to->pool].pos = (int16_t)((b->head + i) & b->mask);
        }
    }
    b->size--;
}

static int buf_push(hd_buffer *b, const hd_req *r) {
    if (b->size > b->max_size) return 0;
    *hd_buf_at(b, b->size++) = *r;
    return 1;
}

void hd_req_refresh(hd_system *s, hd_req *r) {
    r->cmd = hd_dev_preq(s, r->final_cmd, r->vec);
    r->ready_local = hd_dev_req_ready(s, r);
}

/* Reference mode (tests): every cached ready time and pass is treated as stale. */
static void forget_caches(hd_system *s) {
    if (s->cfg.reference_scheduling) s->full_epoch = ++s->sched_epoch;
}

/* An outdated pass: kept if only ready times moved since (same version of an indexed buffer)
 * and the scheduler can vouch for it, else redone. */
static int rescan(hd_system *s, hd_buffer *buf, hd_scan *sc, int64_t clk) {
    int keep = buf->slots && sc->version == buf->version && s->scheduler->still_valid &&
               !s->cfg.reference_scheduling && s->scheduler->still_valid(s, buf, clk, sc);
    if (!keep) s->scheduler->scan(s, buf, clk, sc);
    sc->epoch = s->sched_epoch;
    sc->clk = clk;
    return sc->best;
}

/* The scheduler's choice in `buf` at cycle clk, reusing the last pass while nothing changed. */
static inline int scan_best(hd_system *s, const hd_ctrl *c, hd_buffer *buf, hd_scan *sc,
                            int64_t clk) {
    forget_caches(s);
    if (sc->epoch >= c->changed_epoch && !s->cfg.reference_scheduling) {
        if (clk == sc->clk) return sc->best;
        if (sc->clk < sc->min_ready) { /* nothing was ready: the ready set is unchanged */
            if (clk < sc->min_ready) return sc->best;
            if (clk == sc->min_ready) return sc->best_at_min;
        }
        s->scheduler->scan(s, buf, clk, sc); /* current but made for another cycle */
        sc->epoch = s->sched_epoch;
        sc->clk = clk;
        return sc->best;
    }
    return rescan(s, buf, sc, clk);
}

/* The earliest ready time in buf (for the next event). The pass made here may skip the
 * scheduler's choice at clk when something is ready then: a next event is looked for after the
 * cycle's tick, so no choice at clk is made after it, and such a pass is dropped (a later cycle
 * with something ready redoes a pass anyway: scan_best). */
static inline __attribute__((always_inline)) int64_t
scan_min_ready(hd_system *s, const hd_ctrl *c, hd_buffer *buf, hd_scan *sc, int64_t clk) {
    if (!buf->size) return HD_NEVER;
    if (sc->epoch < c->changed_epoch || s->cfg.reference_scheduling) {
        sc->min_only = 1;
        scan_best(s, c, buf, sc, clk);
        sc->min_only = 0;
        if (sc->best_unknown) {
            sc->best_unknown = 0;
            sc->epoch = 0;
        }
    }
    return sc->min_ready;
}

static void push_pending(hd_ctrl *c, int64_t depart, int64_t arrive, int64_t tag) {
    if (c->pend_count == c->pend_cap) {
        int64_t ncap = c->pend_cap * 2;
        hd_pending *np = malloc((size_t)ncap * sizeof(hd_pending));
        for (int64_t i = 0; i < c->pend_count; i++) np[i] = c->pend[(c->pend_head + i) % c->pend_cap];
        free(c->pend);
        c->pend = np;
        c->pend_head = 0;
        c->pend_cap = ncap;
    }
    hd_pending *p = &c->pend[(c->pend_head + c->pend_count) & (c->pend_cap - 1)]; /* pow2 */
    p->depart = depart;
    p->arrive = arrive;
    p->tag = tag;
    c->pend_count++;
}

int hd_ctrl_enqueue(hd_system *s, hd_ctrl *c, hd_req *r) {
    /* a retried offer rescans the write queue only after it changed */
    int check_forward = r->type == HD_REQ_READ && r->forward_checked != c->writeq_version;
    if (check_forward) {
        for (int i = 0; i < c->writeq.size; i++) {
            if (hd_buf_at(&c->writeq, i)->addr == r->addr) { /* forwarded from a queued write */
                push_pending(c, s->clk + 1, s->clk, r->tag);
                c->stats.forwarded_reads++;
                return 1;
            }
        }
    }
    hd_buffer *b = r->type == HD_REQ_WRITE ? &c->writeq : &c->readq;
    if (b->size > b->max_size) {
        if (check_forward) r->forward_checked = c->writeq_version;
        return 0;
    }
    /* The request is copied as the caller prepared it and completed in place: writing into r
     * just before the copy would make the copy's wide loads wait for those narrow stores. */
    hd_req *q = hd_buf_at(b, b->size);
    *q = *r;
    if (q->type == HD_REQ_WRITE) c->writeq_version++;
    q->arrive = s->clk;
    q->stat_done = 0;
    q->final_cmd = q->type == HD_REQ_WRITE ? HD_CMD_WR : HD_CMD_RD;
    hd_dev_locate(s, q);
    hd_req_refresh(s, q);
    q->epoch = s->sched_epoch;
    b->size++;
    if (b->slots) hd_bidx_pushed(s, b);
    hd_scan *sc = q->type == HD_REQ_WRITE ? &c->scan_write : &c->scan_read;
    if (s->scheduler->add && sc->epoch == s->sched_epoch) {
        /* the device did not change: update this buffer's pass instead of redoing it */
        s->scheduler->add(s, b, b->size - 1, sc);
        sc->version = b->version; /* the pass includes the new request */
    } else {
        sc->epoch = 0; /* this buffer's pass must be redone to see the new request (the other
                          buffers' passes and the device are unaffected) */
    }
    return 1;
}

/* 1 if an offer of r would surely be rejected now: its queue is full and, for a read, no queued
 * write can forward it (no write queued, or this read already checked this write queue). */
int hd_ctrl_rejects(const hd_ctrl *c, const hd_req *r) {
    if (r->type == HD_REQ_WRITE) return c->writeq.size > c->writeq.max_size;
    if (c->readq.size <= c->readq.max_size) return 0;
    return c->writeq.size == 0 || r->forward_checked == c->writeq_version;
}

int hd_ctrl_priority_send(hd_system *s, hd_ctrl *c, int type, const int32_t *vec) {
    hd_req r;
    memset(&r, 0, sizeof r);
    memcpy(r.vec, vec, sizeof r.vec);
    r.type = type;
    r.tag = -1;
    r.arrive = s->clk;
    r.final_cmd = type == HD_REQ_REFRESH_ALL ? HD_CMD_REFAB
                  : type == HD_REQ_REFRESH_SAME_BANK ? HD_CMD_REFSB : HD_CMD_PRE;
    hd_dev_locate(s, &r);
    hd_req_refresh(s, &r);
    r.epoch = ++s->sched_epoch;
    return buf_push(&c->prioq, &r);
}

static void serve_completed_read(hd_system *s, hd_ctrl *c) {
    if (!c->pend_count) return;
    hd_pending *p = &c->pend[c->pend_head];
    if (p->depart > s->clk) return;
    int64_t lat = p->depart - p->arrive;
    if (lat > 1) { /* not a forwarded read */
        c->stats.read_latency_sum += lat;
        if (lat > c->stats.read_latency_max) c->stats.read_latency_max = lat;
        s->lat_hist[lat < HD_LATENCY_BUCKETS ? lat : HD_LATENCY_BUCKETS - 1]++;
    }
    c->stats.reads_served++;
    if (s->cfg.record_completions && p->tag >= 0) {
        if (s->comp_count == s->comp_cap) {
            s->comp_cap *= 2;
            s->comp_tags = realloc(s->comp_tags, (size_t)s->comp_cap * sizeof(int64_t));
            s->comp_cycles = realloc(s->comp_cycles, (size_t)s->comp_cap * sizeof(int64_t));
        }
        s->comp_tags[s->comp_count] = p->tag;
        s->comp_cycles[s->comp_count++] = p->depart;
    }
    c->pend_head = (c->pend_head + 1) & (c->pend_cap - 1);
    c->pend_count--;
}

/* Whether the write-mode hysteresis flips when evaluated with the current queue sizes.
 * Evaluating it again right after is a no-op (the two conditions exclude each other). */
static int write_mode_flips(const hd_system *s, const hd_ctrl *c) {
    (void)s;
    if (!c->write_mode) return c->writeq.size > c->wr_high_size || c->readq.size == 0;
    return c->writeq.size < c->wr_low_size && c->readq.size != 0;
}

static void set_write_mode(const hd_system *s, hd_ctrl *c) {
    if (write_mode_flips(s, c)) c->write_mode = !c->write_mode;
}

static int idx_with(hd_buffer **out_buf, hd_buffer *buf, int idx) {
    *out_buf = buf;
    return idx;
}

/* Ramulator2 Generic controller's choice of the request to serve this cycle. */
static int schedule(hd_system *s, hd_ctrl *c, hd_buffer **out_buf) {
    int64_t clk = s->clk;
    hd_buffer *buf = NULL;
    int idx = -1, found = 0;
    if (c->activeq.size) {
        idx = scan_best(s, c, &c->activeq, &c->scan_active, clk);
        if (hd_req_ready(s, hd_buf_at(&c->activeq, idx)) <= clk) {
            found = 1;
            buf = &c->activeq;
        }
    }
    if (!found) {
        if (c->prioq.size) {
            buf = &c->prioq;
            idx = 0;
            forget_caches(s);
            hd_req_validate(s, hd_buf_at(buf, 0));
            if (hd_req_ready(s, hd_buf_at(buf, 0)) > clk) return -1; /* blocks read/write queues */
            found = 1;
        } else {
            set_write_mode(s, c);
            buf = c->write_mode ? &c->writeq : &c->readq;
            if (buf->size) {
                /* -1: nothing ready (an indexed pass resolves only a ready choice) */
                idx = scan_best(s, c, buf, c->write_mode ? &c->scan_write : &c->scan_read, clk);
                found = idx >= 0 && hd_req_ready(s, hd_buf_at(buf, idx)) <= clk;
            }
        }
    }
    if (!found) return -1;
    const hd_req *r = hd_buf_at(buf, idx);
    if (is_closing(r->cmd) && c->activeq.size) { /* never close a bank the active buffer needs */
        if (r->local_bank >= 0 && r->vec[HD_LEVEL_BANKGROUP] >= 0 && r->vec[HD_LEVEL_BANK] >= 0)
            return c->active_count[r->local_bank] ? -1 : idx_with(out_buf, buf, idx);
        for (int i = 0; i < c->activeq.size; i++) {
            const int32_t *v = hd_buf_at(&c->activeq, i)->vec;
            int match = 1;
            for (int l = 0; l <= HD_LEVEL_BANK; l++) {
                if (v[l] != r->vec[l] && v[l] != -1 && r->vec[l] != -1) {
                    match = 0;
                    break;
                }
            }
            if (match) return -1;
        }
    }
    *out_buf = buf;
    return idx;
}

static void record_command(hd_system *s, int cmd, const int32_t *vec) {
    if (s->log_count == s->log_cap) {
        s->log_cap *= 2;
        s->log = realloc(s->log, (size_t)s->log_cap * sizeof(hd_command_record));
    }
    hd_command_record *rec = &s->log[s->log_count++];
    rec->cycle = s->clk;
    rec->cmd = cmd;
    rec->channel = vec[0];
    rec->rank = vec[1];
    rec->bankgroup = vec[2];
    rec->bank = vec[3];
    rec->row = vec[4];
    rec->column = vec[5];
}

static void update_request_stats(hd_system *s, hd_ctrl *c, hd_req *r) {
    r->stat_done = 1;
    if (r->type != HD_REQ_READ && r->type != HD_REQ_WRITE) return;
    int kind = hd_dev_classify(s, r->vec);
    hd_stats *st = &c->stats;
    int rd = r->type == HD_REQ_READ;
    if (kind == 0) { st->row_hits++; if (rd) st->read_row_hits++; else st->write_row_hits++; }
    else if (kind == 2) { st->row_conflicts++; if (rd) st->read_row_conflicts++; else st->write_row_conflicts++; }
    else { st->row_misses++; if (rd) st->read_row_misses++; else st->write_row_misses++; }
}

/* Whether the active buffer's pass, current before a command naming one bank (node bank_node),
 * is still current after it, when the buffer itself did not change: the pass is a function of
 * its requests' commands and ready times and of its cycle (for any scheduler), and the command
 * changed only its own bank's state and ready times and, elsewhere, ready times of the commands
 * in upper_cmds[cmd]. So it holds if no request here is in that bank or needs such a command. */
static int active_pass_holds(const hd_system *s, const hd_ctrl *c, int cmd, int64_t bank_node) {
    uint32_t cmds = 0;
    for (int i = 0; i < c->activeq.size; i++) {
        const hd_req *q = hd_buf_at(&c->activeq, i);
        if (q->bank_node < 0 || q->bank_node == bank_node) return 0;
        cmds |= 1u << q->cmd;
    }
    return !(s->upper_cmds[cmd] & cmds);
}

void hd_ctrl_tick(hd_system *s, hd_ctrl *c) {
    serve_completed_read(s, c);
    s->refresh->tick(s, c);
    hd_buffer *buf = NULL;
    int idx = schedule(s, c, &buf);
    if (idx < 0) return;
    hd_req *r = hd_buf_at(buf, idx);
    s->rowpolicy->on_schedule(s, c, r);
    if (!r->stat_done) update_request_stats(s, c, r);
    int cmd = r->cmd;
    /* a current active-buffer pass that this command leaves as it is (not from the active
     * buffer, not an ACT that moves a request into it): see active_pass_holds */
    int keep_active = c->activeq.size && buf != &c->activeq && cmd != HD_CMD_ACT &&
                      c->scan_active.epoch >= c->changed_epoch &&
                      !s->cfg.reference_scheduling && r->bank_node >= 0 &&
                      active_pass_holds(s, c, cmd, r->bank_node);
    hd_dev_issue(s, cmd, r->vec);
    if (cmd == HD_CMD_ACT || cmd == HD_CMD_PRE || cmd == HD_CMD_RDA || cmd == HD_CMD_WRA)
        hd_bidx_bank_changed(c, r->local_bank); /* the bank's state changed */
    else if (r->vec[HD_LEVEL_BANKGROUP] < 0 || r->vec[HD_LEVEL_BANK] < 0)
        hd_bidx_bank_changed(c, -1); /* rank-wide or same-bank commands: many banks */
    if (s->cross_ctrl) { /* controllers of a channel share its timing */
        for (int k = 0; k < s->n_ctrl; k++)
            if (s->ctrl[k].channel == c->channel) s->ctrl[k].changed_epoch = s->sched_epoch;
    } else {
        c->changed_epoch = s->sched_epoch;
    }
    c->stats.commands[cmd]++;
    if (s->cfg.command_log) record_command(s, cmd, r->vec);
    if (buf == &c->writeq) c->writeq_version++;
    if (cmd == r->final_cmd) {
        if (r->type == HD_REQ_READ) push_pending(c, s->clk + s->cfg.read_latency, r->arrive, r->tag);
        if (buf == &c->activeq && r->local_bank >= 0) c->active_count[r->local_bank]--;
        buf_remove(s, buf, idx);
    } else if (cmd == HD_CMD_ACT && c->activeq.size <= c->activeq.max_size) {
        /* activated requests move to the end of the active buffer (appended first, then
         * removed: one copy, and the ring has room for one more) */
        buf_push(&c->activeq, r);
        if (buf == &c->activeq && r->local_bank >= 0) c->active_count[r->local_bank]--;
        if (r->local_bank >= 0) c->active_count[r->local_bank]++;
        buf_remove(s, buf, idx);
    }
    if (keep_active) c->scan_active.epoch = c->changed_epoch;
}

int64_t hd_ctrl_next_event(hd_system *s, hd_ctrl *c) {
    int64_t clk = s->clk;
    /* Ramulator2 re-evaluates the write mode every cycle it reaches the read/write queues: a
     * pending flip (queue sizes changed by an offer) must not be skipped over */
    if (write_mode_flips(s, c)) return clk + 1;
    int64_t e = s->refresh->next_event(s, c);
    if (c->pend_count) e = hd_min64(e, c->pend[c->pend_head].depart);
    e = hd_min64(e, scan_min_ready(s, c, &c->activeq, &c->scan_active, clk));
    if (c->prioq.size) {
        forget_caches(s);
        hd_req_validate(s, hd_buf_at(&c->prioq, 0));
        e = hd_min64(e, hd_req_ready(s, hd_buf_at(&c->prioq, 0)));
    } else if (c->write_mode) { /* (no flip pending) only this mode's queue can issue */
        e = hd_min64(e, scan_min_ready(s, c, &c->writeq, &c->scan_write, clk));
    } else {
        e = hd_min64(e, scan_min_ready(s, c, &c->readq, &c->scan_read, clk));
    }
    return hd_max64(e, clk + 1);
}

int hd_ctrl_idle(const hd_ctrl *c) {
    if (c->readq.size || c->writeq.size || c->activeq.size || c->pend_count) return 0;
    for (int i = 0; i < c->prioq.size; i++)
        if (hd_buf_at(&c->prioq, i)->type == HD_REQ_CLOSE_ROW) return 0;
    return 1;
}
