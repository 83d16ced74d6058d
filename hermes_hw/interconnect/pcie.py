"""PCIe link between the host (and the DIMMs behind it) and the GPU.

Transfer time = ``latency_ns + nbytes / (raw_gbps * efficiency)`` per direction, where raw_gbps is
the per-direction payload rate of the generation and lane count after line coding (1 GB/s is one
byte per ns). The two directions are independent lanes (PCIe is full duplex).

Note on the Hermes paper: it states "PCIe 4.0, 64 GB/s"; that is the *bidirectional* figure of a
x16 link (2 x 31.5 GB/s). This model is per direction. To reproduce a simulator that used 64 GB/s
in one direction, set ``bandwidth_override_gbps: 64`` (and say so in the experiment).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from hermes_hw.interconnect.events import LaneSchedule, Transfer

# Per-lane, per-direction payload rate in GB/s after line coding (PCI-SIG base specifications):
# gen1 2.5 GT/s 8b/10b; gen2 5 GT/s 8b/10b; gen3 8 GT/s 128b/130b; gen4 16 GT/s 128b/130b;
# gen5 32 GT/s 128b/130b; gen6 64 GT/s PAM4 with 242/256 FLIT payload.
PCIE_LANE_GBPS: dict[int, float] = {
    1: 2.5 * 8 / 10 / 8,
    2: 5.0 * 8 / 10 / 8,
    3: 8.0 * 128 / 130 / 8,
    4: 16.0 * 128 / 130 / 8,
    5: 32.0 * 128 / 130 / 8,
    6: 64.0 * 242 / 256 / 8,
}

Direction = Literal["h2d", "d2h"]


class PcieConfig(BaseModel):
    """One PCIe link (host <-> GPU). Defaults: PCIe 4.0 x16 as in the Hermes system."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    generation: int = Field(4, ge=1, le=6, description="PCIe generation (1-6); Hermes: 4.0")
    lanes: Literal[1, 2, 4, 8, 16] = Field(16, description="link width in lanes; GPUs use x16")
    h2d_efficiency: float = Field(
        0.80,
        gt=0,
        le=1,
        description="achieved/raw bandwidth host->GPU (fraction); default 25.2/31.5 GB/s, the "
        "midpoint of the 23.9-26.4 GB/s nvbandwidth reports for a 4090 (peers.md §5)",
    )
    d2h_efficiency: float = Field(
        0.85,
        gt=0,
        le=1,
        description="achieved/raw bandwidth GPU->host (fraction); default 26.7/31.5 GB/s, the "
        "midpoint of the 26.3-27.1 GB/s nvbandwidth reports for a 4090 (peers.md §5)",
    )
    latency_ns: float = Field(
        2700.0,
        ge=0,
        description="fixed cost per host->GPU transfer in ns (DMA set-up + completion); default "
        "2.7 us, measured on an H100 host (docs/gpu_model.md), assumed similar elsewhere",
    )
    d2h_latency_ns: float | None = Field(
        1900.0,
        ge=0,
        description="fixed cost per GPU->host transfer in ns; None: same as latency_ns; default "
        "1.9 us, measured on an H100 host (docs/gpu_model.md)",
    )
    bandwidth_override_gbps: float | None = Field(
        None,
        gt=0,
        description="if set, the per-direction bandwidth in GB/s *before* efficiency, instead "
        "of generation x lanes (e.g. 64 to reproduce the paper's stated figure)",
    )
    source: str = Field(
        "PCI-SIG rates; efficiencies from peers.md §5 (nvbandwidth on an RTX 4090)",
        description="where these values come from",
    )

    @property
    def raw_gbps(self) -> float:
        """Per-direction bandwidth before efficiency, GB/s."""
        if self.bandwidth_override_gbps is not None:
            return self.bandwidth_override_gbps
        return PCIE_LANE_GBPS[self.generation] * self.lanes

    def latency(self, direction: Direction) -> float:
        """Fixed cost of one transfer in ``direction``, ns."""
        if direction == "d2h" and self.d2h_latency_ns is not None:
            return self.d2h_latency_ns
        return self.latency_ns

    def effective_gbps(self, direction: Direction) -> float:
        """Achievable per-direction bandwidth for large transfers, GB/s."""
        eff = self.h2d_efficiency if direction == "h2d" else self.d2h_efficiency
        return self.raw_gbps * eff


class PcieLink:
    """Timing of transfers over one :class:`PcieConfig` link; lanes ``{name}.h2d``/``.d2h``."""

    def __init__(self, config: PcieConfig | None = None, *, name: str = "pcie") -> None:
        self.config = config or PcieConfig()
        self.name = name

    def lane(self, direction: Direction) -> str:
        return f"{self.name}.{direction}"

    def duration_ns(self, nbytes: int, direction: Direction = "h2d") -> float:
        """Time for one transfer of ``nbytes`` (0 bytes costs nothing)."""
        if nbytes < 0:
            raise ValueError(f"nbytes must be >= 0, got {nbytes}")
        if nbytes == 0:
            return 0.0
        return self.config.latency(direction) + nbytes / self.config.effective_gbps(direction)

    def transfer(
        self,
        nbytes: int,
        ready_ns: float,
        direction: Direction = "h2d",
        *,
        schedule: LaneSchedule | None = None,
        name: str = "pcie",
    ) -> Transfer:
        """Place one transfer that may start at ``ready_ns``; with a schedule it waits for the
        lane and reserves it."""
        lane = self.lane(direction)
        start = schedule.earliest_start([(lane, 0.0)], ready_ns) if schedule else ready_ns
        end = start + self.duration_ns(nbytes, direction)
        if schedule is not None:
            schedule.reserve(lane, start, end)
        src, dst = ("host", "gpu") if direction == "h2d" else ("gpu", "host")
        return Transfer(lane=lane, start_ns=start, end_ns=end, nbytes=nbytes, src=src, dst=dst,
                        name=name)
