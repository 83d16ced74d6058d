"""Systems: one module per system, registered by id, all built on the same GPU model,
interconnect, DIMM time model and workload, and all filling a :class:`~hermes_hw.timeline.Timeline`.

    from hermes_hw.systems import simulate
    r = simulate("llama2-70b", "hermes", batch=1)
    r.tokens_per_s, r.prefill_ns, r.decode_ns_per_token, r.breakdown_ns, r.timeline
"""

from hermes_hw.systems.base import (
    SYSTEMS,
    RunOptions,
    SimContext,
    SimResult,
    System,
    make_system,
    register_system,
    simulate,
)
from hermes_hw.systems.config import (
    SystemConfig,
    list_system_configs,
    load_system_config,
)
from hermes_hw.systems.dimm_time import BandwidthDimmModel, CpuTimeModel, DimmOp, DimmTimeModel

__all__ = [
    "SYSTEMS",
    "BandwidthDimmModel",
    "CpuTimeModel",
    "DimmOp",
    "DimmTimeModel",
    "RunOptions",
    "SimContext",
    "SimResult",
    "System",
    "SystemConfig",
    "list_system_configs",
    "load_system_config",
    "make_system",
    "register_system",
    "simulate",
]
