"""Host barriers: the host waits for every participant, then releases them all.

Used where the host CPU synchronises the GPU and the DIMMs (e.g. before the merge of partial
sums, or the ILP's ``T_sync`` term). Cost model: the barrier starts when the last participant
arrives and lasts ``latency_ns`` (the round trip of a completion signal and a new command).
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field

from hermes_hw.interconnect.events import Barrier, LaneSchedule


class HostBarrierConfig(BaseModel):
    """Cost of one host-side synchronisation."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    latency_ns: float = Field(
        6400.0,
        ge=0,
        description="ns from the last arrival to the release of all participants; default 6.4 us, "
        "a GPU kernel launch plus synchronise (peers.md §5)",
    )
    lane: str = Field("host", description="timeline lane the barrier is drawn on")
    source: str = Field(
        "peers.md §5: about 6.4 us launch plus synchronise (public measurements)",
        description="where these values come from",
    )


class HostBarrier:
    """Places :class:`Barrier` events."""

    def __init__(self, config: HostBarrierConfig | None = None) -> None:
        self.config = config or HostBarrierConfig()

    def barrier(
        self,
        arrivals_ns: Mapping[str, float],
        *,
        schedule: LaneSchedule | None = None,
        name: str = "barrier",
    ) -> Barrier:
        """Barrier over ``{participant: arrival time in ns}``; released at the returned end_ns."""
        if not arrivals_ns:
            raise ValueError("a barrier needs at least one participant")
        lane = self.config.lane
        ready = max(arrivals_ns.values())
        start = schedule.earliest_start([(lane, 0.0)], ready) if schedule else ready
        end = start + self.config.latency_ns
        if schedule is not None:
            schedule.reserve(lane, start, end)
        return Barrier(lane=lane, start_ns=start, end_ns=end,
                       participants=tuple(sorted(arrivals_ns)), name=name)
