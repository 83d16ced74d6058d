"""Latency breakdown (the paper's FC / attention / predictor / prefill / communication / others)
computed only from timeline events.

* :func:`critical_path_breakdown`: the end-to-end time split by category. It sums the durations
  of the events on the critical path (:meth:`Timeline.critical_path`), which touch end to start,
  so the categories add up to the makespan exactly. Overlapped work (a PCIe promotion hidden
  under the output projection) is not on the path and costs nothing here, as in the paper.
* :func:`busy_breakdown`: per lane group (gpu, dimm, pcie, ...), the sum of *all* events'
  durations by category: where each device spends its time, overlapped or not.
"""

from __future__ import annotations

import numpy as np

from hermes_hw.timeline.events import CATEGORIES, Event, Timeline


def sum_by_category(events: list[Event]) -> dict[str, float]:
    """{category: sum of durations in ns} over ``events`` (every category present, maybe 0)."""
    out = dict.fromkeys(CATEGORIES, 0.0)
    for e in events:
        out[e.category] += e.end_ns - e.start_ns
    return out


def _sum_ids(timeline: Timeline, ids) -> dict[str, float]:
    ids = np.asarray(ids, dtype=np.int64)
    dur = np.asarray(timeline.ends)[ids] - np.asarray(timeline.starts)[ids]
    cat = np.asarray(timeline.cat_idx, dtype=np.int64)[ids]
    sums = np.bincount(cat, weights=dur, minlength=len(CATEGORIES))
    return {c: float(sums[i]) for i, c in enumerate(CATEGORIES)}


def critical_path_breakdown(timeline: Timeline) -> dict[str, float]:
    """ns per category along the critical path; the values sum to the makespan."""
    return _sum_ids(timeline, timeline.critical_path_ids())


def lane_group(lane: str) -> str:
    """``dimm3`` -> ``dimm``, ``pcie.h2d`` -> ``pcie``, ``dimmlink.0->1`` -> ``dimmlink``."""
    head = lane.split(".")[0]
    return head.rstrip("0123456789") or head


def busy_breakdown(timeline: Timeline) -> dict[str, dict[str, float]]:
    """{lane group: {category: busy ns summed over every event of the group's lanes}}."""
    group_of_lane = [lane_group(lane) for lane in timeline.lane_order]
    names = sorted(set(group_of_lane))
    gidx = np.array([names.index(g) for g in group_of_lane], dtype=np.int64)
    lanes = np.asarray(timeline.lane_idx, dtype=np.int64)
    if not len(lanes):
        return {}
    ev_group = gidx[lanes]
    dur = np.asarray(timeline.ends) - np.asarray(timeline.starts)
    cat = np.asarray(timeline.cat_idx, dtype=np.int64)
    k = len(CATEGORIES)
    sums = np.bincount(ev_group * k + cat, weights=dur, minlength=len(names) * k)
    return {g: {c: float(sums[gi * k + ci]) for ci, c in enumerate(CATEGORIES)}
            for gi, g in enumerate(names)}


def format_breakdown(breakdown_ns: dict[str, float], total_ns: float | None = None) -> str:
    """A small text table: category, seconds, share of the total."""
    total = total_ns if total_ns is not None else sum(breakdown_ns.values())
    lines = [f"  {'category':<14} {'seconds':>10} {'share':>7}"]
    for cat in CATEGORIES:
        v = breakdown_ns.get(cat, 0.0)
        share = v / total * 100 if total else 0.0
        lines.append(f"  {cat:<14} {v / 1e9:>10.4f} {share:>6.1f}%")
    lines.append(f"  {'total':<14} {total / 1e9:>10.4f} {100.0 if total else 0.0:>6.1f}%")
    return "\n".join(lines)
