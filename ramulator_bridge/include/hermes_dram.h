/* hermes_dram.h: public C API of the built-in cycle-level DRAM engine.
 *
 * Python (hermes_hw/dram/) resolves a YAML config (standard tables, presets, overrides) into an
 * hd_config and creates a system from it. All times are memory (DRAM command clock) cycles.
 * Commands have fixed ids (HD_CMD_*); a standard lists which of them it has and the timing
 * constraints between them (the constraint table is data coming from configs/dram/standards/).
 */
#ifndef HERMES_DRAM_H
#define HERMES_DRAM_H
#include <stdint.h>

#define HD_NUM_LEVELS 4   /* channel, rank, bankgroup, bank (row/column are addresses) */
#define HD_MAX_CMDS 10
#define HD_MAX_CONSTRAINTS 512
#define HD_MAX_WINDOW 8

/* Command ids. */
#define HD_CMD_ACT 0
#define HD_CMD_PRE 1
#define HD_CMD_PREA 2
#define HD_CMD_PRESB 3
#define HD_CMD_RD 4
#define HD_CMD_WR 5
#define HD_CMD_RDA 6
#define HD_CMD_WRA 7
#define HD_CMD_REFAB 8
#define HD_CMD_REFSB 9

/* Levels. */
#define HD_LEVEL_CHANNEL 0
#define HD_LEVEL_RANK 1
#define HD_LEVEL_BANKGROUP 2
#define HD_LEVEL_BANK 3

/* Request types. */
#define HD_REQ_READ 0
#define HD_REQ_WRITE 1
#define HD_REQ_REFRESH_ALL 2
#define HD_REQ_CLOSE_ROW 3
#define HD_REQ_REFRESH_SAME_BANK 4

typedef struct {
    /* organisation (counts per level; columns = transactions per row) */
    int32_t channels, ranks, bankgroups, banks;
    int64_t rows, columns;
    int32_t tx_offset_bits;          /* log2(bytes per transaction) */
    /* commands */
    int32_t cmd_present[HD_MAX_CMDS];       /* 1 if the standard has the command */
    int32_t cmd_busy_cycles[HD_MAX_CMDS];   /* refresh: cycles until its banks leave Refreshing */
    /* timing constraints: from prev command to next command at a level */
    int32_t num_constraints;
    int32_t con_level[HD_MAX_CONSTRAINTS];
    int32_t con_prev[HD_MAX_CONSTRAINTS];
    int32_t con_next[HD_MAX_CONSTRAINTS];
    int32_t con_latency[HD_MAX_CONSTRAINTS];
    int32_t con_window[HD_MAX_CONSTRAINTS];
    int32_t con_sibling[HD_MAX_CONSTRAINTS];
    int32_t nREFI;                   /* refresh interval, cycles */
    int32_t read_latency;            /* RD issue to data return (nCL + nBL), cycles */
    /* controller */
    int32_t ndp_mode;                /* 1: one controller and data path per rank (NDP buffer chip) */
    int32_t read_buffer_max, write_buffer_max, active_buffer_max, priority_buffer_max;
    double wr_low_watermark, wr_high_watermark;
    int32_t scheduler, row_policy, row_policy_cap, refresh, mapper;  /* registry ids */
    int32_t memory_clock_ratio;      /* memory cycles per frontend tick in replay */
    int32_t command_log;             /* 1: record every issued command */
    int32_t record_completions;      /* 1: record (tag, cycle) of every served read */
    int32_t reference_scheduling;    /* 1: recompute every scheduler pass from scratch (no caches,
                                        no bank index): the slow reference for tests */
} hd_config;

typedef struct {
    int64_t cycle;
    int32_t channel, rank, bankgroup, bank, row, column;
    int32_t cmd;
} hd_command_record;

typedef struct {
    int64_t cycles;            /* memory cycles simulated */
    int64_t reads, writes;     /* accepted requests */
    int64_t row_hits, row_misses, row_conflicts;
    int64_t read_row_hits, read_row_misses, read_row_conflicts;
    int64_t write_row_hits, write_row_misses, write_row_conflicts;
    int64_t reads_served, forwarded_reads;
    int64_t read_latency_sum;  /* sum of (data return - arrival) over served reads, cycles */
    int64_t read_latency_max;
    int64_t commands[HD_MAX_CMDS];
    int64_t read_queue_occupancy_sum, write_queue_occupancy_sum;  /* per-cycle sums */
    int64_t refresh_requests;
    int64_t close_requests;
} hd_stats;

typedef struct hd_system hd_system;

const char *hd_version(void);

/* Registries: name lookup for the pluggable units; -1 if unknown. */
int hd_scheduler_id(const char *name);
int hd_row_policy_id(const char *name);
int hd_refresh_id(const char *name);
int hd_mapper_id(const char *name);
const char *hd_scheduler_name(int id);
const char *hd_row_policy_name(int id);
const char *hd_refresh_name(int id);
const char *hd_mapper_name(int id);

/* Lifecycle. Returns NULL and writes a message into err on a bad config. */
hd_system *hd_create(const hd_config *cfg, char *err, int err_len);
void hd_destroy(hd_system *sys);

/* Offer one request at the current cycle; returns 1 if accepted. tag < 0: no completion record. */
int hd_send(hd_system *sys, uint64_t addr, int is_write, int64_t tag);
/* Advance n memory cycles (idle cycles are skipped cheaply). */
void hd_tick(hd_system *sys, int64_t n);
int64_t hd_cycle(const hd_system *sys);
/* Advance one memory cycle at a time (as hd_tick(sys, 1)), at least once, until at least `count`
 * read completions wait to be taken or `max_cycles` have passed; returns the cycles advanced. */
int64_t hd_tick_until_completions(hd_system *sys, int64_t count, int64_t max_cycles);
/* Replay n requests with Ramulator2 LoadStoreTrace semantics (one offer per frontend tick, before
 * the memory tick; retried while rejected). arrival may be NULL; otherwise request i is not
 * offered before memory cycle arrival[i]. tags may be NULL (then tag = base_tag + i).
 * Returns the number accepted (n unless a request is beyond capacity: then -(index+1)). */
int64_t hd_run_trace(hd_system *sys, const uint64_t *addr, const uint8_t *is_write,
                     const int64_t *arrival, int64_t n, int64_t base_tag);
/* hd_run_trace that also writes each request's acceptance cycle (its issue time into the
 * memory system) to accepted[i]. */
int64_t hd_run_trace_record(hd_system *sys, const uint64_t *addr, const uint8_t *is_write,
                            const int64_t *arrival, int64_t n, int64_t base_tag,
                            int64_t *accepted);
/* The same with address vectors (n x 6: channel, rank, bankgroup, bank, row, column as a
 * transaction index in the row) instead of byte addresses: the address mapper is bypassed.
 * Returns -(index+1) for a vector outside the organisation. */
int64_t hd_run_trace_vectors(hd_system *sys, const int32_t *vec6, const uint8_t *is_write,
                             const int64_t *arrival, int64_t n, int64_t base_tag);
/* Run until all accepted requests are served; returns the cycle count then. */
int64_t hd_drain(hd_system *sys);
/* 1 if nothing is queued or in flight. */
int hd_idle(const hd_system *sys);

/* Statistics: totals so far, and the snapshot taken when hd_mark_snapshot was called. */
void hd_get_stats(const hd_system *sys, hd_stats *out);
void hd_mark_snapshot(hd_system *sys);
int hd_get_snapshot(const hd_system *sys, hd_stats *out);
/* Per controller (one per channel; one per rank in NDP mode): its statistics, its channel and
 * its rank (-1 when it serves every rank of the channel). Returns 0 for a bad index. */
int hd_controller_count(const hd_system *sys);
int hd_get_controller_stats(const hd_system *sys, int k, hd_stats *out, int32_t *channel,
                            int32_t *rank);
/* Read latency histogram: counts for latency 0..n-1 cycles (last bucket = overflow). */
int64_t hd_latency_histogram(const hd_system *sys, int64_t *out, int64_t n);

/* Address decoding (for tests and tools): writes channel, rank, bankgroup, bank, row, column. */
void hd_decode(const hd_system *sys, uint64_t addr, int64_t *out6);
uint64_t hd_capacity_bytes(const hd_system *sys);

/* Command log and completions: copy out and clear; return the number copied. */
int64_t hd_command_count(const hd_system *sys);
int64_t hd_take_commands(hd_system *sys, hd_command_record *out, int64_t max);
int64_t hd_completion_count(const hd_system *sys);
int64_t hd_take_completions(hd_system *sys, int64_t *tags, int64_t *cycles, int64_t max);

#endif
