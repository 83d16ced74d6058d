"""Weight and KV-cache layout in each NDP-DIMM's physical address space.

One interface (:class:`~hermes_hw.layout.base.LayoutPolicy`), implementations registered by name
in :data:`POLICIES` (``interleaved``, ``rank-local``); :class:`~hermes_hw.layout.model_layout.
ModelLayout` places a whole model (neurons by their home DIMM, dense-weight reservation, KV cache,
scratch) and answers "which 64 B lines does this op touch".
"""

from hermes_hw.layout import policies  # noqa: F401  (registers the built-in policies)
from hermes_hw.layout.base import (
    POLICIES,
    SEGMENT_DTYPE,
    DimmGeometry,
    LayoutPolicy,
    make_policy,
    register_policy,
)
from hermes_hw.layout.model_layout import ModelLayout

__all__ = ["POLICIES", "SEGMENT_DTYPE", "DimmGeometry", "LayoutPolicy", "ModelLayout",
           "make_policy", "register_policy"]
