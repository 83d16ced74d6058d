"""The interface every DRAM backend implements (built-in C engine, a user's Ramulator2 build).

A backend simulates one memory system (all its channels) at memory-clock granularity. Time is
counted in memory cycles (the DRAM command clock, tCK). ``MemorySystem`` (memory_system.py) is the
user-facing facade; it picks a backend by name from ``BACKENDS``.

Replay semantics shared by all backends (Ramulator2's LoadStoreTrace feeding): in each step the
frontend offers the current request first, then the memory system advances one cycle; a rejected
request is offered again in the next step; an accepted request's arrival time is the number of
memory cycles already simulated.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np

#: Keys every backend's ``stats()`` returns (more are allowed).
#: cycles: memory cycles simulated up to the acceptance of the last request (Ramulator2's
#: memory_system_cycles); drain_cycles: cycles until every accepted request was served.
REQUIRED_STAT_KEYS: tuple[str, ...] = (
    "cycles",
    "drain_cycles",
    "reads",
    "writes",
    "row_hits",
    "row_misses",
    "row_conflicts",
    "avg_read_latency_cycles",
    "commands",
)


@runtime_checkable
class DramBackend(Protocol):
    """One simulated memory system."""

    name: str

    @property
    def cycle(self) -> int:
        """Memory cycles simulated so far."""

    def send(self, addr: int, is_write: bool, tag: int = -1) -> bool:
        """Offer one 64 B request (byte address) now; True if accepted."""

    def tick(self, cycles: int = 1) -> None:
        """Advance the memory system by ``cycles`` memory cycles."""

    def run_trace(
        self,
        addrs: np.ndarray,
        is_write: np.ndarray,
        arrival_cycles: np.ndarray | None = None,
    ) -> int:
        """Feed a chunk of requests with the replay semantics above; returns how many accepted.

        ``arrival_cycles`` (int64, non-decreasing), when given, holds each request back until
        that memory cycle (timed replay); otherwise requests are offered back to back.
        """

    def drain(self) -> int:
        """Run until every accepted request is served; returns the cycle count then."""

    def pop_completions(self) -> tuple[np.ndarray, np.ndarray]:
        """(tags int64, completion cycles int64) of reads served since the last call."""

    def stats(self) -> dict[str, Any]:
        """Statistics: at least REQUIRED_STAT_KEYS (see module docstring for the cycle keys)."""

    def close(self) -> None:
        """Free native resources."""
