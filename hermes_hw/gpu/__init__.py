"""GPU timing model: cited GPU profiles, kernel work, kernel-time estimates with roofline bounds.

Typical use (what the timeline calls)::

    from hermes_hw.gpu import get_profile, GpuTimingModel
    gpu = GpuTimingModel(get_profile("rtx4090"))
    est = gpu.sparse_gemv(gathered_rows=2765, cols=5120, batch=1)
    est.time_ns, est.roofline_ns, est.bound

Importing this package needs neither torch nor the C extension; the calibration code
(``hermes_hw.gpu.calibrate``) imports torch only when it runs.
"""

from hermes_hw.gpu.kernels import KernelWork
from hermes_hw.gpu.model import GpuTimingModel, KernelEstimate
from hermes_hw.gpu.profile import (
    CitedFloat,
    CitedFraction,
    CitedInt,
    EfficiencyCurve,
    GpuProfile,
    load_profile_file,
    profile_from_dict,
)
from hermes_hw.gpu.registry import get_profile, list_profiles, register_profile

__all__ = [
    "CitedFloat",
    "CitedFraction",
    "CitedInt",
    "EfficiencyCurve",
    "GpuProfile",
    "GpuTimingModel",
    "KernelEstimate",
    "KernelWork",
    "get_profile",
    "list_profiles",
    "load_profile_file",
    "profile_from_dict",
    "register_profile",
]
