/* See timeline.h. Placement rule of hermes_hw.timeline.events.Timeline.add_on: an event starts
 * at the latest of its not-before time, its lane's last end and its dependencies' ends; the
 * first of these (in that order) that is strictly later than everything before it is its
 * critical predecessor. A join is the dependency that ends last (the first on a tie; none if
 * it has no dependency). */
#include "timeline.h"

int64_t htl_run_program(int32_t n_ops, const int8_t *kind, const int32_t *lane,
                        const int32_t *ref_start, const int32_t *refs, const int32_t *nb_op,
                        const double *nb_add, const double *dur, int64_t start_id,
                        double start_start, double start_end, int64_t *lane_last,
                        double *lane_end, int64_t base_id, double *starts, double *ends,
                        int64_t *preds, int64_t *op_id, double *op_start, double *op_end,
                        int32_t result_op) {
    op_id[n_ops] = -1; /* the slot a NO_EVENT reference points at */
    op_start[n_ops] = 0.0;
    op_end[n_ops] = 0.0;
    op_id[0] = start_id;
    op_start[0] = start_start;
    op_end[0] = start_end;
    int64_t eid = base_id, e = 0;
    for (int32_t k = 1; k < n_ops; k++) {
        const int32_t *r = refs + ref_start[k], *r_end = refs + ref_start[k + 1];
        if (kind[k]) {
            int64_t best = -1;
            double best_end = -1.0, best_start = 0.0;
            for (; r < r_end; r++) {
                int64_t d = op_id[*r];
                if (d >= 0 && op_end[*r] > best_end) {
                    best = d;
                    best_end = op_end[*r];
                    best_start = op_start[*r];
                }
            }
            op_id[k] = best;
            op_end[k] = best_end;
            op_start[k] = best_start;
            continue;
        }
        double start = nb_op[k] >= 0 ? op_start[nb_op[k]] + nb_add[k] : 0.0;
        int64_t pred = -1;
        int32_t li = lane[k];
        if (lane_last[li] >= 0 && lane_end[li] > start) {
            start = lane_end[li];
            pred = lane_last[li];
        }
        for (; r < r_end; r++) {
            int64_t d = op_id[*r];
            if (d >= 0 && op_end[*r] > start) {
                start = op_end[*r];
                pred = d;
            }
        }
        double end = start + dur[e];
        starts[e] = start;
        ends[e] = end;
        preds[e] = pred;
        lane_last[li] = eid;
        lane_end[li] = end;
        op_id[k] = eid;
        op_start[k] = start;
        op_end[k] = end;
        eid++;
        e++;
    }
    return op_id[result_op];
}
