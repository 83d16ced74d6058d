"""The merged per-token timeline: events with dependencies on GPU, DIMM, PCIe, DIMM-Link and host
lanes, the paper's latency breakdown computed from them, and Chrome/Perfetto export.

The per-system dataflows that fill a timeline live in :mod:`hermes_hw.systems`.
"""

from hermes_hw.timeline.breakdown import (
    busy_breakdown,
    critical_path_breakdown,
    format_breakdown,
    lane_group,
    sum_by_category,
)
from hermes_hw.timeline.events import CATEGORIES, NO_EVENT, Category, Event, Timeline
from hermes_hw.timeline.export import chrome_trace, write_chrome_trace

__all__ = [
    "CATEGORIES",
    "NO_EVENT",
    "Category",
    "Event",
    "Timeline",
    "busy_breakdown",
    "chrome_trace",
    "critical_path_breakdown",
    "format_breakdown",
    "lane_group",
    "sum_by_category",
    "write_chrome_trace",
]
