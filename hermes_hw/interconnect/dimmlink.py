"""DIMM-Link: the point-to-point links between NDP-DIMMs used for remapping and reductions.

Hermes (Table II) gives 8 lanes x 25 Gb/s = 25 GB/s per link and 1.17 pJ/bit. The paper leaves
open how links are wired [O]; the topology is a parameter:

- ``ring``: DIMM i links to i-1 and i+1 (mod n); a transfer takes the shorter way round
  (clockwise on a tie) and crosses ``min(d, n - d)`` links.
- ``all-to-all``: every pair has its own link; one hop.

Transfers are cut-through: hop k starts ``k * hop_latency_ns`` after the first, so a transfer over
h hops ends ``h * hop_latency_ns + nbytes / bandwidth`` after it starts, and occupies each link it
crosses (one :class:`Transfer` event per link, lane ``dimmlink.{a}->{b}``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from hermes_hw.interconnect.events import LaneSchedule, Transfer

Topology = Literal["ring", "all-to-all"]


class DimmLinkConfig(BaseModel):
    """DIMM-to-DIMM network. Defaults: the Hermes paper's Table II link on a ring of 8 DIMMs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    n_dimms: int = Field(8, ge=1, le=64, description="number of DIMMs on the network (Hermes: 8)")
    topology: Topology = Field(
        "ring", description="'ring' or 'all-to-all' (the paper leaves the wiring open [O])"
    )
    lanes_per_link: int = Field(8, ge=1, description="serial lanes per link (Hermes Table II: 8)")
    lane_gbit_per_s: float = Field(
        25.0, gt=0, description="signalling rate per lane in Gb/s (Hermes Table II: 25)"
    )
    efficiency: float = Field(
        1.0, gt=0, le=1, description="achieved/raw link bandwidth (fraction); 1.0: none stated [O]"
    )
    hop_latency_ns: float = Field(
        50.0,
        ge=0,
        description="latency added per link crossed, ns; assumed 50 ns (not in the paper) [O]",
    )
    energy_pj_per_bit: float = Field(
        1.17, ge=0, description="link energy per bit per hop, pJ (Hermes Table II: 1.17)"
    )
    full_duplex: bool = Field(
        True, description="each direction of a link is its own lane (True) or they share one"
    )
    source: str = Field(
        "Hermes paper Table II (25 Gb/s x 8 lanes, 1.17 pJ/bit); topology, efficiency and hop "
        "latency are open in the paper and assumed",
        description="where these values come from",
    )

    @property
    def link_gbps(self) -> float:
        """Per-link bandwidth in GB/s (bytes per ns) after efficiency."""
        return self.lanes_per_link * self.lane_gbit_per_s / 8.0 * self.efficiency


class DimmLinkNetwork:
    """Routes and times DIMM-to-DIMM transfers for one :class:`DimmLinkConfig`."""

    def __init__(self, config: DimmLinkConfig | None = None) -> None:
        self.config = config or DimmLinkConfig()

    def _check(self, dimm: int) -> None:
        if not 0 <= dimm < self.config.n_dimms:
            raise ValueError(f"DIMM index {dimm} out of range 0..{self.config.n_dimms - 1}")

    def lane(self, a: int, b: int) -> str:
        """Lane name of the link a->b (undirected name when the link is half duplex)."""
        if not self.config.full_duplex:
            a, b = min(a, b), max(a, b)
            return f"dimmlink.{a}-{b}"
        return f"dimmlink.{a}->{b}"

    def route(self, src: int, dst: int) -> list[tuple[int, int]]:
        """Links crossed from ``src`` to ``dst``, in order (empty when src == dst)."""
        self._check(src)
        self._check(dst)
        if src == dst:
            return []
        if self.config.topology == "all-to-all":
            return [(src, dst)]
        n = self.config.n_dimms
        forward = (dst - src) % n
        step = 1 if forward <= n - forward else -1
        hops, node = [], src
        while node != dst:
            nxt = (node + step) % n
            hops.append((node, nxt))
            node = nxt
        return hops

    def hops(self, src: int, dst: int) -> int:
        return len(self.route(src, dst))

    def duration_ns(self, src: int, dst: int, nbytes: int) -> float:
        """End-to-end time of one transfer (0 for src == dst or 0 bytes)."""
        if nbytes < 0:
            raise ValueError(f"nbytes must be >= 0, got {nbytes}")
        h = self.hops(src, dst)
        if h == 0 or nbytes == 0:
            return 0.0
        return h * self.config.hop_latency_ns + nbytes / self.config.link_gbps

    def transfer(
        self,
        src: int,
        dst: int,
        nbytes: int,
        ready_ns: float,
        *,
        schedule: LaneSchedule | None = None,
        name: str = "dimmlink",
    ) -> list[Transfer]:
        """Place one transfer as one event per link crossed; with a schedule, it starts when
        every link on the route is free at its hop's offset, and reserves them."""
        links = self.route(src, dst)
        if not links or nbytes == 0:
            return []
        lat = self.config.hop_latency_ns
        serial_ns = nbytes / self.config.link_gbps
        offsets = [(self.lane(a, b), k * lat) for k, (a, b) in enumerate(links)]
        start = schedule.earliest_start(offsets, ready_ns) if schedule else ready_ns
        energy = nbytes * 8 * self.config.energy_pj_per_bit
        events = []
        for (lane, offset), (a, b) in zip(offsets, links, strict=True):
            hop_start = start + offset
            hop_end = hop_start + lat + serial_ns
            if schedule is not None:
                schedule.reserve(lane, hop_start, hop_end)
            events.append(
                Transfer(lane=lane, start_ns=hop_start, end_ns=hop_end, nbytes=nbytes,
                         src=f"dimm{a}", dst=f"dimm{b}", name=name, energy_pj=energy)
            )
        return events
