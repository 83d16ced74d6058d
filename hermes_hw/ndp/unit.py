"""The NDP unit's timing: per-op compute time and the vectorised issue/consume model.

Clock domains: the NDP core runs at ``clock_ghz`` (1 GHz), the DRAM at 1/tCK (1.6 GHz for
DDR4-3200). Compute times are derived in NDP cycles, converted to DRAM cycles
(``x * ndp_cycle_ns / tck_ns``, kept fractional) and all scheduling happens in DRAM cycles;
reported times are in ns.

Model (docs/ndp.md): reads are issued in trace order; request ``i`` may issue once the buffer
has room, i.e. once line ``i - N`` was consumed (``N = buffer_bytes / 64``); the DRAM
controllers' queues bound the requests in flight. The GEMV/attention pipeline consumes lines in
order: ``f_i = max(f_{i-1} + b_i, d_i) + t_i`` (``d_i`` data return, ``t_i`` compute per line,
``b_i`` compute-only ops in between). Writes are posted once the op before them has finished.
"""

from __future__ import annotations

import numpy as np

from hermes_hw.lowering.ops import OP_KIND_ID
from hermes_hw.ndp.config import NdpUnitConfig

K = OP_KIND_ID
_READ_COMPUTE = (K["gemv"], K["attn_score"], K["attn_value"])


class NdpTiming:
    """Per-op compute cost of one NDP unit, in DRAM cycles."""

    def __init__(self, unit: NdpUnitConfig, tck_ns: float) -> None:
        self.unit = unit
        self.tck_ns = tck_ns
        self.dram_per_ndp = unit.ndp_cycle_ns / tck_ns
        self.buffer_lines = max(1, unit.buffer_bytes // 64)

    def compute_cycles(self, ops: np.ndarray) -> np.ndarray:
        """Compute (or transfer-pacing) time of every op in DRAM cycles (float64)."""
        u = self.unit
        kind = ops["kind"]
        macs = ops["macs"].astype(np.float64)
        act = ops["act_elems"].astype(np.float64)
        ndp = np.zeros(len(ops))
        gemm = np.isin(kind, _READ_COMPUTE)
        ndp[gemm] = macs[gemm] / u.macs_per_ndp_cycle + np.ceil(act[gemm] / u.activation_lanes)
        soft = kind == K["softmax"]
        ndp[soft] = u.softmax_passes * np.ceil(act[soft] / u.activation_lanes)
        red = kind == K["reduce"]
        ndp[red] = np.ceil(act[red] / u.activation_lanes)
        out = ndp * self.dram_per_ndp
        rb = ops["read_bytes"].astype(np.float64)
        prom = kind == K["promote_read"]
        out[prom] = rb[prom] / u.pcie_gbps_per_dimm / self.tck_ns  # bytes / (GB/s) = ns
        rem = kind == K["remap_out"]
        out[rem] = rb[rem] / u.link_gbps / self.tck_ns
        return out


def scan_consume(d: np.ndarray, t: np.ndarray, bump: np.ndarray, s_prev: float,
                 g_prev: float) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Vectorised ``f_i = max(f_{i-1} + b_i, d_i) + t_i`` over one chunk.

    With ``S_i = s_prev + cumsum(b + t)`` (the ideal, stall-free compute time) and
    ``g_i = f_i - S_i`` (the accumulated wait for data, non-decreasing):
    ``g_i = max(g_{i-1}, d_i + t_i - S_i)``. Returns (f, S, S_last, g_last); ``d = -inf``
    marks requests that do not feed the compute pipeline (writes).
    """
    S = s_prev + np.cumsum(bump + t)
    g = np.maximum.accumulate(np.maximum(d + t - S, g_prev))
    f = g + S
    return f, S, float(S[-1]) if len(S) else s_prev, float(g[-1]) if len(g) else g_prev
