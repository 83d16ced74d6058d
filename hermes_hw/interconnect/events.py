"""Timeline-ready events produced by the interconnect models, and a tiny lane clock.

Times are in nanoseconds (float), sizes in bytes. An event names the *lane* it occupies (for
example ``pcie.h2d`` or ``dimmlink.2->3``); a timeline draws one row per lane and may not overlap
two events on the same lane. :class:`LaneSchedule` is the minimal bookkeeping for that rule: it
remembers when each lane becomes free and places new events after it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Transfer:
    """Bytes moving over one lane from ``start_ns`` to ``end_ns``."""

    lane: str
    start_ns: float
    end_ns: float
    nbytes: int
    src: str
    dst: str
    name: str = "transfer"
    energy_pj: float = 0.0
    """Link energy of the transfer in picojoules (0 where the link model has no energy figure)."""

    @property
    def duration_ns(self) -> float:
        return self.end_ns - self.start_ns

    def to_dict(self) -> dict[str, object]:
        return {
            "kind": "transfer",
            "name": self.name,
            "lane": self.lane,
            "start_ns": self.start_ns,
            "end_ns": self.end_ns,
            "nbytes": self.nbytes,
            "src": self.src,
            "dst": self.dst,
            "energy_pj": self.energy_pj,
        }


@dataclass(frozen=True)
class Barrier:
    """A host-side synchronisation: starts when the last participant arrives, lasts the barrier
    latency, and releases every participant at ``end_ns``."""

    lane: str
    start_ns: float
    end_ns: float
    participants: tuple[str, ...] = ()
    name: str = "barrier"

    @property
    def duration_ns(self) -> float:
        return self.end_ns - self.start_ns

    def to_dict(self) -> dict[str, object]:
        return {
            "kind": "barrier",
            "name": self.name,
            "lane": self.lane,
            "start_ns": self.start_ns,
            "end_ns": self.end_ns,
            "participants": list(self.participants),
        }


@dataclass
class LaneSchedule:
    """When each lane is next free (ns). Lanes never seen are free from time 0."""

    free_at_ns: dict[str, float] = field(default_factory=dict)

    def free_at(self, lane: str) -> float:
        return self.free_at_ns.get(lane, 0.0)

    def earliest_start(self, lanes: Iterable[tuple[str, float]], ready_ns: float) -> float:
        """Earliest start >= ready_ns such that each (lane, offset_ns) is free at start + offset."""
        start = ready_ns
        for lane, offset_ns in lanes:
            start = max(start, self.free_at(lane) - offset_ns)
        return start

    def reserve(self, lane: str, start_ns: float, end_ns: float) -> None:
        """Mark ``lane`` busy until ``end_ns``; refuses an overlap with what is already placed."""
        if start_ns < self.free_at(lane) - 1e-9:
            raise ValueError(
                f"lane {lane!r} is busy until {self.free_at(lane)} ns; "
                f"cannot start at {start_ns} ns"
            )
        if end_ns < start_ns:
            raise ValueError(
                f"event on lane {lane!r} ends ({end_ns}) before it starts ({start_ns})"
            )
        self.free_at_ns[lane] = end_ns
