"""Interconnect models: PCIe (host <-> GPU), DIMM-Link (DIMM <-> DIMM) and host barriers.

Each model turns bytes into nanoseconds and emits :class:`Transfer` / :class:`Barrier` events
carrying a lane name, start and end (ns) that a timeline can place; :class:`LaneSchedule` keeps
lanes from overlapping.
"""

from hermes_hw.interconnect.barrier import HostBarrier, HostBarrierConfig
from hermes_hw.interconnect.dimmlink import DimmLinkConfig, DimmLinkNetwork
from hermes_hw.interconnect.events import Barrier, LaneSchedule, Transfer
from hermes_hw.interconnect.pcie import PCIE_LANE_GBPS, PcieConfig, PcieLink

__all__ = [
    "PCIE_LANE_GBPS",
    "Barrier",
    "DimmLinkConfig",
    "DimmLinkNetwork",
    "HostBarrier",
    "HostBarrierConfig",
    "LaneSchedule",
    "PcieConfig",
    "PcieLink",
    "Transfer",
]
