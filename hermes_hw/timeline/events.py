"""The merged timeline: events on lanes with dependencies, placed as early as they can start.

An event occupies one *lane* (``gpu``, ``dimm3``, ``pcie.h2d``, ``dimmlink.2->3``, ``host``, ...)
from ``start_ns`` to ``end_ns``. :meth:`Timeline.add` places it at the earliest time at which its
lane is free and every event it depends on has ended (and not before ``not_before_ns``), and
records *which* of those set the start (the critical predecessor). Walking critical predecessors
back from the last event gives a gap-free chain whose durations add up to the makespan exactly:
the critical path (:meth:`Timeline.critical_path`), which the breakdown sums.

Every event carries a category (:data:`CATEGORIES`, the paper's latency breakdown), a phase
(``prefill`` or ``decode``), the decode token and layer it belongs to (-1 where none), and free
``args`` (bytes moved, neurons, FLOPs) that the trace export keeps.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

Category = Literal["fc", "attention", "predictor", "prefill", "communication", "others"]
CATEGORIES: tuple[Category, ...] = (
    "fc", "attention", "predictor", "prefill", "communication", "others",
)
Phase = Literal["prefill", "decode"]

NO_EVENT = -1


@dataclass(frozen=True, slots=True)
class Event:
    """One busy interval on one lane (times in ns)."""

    id: int
    lane: str
    name: str
    category: Category
    start_ns: float
    end_ns: float
    phase: Phase
    token: int
    layer: int
    critical_pred: int
    """Id of the event whose end set this start (lane predecessor or dependency), or -1."""
    args: dict | None = None

    @property
    def duration_ns(self) -> float:
        return self.end_ns - self.start_ns


class Timeline:
    """Events in creation order (stored column-wise: a 70B run has ~10^6 of them), the lanes
    they use, and each lane's last event. :attr:`events` materialises :class:`Event` objects."""

    def __init__(self) -> None:
        self.lane_order: list[str] = []
        self._lane_ids: dict[str, int] = {}
        self._lane_last: list[int] = []
        self.lane_idx: list[int] = []
        self.names: list[str] = []
        self.cat_idx: list[int] = []
        self.starts: list[float] = []
        self.ends: list[float] = []
        self.phases: list[str] = []
        self.tokens: list[int] = []
        self.layers: list[int] = []
        self.preds: list[int] = []
        self.args: list[dict | None] = []
        self._events: list[Event] = []

    def __len__(self) -> int:
        return len(self.ends)

    def lane_free_ns(self, lane: str) -> float:
        li = self._lane_ids.get(lane)
        last = self._lane_last[li] if li is not None else NO_EVENT
        return self.ends[last] if last >= 0 else 0.0

    def end_of(self, event_id: int) -> float:
        return self.ends[event_id] if event_id >= 0 else 0.0

    def start_of(self, event_id: int) -> float:
        return self.starts[event_id] if event_id >= 0 else 0.0

    def add(
        self,
        lane: str,
        duration_ns: float,
        *,
        name: str,
        category: Category,
        deps: Iterable[int] = (),
        not_before_ns: float = 0.0,
        phase: Phase = "decode",
        token: int = -1,
        layer: int = -1,
        args: dict | None = None,
    ) -> int:
        """Place an event of ``duration_ns`` on ``lane`` after ``deps``; returns its id."""
        ci = _CAT_INDEX.get(category)
        if ci is None:
            raise ValueError(f"unknown category {category!r}; valid: {', '.join(CATEGORIES)}")
        return self.add_on(self.lane_id(lane), duration_ns, name, ci, deps, not_before_ns,
                           phase, token, layer, args)

    def lane_id(self, lane: str) -> int:
        """Index of ``lane`` in :attr:`lane_order` (the lane is created on first use)."""
        li = self._lane_ids.get(lane)
        if li is None:
            li = self._lane_ids[lane] = len(self.lane_order)
            self.lane_order.append(lane)
            self._lane_last.append(NO_EVENT)
        return li

    def add_on(self, li: int, duration_ns: float, name: str, ci: int, deps: Iterable[int] = (),
               not_before_ns: float = 0.0, phase: Phase = "decode", token: int = -1,
               layer: int = -1, args: dict | None = None) -> int:
        """:meth:`add` with the lane and category already resolved (``li`` from
        :meth:`lane_id`, ``ci`` from :func:`category_index`): the hot path of the builders.
        ``args`` may be shared between events; nobody mutates it."""
        if duration_ns < 0:
            lane = self.lane_order[li]
            raise ValueError(f"event {name!r} on {lane!r}: negative duration {duration_ns}")
        ends = self.ends
        start, pred = not_before_ns, NO_EVENT
        last = self._lane_last[li]
        if last >= 0 and ends[last] > start:
            start, pred = ends[last], last
        for d in deps:
            if d >= 0 and ends[d] > start:
                start, pred = ends[d], d
        eid = len(ends)
        self.lane_idx.append(li)
        self.names.append(name)
        self.cat_idx.append(ci)
        self.starts.append(start)
        ends.append(start + duration_ns)
        self.phases.append(phase)
        self.tokens.append(token)
        self.layers.append(layer)
        self.preds.append(pred)
        self.args.append(args)
        self._lane_last[li] = eid
        return eid

    def add_group(self, lanes: Sequence[int], durations_ns: Sequence[float], name: str, ci: int,
                  deps: Sequence[Sequence[int]], token: int, layer: int,
                  args: Sequence[dict | None]) -> list[int]:
        """One decode event per lane (``lanes[j]`` after ``deps[j]``, ``durations_ns[j]``,
        ``args[j]``): the same as calling :meth:`add_on` for each ``j`` in order."""
        if min(durations_ns, default=0.0) < 0:
            j = min(range(len(durations_ns)), key=durations_ns.__getitem__)
            lane = self.lane_order[lanes[j]]
            raise ValueError(f"event {name!r} on {lane!r}: negative duration {durations_ns[j]}")
        ends, lane_last, out = self.ends, self._lane_last, []
        eid = len(ends)
        for li, dur, dl in zip(lanes, durations_ns, deps, strict=True):
            start, pred = 0.0, NO_EVENT
            last = lane_last[li]
            if last >= 0 and ends[last] > start:
                start, pred = ends[last], last
            for d in dl:
                if d >= 0 and ends[d] > start:
                    start, pred = ends[d], d
            ends.append(start + dur)
            self.starts.append(start)
            self.preds.append(pred)
            lane_last[li] = eid
            out.append(eid)
            eid += 1
        n = len(out)
        self.lane_idx.extend(lanes)
        self.names.extend([name] * n)
        self.cat_idx.extend([ci] * n)
        self.phases.extend(["decode"] * n)
        self.tokens.extend([token] * n)
        self.layers.extend([layer] * n)
        self.args.extend(args)
        return out

    def join(self, deps: Sequence[int]) -> int:
        """The dependency among ``deps`` that ends last (NO_EVENT if none): a zero-cost join."""
        best, best_end = NO_EVENT, -1.0
        ends = self.ends
        for d in deps:
            if d >= 0 and ends[d] > best_end:
                best, best_end = d, ends[d]
        return best

    def event(self, eid: int) -> Event:
        return Event(eid, self.lane_order[self.lane_idx[eid]], self.names[eid],
                     CATEGORIES[self.cat_idx[eid]], self.starts[eid], self.ends[eid],
                     self.phases[eid], self.tokens[eid], self.layers[eid], self.preds[eid],
                     self.args[eid])

    @property
    def events(self) -> list[Event]:
        """Every event as an :class:`Event` (built on first use after an add)."""
        if len(self._events) != len(self.ends):
            self._events = [self.event(i) for i in range(len(self.ends))]
        return self._events

    # --- queries ---------------------------------------------------------------------------
    @property
    def makespan_ns(self) -> float:
        return max(self.ends, default=0.0)

    def last_event(self) -> int:
        """Id of the event that ends last (the earliest-created on a tie)."""
        if not self.ends:
            return NO_EVENT
        return max(range(len(self.ends)), key=self.ends.__getitem__)

    def critical_path_ids(self, end_event: int | None = None) -> list[int]:
        eid = self.last_event() if end_event is None else end_event
        chain = []
        preds = self.preds
        while eid >= 0:
            chain.append(eid)
            eid = preds[eid]
        chain.reverse()
        return chain

    def critical_path(self, end_event: int | None = None) -> list[Event]:
        """The chain of critical predecessors ending at ``end_event`` (default: the last event),
        in time order. Consecutive events touch, so their durations sum to the chain's end time
        minus the first event's start (0 when the timeline starts at 0)."""
        return [self.event(i) for i in self.critical_path_ids(end_event)]

    def lanes(self) -> list[str]:
        """Lanes in a stable display order: host, CPU, GPUs, PCIe, DIMMs, DIMM-Link, others."""
        return sorted(self.lane_order, key=lane_sort_key)


_CAT_INDEX = {c: i for i, c in enumerate(CATEGORIES)}


def category_index(category: Category) -> int:
    """Index of ``category`` in :data:`CATEGORIES` (for :meth:`Timeline.add_on`)."""
    ci = _CAT_INDEX.get(category)
    if ci is None:
        raise ValueError(f"unknown category {category!r}; valid: {', '.join(CATEGORIES)}")
    return ci
_LANE_GROUPS = ("host", "cpu", "gpu", "pcie", "dimm", "dimmlink", "nvlink")


def lane_sort_key(lane: str) -> tuple[int, int, str]:
    """(group rank, device number, name): ``dimm2`` sorts before ``dimm10``."""
    m = re.match(r"([a-z]+)(\d*)", lane)
    head, num = (m.group(1), m.group(2)) if m else (lane, "")
    rank = _LANE_GROUPS.index(head) if head in _LANE_GROUPS else len(_LANE_GROUPS)
    return rank, int(num) if num else -1, lane
