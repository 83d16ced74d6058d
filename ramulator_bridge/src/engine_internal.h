/* engine_internal.h: data structures shared by the engine's units (not part of the API). */
#ifndef HERMES_ENGINE_INTERNAL_H
#define HERMES_ENGINE_INTERNAL_H
#include <stdint.h>
#include "hermes_dram.h"

#define HD_NEVER INT64_MAX
#define HD_BANK_CLOSED 0
#define HD_BANK_OPENED 1
#define HD_BANK_REFRESHING 2
#define HD_LATENCY_BUCKETS 8192

typedef struct {
    /* hot fields first (one cache line): read by every scheduler pass */
    uint64_t epoch;                          /* s->sched_epoch when cmd/ready_local were computed */
    int64_t ready_local;                     /* cached bank-level ready time of `cmd` (channel,
                                                rank and bank-group levels are read live) */
    int64_t arrive;
    const int64_t *ready_ch, *ready_rank, *ready_bg;  /* its channel/rank/bank-group rows */
    int64_t bank_node, bg_node;              /* flat node ids; -1 when the level is a wildcard */
    int32_t cmd, type;
    int32_t local_bank;                      /* bank index within its controller (< 64: used
                                                by the scheduler pass), -1 otherwise */
    /* cold fields */
    int64_t rank_node, tag;
    uint64_t addr;
    int32_t vec[6];               /* channel, rank, bankgroup, bank, row, column; -1 = all */
    int32_t final_cmd, stat_done;
    int64_t forward_checked;      /* write-queue version its forwarding check saw (-1: none) */
    int32_t pool;                 /* its bank-index entry while in an indexed buffer */
} hd_req;

/* One pass of the scheduler over a buffer at cycle `clk`, cached while nothing changes. */
typedef struct {
    uint64_t epoch;     /* s->sched_epoch when computed (0: never); valid while no later change
                           of its controller (hd_ctrl.changed_epoch) */
    int64_t clk;        /* cycle the pass was made for */
    int best;           /* the scheduler's choice at clk (ready or not), -1 if empty */
    int best_at_min;    /* the scheduler's choice at cycle min_ready */
    int64_t min_ready;  /* earliest ready time in the buffer (HD_NEVER if empty) */
    uint64_t version;   /* the buffer's `version` the pass saw (indexed buffers) */
    int min_only;       /* set by the caller: only min_ready is wanted (a scheduler may then
                           skip `best` where something is ready at clk) */
    int best_unknown;   /* set by the scan: it skipped `best` (the pass must not be reused) */
} hd_scan;

#define HD_NO_SEQ UINT64_MAX

/* An entry of a bank's list in a buffer's bank index (bank_index.c). */
typedef struct {
    uint64_t seq;                 /* arrival sequence number in the buffer (increasing) */
    int32_t row;
    int16_t next, prev;           /* the bank's list, oldest first; -1 ends it */
    int16_t pos;                  /* where its request is in the buffer's ring (items[pos]) */
} hd_bank_entry;

/* A candidate's ordering age: its sequence number (arrival order) with its entry number below
 * (so the winner of a pass is found without a search). Sequence numbers stay below 2^51. */
#define HD_ENTRY_BITS 12
static inline uint64_t hd_bidx_age(uint64_t seq, int entry) {
    return seq << HD_ENTRY_BITS | (uint64_t)entry;
}

/* One bank's view of an indexed buffer. A bank's requests that need the same command share one
 * ready time, so only the oldest of each such class can be chosen by FR-FCFS (and only it can
 * set the earliest ready time). With a row open there are two classes (row hits: the final
 * command; others: PRE), with none one (ACT): at most two candidates a bank.
 * Invariant: unless the bank's bit is set in the buffer's `dirty` mask, seq/cmd are the
 * candidates of the bank's current requests and state (pushes and removals keep them current;
 * a change of the bank's state sets the bit). */
typedef struct {
    uint64_t age[2];              /* [0]: oldest row hit, [1]: oldest other (hd_bidx_age);
                                     HD_NO_SEQ: none */
    int32_t cmd[2];               /* the command each candidate needs now */
    int16_t head, tail;           /* the bank's requests in arrival order (pool entries) */
    int64_t node;                 /* flat bank id (bank_state, open_row) */
    const int64_t *rd_bank, *rd_bg, *rd_rank, *rd_ch;  /* its ready-time rows, [cmd] */
} hd_bank_slot;

/* A request buffer: a ring (removing the oldest is O(1)); logical index 0 is the oldest entry,
 * entries in arrival order, unless `unordered` (see buf_remove). */
typedef struct {
    hd_req *items;
    int head, size, mask;         /* ring: entry i is items[(head + i) & mask] */
    int max_size;                 /* accepts while size <= max_size (Ramulator2 ReqBuffer) */
    int unordered;                /* an indexed buffer whose scheduler orders requests by their
                                     bank-index age (hd_scheduler_impl.index_order): a removal
                                     moves the youngest entry into the hole */
    /* bank index (read/write queues of a controller with at most 64 banks; else slots NULL) */
    hd_bank_slot *slots;          /* per local bank */
    hd_bank_entry *pool;          /* list entries; an entry's request holds its number */
    uint64_t nonempty;            /* bit b: local bank b has requests here */
    uint64_t dirty;               /* bit b: local bank b's candidates must be found again */
    uint64_t next_seq;
    uint64_t version;             /* bumped when requests come or go or a bank changes state:
                                     between equal versions only ready times moved (up) */
    int free_head;                /* free pool entries, linked by next */
    int32_t final_cmd;            /* the final command of every request here (RD or WR) */
} hd_buffer;

static inline hd_req *hd_buf_at(const hd_buffer *b, int i) { return &b->items[(b->head + i) & b->mask]; }

typedef struct {
    int64_t depart, arrive, tag;
} hd_pending;

typedef struct hd_ctrl {
    int id, channel, rank_first, rank_count;
    hd_buffer readq, writeq, activeq, prioq;
    hd_pending *pend;
    int64_t pend_head, pend_count, pend_cap;
    int write_mode;
    int wr_high_size, wr_low_size;  /* write queue sizes of the watermarks: write mode starts
                                       above the high one, ends below the low one */
    int16_t active_count[64];       /* requests of each local bank in the active buffer */
    uint64_t changed_epoch;         /* s->sched_epoch of the last change that concerns it */
    int64_t next_evt;               /* its next event cycle, from the last next_event() */
    int64_t writeq_version;         /* bumped whenever the write queue changes */
    hd_stats stats;                 /* this controller's statistics (totals: their sum) */
    hd_scan scan_active, scan_read, scan_write;
    int64_t next_refresh;
} hd_ctrl;

typedef struct {
    int next, latency, window;
} hd_con;

/* One target constraint of a command in its timing program (all levels, in level order). */
typedef struct {
    int32_t level, next, window, latency;
} hd_op;

typedef struct {
    int64_t cycle;
    int32_t cmd, channel, rank, bank;   /* bank: for same-bank refresh, else -1 */
} hd_future;

typedef struct hd_system hd_system;

/* Pluggable units (one small file each; see registry.c). */
typedef struct {
    const char *name;
    /* one pass over buf at cycle clk: fills best, best_at_min and min_ready (see hd_scan);
     * must bring every request up to date with hd_req_validate first */
    void (*scan)(hd_system *sys, hd_buffer *buf, int64_t clk, hd_scan *out);
    /* optional: update a valid pass after request `idx` was appended (else the pass is redone) */
    void (*add)(hd_system *sys, hd_buffer *buf, int idx, hd_scan *sc);
    /* optional: whether an outdated pass still gives the choice at clk (made current if so) */
    int (*still_valid)(hd_system *sys, hd_buffer *buf, int64_t clk, hd_scan *sc);
    /* 1: passes over an indexed buffer order requests by bank-index age (arrival), never by
     * their position in the buffer, so the buffer may keep them in any order */
    int index_order;
} hd_scheduler_impl;

typedef struct {
    const char *name;
    void (*on_schedule)(hd_system *sys, hd_ctrl *c, const hd_req *req);
} hd_rowpolicy_impl;

typedef struct {
    const char *name;
    void (*init)(hd_system *sys, hd_ctrl *c);  /* sets c->next_refresh */
    void (*tick)(hd_system *sys, hd_ctrl *c);
    int64_t (*next_event)(const hd_system *sys, const hd_ctrl *c);
} hd_refresh_impl;

typedef struct {
    const char *name;
    void (*map)(const hd_system *sys, uint64_t tx_index, int32_t *vec);
} hd_mapper_impl;

struct hd_system {
    hd_config cfg;
    int64_t clk;
    int owe_tick;
    /* device tree: node counts and per-level arrays */
    int64_t level_nodes[HD_NUM_LEVELS];
    int64_t *ready[HD_NUM_LEVELS];        /* [node * HD_MAX_CMDS + cmd] */
    int64_t *history[HD_NUM_LEVELS];      /* [(node * HD_MAX_CMDS + cmd) * HD_MAX_WINDOW + k] */
    int hist_len[HD_NUM_LEVELS][HD_MAX_CMDS];
    hd_con *tcons[HD_NUM_LEVELS][HD_MAX_CMDS];
    int n_tcons[HD_NUM_LEVELS][HD_MAX_CMDS];
    hd_con *scons[HD_NUM_LEVELS][HD_MAX_CMDS];
    int n_scons[HD_NUM_LEVELS][HD_MAX_CMDS];
    int below[HD_NUM_LEVELS][HD_MAX_CMDS];  /* any constraint for cmd at this level or deeper */
    hd_op *program[HD_MAX_CMDS];             /* target constraints of each command, flattened */
    int n_program[HD_MAX_CMDS];
    int program_end[HD_MAX_CMDS][HD_NUM_LEVELS]; /* end of each level's ops in the program */
    int history_levels[HD_MAX_CMDS];         /* bit L: level L keeps an issue history for cmd */
    int sibling_levels[HD_MAX_CMDS];         /* bit L: cmd has sibling constraints at level L */
    int cross_ctrl;                          /* controllers share timing (host mode) */
    uint32_t upper_cmds[HD_MAX_CMDS];        /* bit n: cmd issued at one bank can move ready
                                                times of n other than that bank's (a target
                                                constraint above bank level; all bits if cmd
                                                has sibling constraints) */
    uint64_t sched_epoch;       /* bumped by every change of bank state, timing or buffer content */
    int next_evt_valid;         /* ctrl->next_evt are current (nothing changed since) */
    uint64_t full_epoch;        /* requests computed before this epoch are all stale */
    uint64_t *bank_epoch;       /* per bank: epoch of its last state change */
    uint64_t *bank_cmd_epoch;   /* per bank and command: epoch of its last timing change */
    int64_t neutral_row[HD_MAX_CMDS];  /* all -1: the bank-group row of wildcard requests */
    int8_t *bank_state;
    int32_t *open_row;
    int64_t *col_accesses;                   /* closed-row policy counters per bank */
    hd_future *future;
    int n_future, cap_future;
    /* controllers */
    int n_ctrl;
    hd_ctrl *ctrl;
    /* units */
    const hd_scheduler_impl *scheduler;  /* see hd_req_ready() for a request's ready time */
    const hd_rowpolicy_impl *rowpolicy;
    const hd_refresh_impl *refresh;
    const hd_mapper_impl *mapper;
    int addr_bits[6];
    uint64_t capacity_tx;
    /* stats */
    hd_stats snapshot;
    int has_snapshot;
    int64_t *lat_hist;
    /* logs */
    hd_command_record *log;
    int64_t log_count, log_cap;
    int64_t *comp_tags, *comp_cycles;
    int64_t comp_count, comp_cap;
};

/* dram_device.c */
int64_t hd_dev_ready_time(const hd_system *s, int cmd, const int32_t *vec);
void hd_dev_locate(const hd_system *s, hd_req *r);
int64_t hd_dev_req_ready(const hd_system *s, const hd_req *r);
int hd_dev_preq(const hd_system *s, int final_cmd, const int32_t *vec);
void hd_dev_issue(hd_system *s, int cmd, const int32_t *vec);
void hd_dev_tick(hd_system *s);
int hd_dev_classify(const hd_system *s, const int32_t *vec); /* 0 hit, 1 miss, 2 conflict */
int64_t hd_bank_index(const hd_system *s, int ch, int rank, int bg, int bank);

/* controller.c */
void hd_req_refresh(hd_system *s, hd_req *r);
int hd_ctrl_enqueue(hd_system *s, hd_ctrl *c, hd_req *r);
int hd_ctrl_rejects(const hd_ctrl *c, const hd_req *r);
int hd_ctrl_priority_send(hd_system *s, hd_ctrl *c, int type, const int32_t *vec);
void hd_ctrl_tick(hd_system *s, hd_ctrl *c);
int64_t hd_ctrl_next_event(hd_system *s, hd_ctrl *c);
int hd_ctrl_idle(const hd_ctrl *c);

/* bank_index.c */
int hd_bidx_init(const hd_system *s, const hd_ctrl *c, hd_buffer *b, int final_cmd);
void hd_bidx_free(hd_buffer *b);
void hd_bidx_pushed(hd_system *s, hd_buffer *b);
void hd_bidx_removing(hd_system *s, hd_buffer *b, int idx);
void hd_bidx_refresh_dirty(hd_system *s, hd_buffer *b);
void hd_bidx_bank_changed(hd_ctrl *c, int local_bank); /* -1: all of the controller's banks */

/* Logical buffer index of the request of a candidate with this age. */
static inline int hd_bidx_index_of(const hd_buffer *b, uint64_t age) {
    int entry = (int)(age & ((1u << HD_ENTRY_BITS) - 1));
    return (b->pool[entry].pos - b->head) & b->mask;
}

/* registry.c */
const hd_scheduler_impl *hd_scheduler_impl_get(int id);
const hd_rowpolicy_impl *hd_row_policy_impl_get(int id);
const hd_refresh_impl *hd_refresh_impl_get(int id);
const hd_mapper_impl *hd_mapper_impl_get(int id);

static inline int64_t hd_max64(int64_t a, int64_t b) { return a > b ? a : b; }
static inline int64_t hd_min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* Bring the request's cached command and bankgroup/bank ready time up to date. */
static inline void hd_req_validate(hd_system *s, hd_req *r) {
    if (r->epoch == s->sched_epoch) return;
    if (r->epoch < s->full_epoch || r->bank_node < 0 || s->bank_epoch[r->bank_node] > r->epoch) {
        hd_req_refresh(s, r);
    } else if (s->bank_cmd_epoch[r->bank_node * HD_MAX_CMDS + r->cmd] > r->epoch) {
        r->ready_local = hd_dev_req_ready(s, r);
    }
    r->epoch = s->sched_epoch;
}

/* Earliest cycle the request's current command may issue: its cached bankgroup/bank part and
 * the live channel and rank ready times. */
static inline int64_t hd_req_ready(const hd_system *s, const hd_req *r) {
    (void)s;
    int cmd = r->cmd;
    int64_t t = hd_max64(r->ready_local, r->ready_ch[cmd]);
    return hd_max64(t, hd_max64(r->ready_rank[cmd], r->ready_bg[cmd]));
}

#endif
