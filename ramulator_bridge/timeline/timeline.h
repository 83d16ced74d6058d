/* Timeline core: run one decode token's program (hermes_hw/timeline/program.py, run_program).
 *
 * The Python loop in run_program is the reference; this gives the same starts, ends and
 * critical predecessors (tests/timeline/test_program_core.py). */
#ifndef HERMES_TIMELINE_H
#define HERMES_TIMELINE_H

#include <stdint.h>

/* ops 1 .. n_ops-1 (op 0 is the token's start event):
 *   kind[k]: 0 event, 1 join;  lane[k]: the event's lane;
 *   refs[ref_start[k] .. ref_start[k+1]-1]: earlier op indices it depends on (in order;
 *   n_ops: no event);
 *   nb_op[k] >= 0: not before start(op nb_op[k]) + nb_add[k], else not before 0.
 * dur[e]: duration (ns) of the e-th event op.
 * start_id/start_start/start_end: the start event (id -1: none).
 * lane_last[l], lane_end[l] (in/out): each lane's last event id (-1: none) and its end.
 * Event ids continue from base_id. Out per event: starts, ends, preds (critical predecessor).
 * Scratch per op and one more: op_id, op_start, op_end (n_ops + 1 each). Returns the id of
 * op result_op. */
int64_t htl_run_program(int32_t n_ops, const int8_t *kind, const int32_t *lane,
                        const int32_t *ref_start, const int32_t *refs, const int32_t *nb_op,
                        const double *nb_add, const double *dur, int64_t start_id,
                        double start_start, double start_end, int64_t *lane_last,
                        double *lane_end, int64_t base_id, double *starts, double *ends,
                        int64_t *preds, int64_t *op_id, double *op_start, double *op_end,
                        int32_t result_op);

#endif
