/* shim.h: the C API of hermes-hw's bridge to a user's Ramulator 2.0 build (tag v2.0a).
 *
 * shim.cpp implements it in C++ against Ramulator's headers; cffi compiles it on first use
 * against $RAMULATOR2_ROOT (see ramulator_bridge/ramulator2/build.py). Plain C declarations only:
 * the lines that are not preprocessor lines are also cffi's cdef.
 *
 * Time is counted in memory cycles (Ramulator's memory_system_cycles). Replay follows
 * Ramulator2's LoadStoreTrace feeding: in each step the frontend offers the current request
 * first, then the memory system ticks; a rejected request is offered again at the next frontend
 * tick; frontend/memory clock ratios as in Ramulator's main loop.
 */
#ifndef HERMES_RAMULATOR2_SHIM_H
#define HERMES_RAMULATOR2_SHIM_H
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif

#define HR2_MAX_COMMANDS 64

typedef struct hr2_sim hr2_sim;

/* Counters kept by the shim itself (its completion callbacks and its probe controller plugin). */
typedef struct {
    int64_t cycles;              /* memory cycles simulated */
    int64_t last_accept_cycle;   /* memory cycles simulated when the last request was accepted */
    int64_t reads, writes;       /* accepted requests */
    int64_t reads_served;        /* reads whose completion callback fired */
    int64_t forwarded_reads;     /* served from the write queue (no DRAM access) */
    int64_t read_latency_sum;    /* sum of (data return - arrival) over served non-forwarded reads */
    int64_t read_latency_max;
    int64_t writes_served;       /* writes whose WR command issued */
    int64_t num_commands;        /* entries used in commands[] */
    int64_t commands[HR2_MAX_COMMANDS];  /* issued commands by the standard's command id */
} hr2_counters;

/* One issued command (same layout as the built-in engine's hd_command_record); cmd is the
 * standard's command id (hr2_command_name), address fields are -1 where the command has none. */
typedef struct {
    int64_t cycle;
    int32_t channel, rank, bankgroup, bank, row, column;
    int32_t cmd;
} hr2_command_record;

const char *hr2_shim_version(void);

/* Create a memory system from a Ramulator2 YAML config (text). The config's Frontend block is
 * ignored; frontend_clock_ratio is the frontend clock ratio used by hr2_run_trace. Returns NULL
 * and writes a message into err on failure. */
hr2_sim *hr2_create(const char *yaml_config, int frontend_clock_ratio, char *err, int err_len);
/* Finalize Ramulator's components (its plugins write their output files then) and free. */
void hr2_destroy(hr2_sim *sim);

int hr2_memory_clock_ratio(const hr2_sim *sim);
uint64_t hr2_capacity_bytes(const hr2_sim *sim);
double hr2_tck_ns(const hr2_sim *sim);
/* Name of command id i of the standard ("" if out of range). */
const char *hr2_command_name(const hr2_sim *sim, int i);
int hr2_num_commands(const hr2_sim *sim);

/* Offer one 64 B request now; 1 if accepted, 0 if rejected, -1 with a message in err if Ramulator
 * threw. tag >= 0: record (tag, cycle) when the read is served. */
int hr2_send(hr2_sim *sim, uint64_t addr, int is_write, int64_t tag, char *err, int err_len);
/* Advance n memory cycles (frontend ticks in between offer nothing); 0, or -1 and err. */
int hr2_tick(hr2_sim *sim, int64_t n, char *err, int err_len);
int64_t hr2_cycle(const hr2_sim *sim);
/* Replay n requests with LoadStoreTrace semantics; stops right after the last is accepted
 * (before that step's memory cycle; the next call or tick continues the same step). arrival may
 * be NULL; else request i is not offered before memory cycle arrival[i]. record != 0: request i
 * gets tag base_tag + i for hr2_take_completions. Returns n, or -1 with a message in err (Ramulator threw). */
int64_t hr2_run_trace(hr2_sim *sim, const uint64_t *addr, const uint8_t *is_write,
                      const int64_t *arrival, int64_t n, int64_t base_tag, int record,
                      char *err, int err_len);
/* Tick until every accepted request is served (reads: data returned; writes: WR issued), at most
 * max_cycles more. Returns
 * the cycle count then, or -1 with a message in err (max_cycles passed, or Ramulator threw). */
int64_t hr2_drain(hr2_sim *sim, int64_t max_cycles, char *err, int err_len);
int64_t hr2_outstanding(const hr2_sim *sim);

/* Command log: on != 0 records every issued command from now on; take copies out and clears. */
void hr2_set_command_log(hr2_sim *sim, int on);
int64_t hr2_command_count(const hr2_sim *sim);
int64_t hr2_take_commands(hr2_sim *sim, hr2_command_record *out, int64_t max);

/* Completions of tagged reads: copy out and clear; return the number copied. */
int64_t hr2_completion_count(const hr2_sim *sim);
int64_t hr2_take_completions(hr2_sim *sim, int64_t *tags, int64_t *cycles, int64_t max);

/* Statistics. hr2_mark_snapshot saves the counters and Ramulator's statistics as they are now
 * (0, or -1 and err). which = 0: now; which = 1: the last snapshot (returns 0 if none). */
int hr2_mark_snapshot(hr2_sim *sim, char *err, int err_len);
int hr2_get_counters(const hr2_sim *sim, int which, hr2_counters *out);
/* Ramulator's own statistics (its print_stats YAML, without the finalize-time averages) into buf;
 * returns the full length (call again with a larger buffer if it is >= buflen), -1 if none. */
int64_t hr2_stats_yaml(hr2_sim *sim, int which, char *buf, int64_t buflen);

#ifdef __cplusplus
}
#endif
#endif
