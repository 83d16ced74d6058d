"""GPU kernel-time estimates from a :class:`GpuProfile`, with the roofline bound beside each.

For one kernel that moves B bytes and does F FLOPs::

    memory_ns  = B' / (peak_bw * bandwidth_curve(B') [* gathered_row_efficiency]),
                 B' = max(B, smallest curve size)   # below it a kernel is latency-bound
    compute_ns = F / (matmul_peak * flops_curve(F))
    time_ns    = kernel_overhead_ns + max(memory_ns, compute_ns)
    roofline_ns = max(B / peak_bw, F / matmul_peak)     # the ideal bound, no overheads

so ``time_ns >= roofline_ns`` always, and a large memory-bound kernel approaches
``B / (peak_bw * streaming efficiency)``. GB/s is bytes per ns and TFLOP/s is 1000 FLOP per ns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Literal

from hermes_hw.gpu import kernels
from hermes_hw.gpu.kernels import KernelWork
from hermes_hw.gpu.profile import GpuProfile

Bound = Literal["memory", "compute"]


@dataclass(frozen=True)
class KernelEstimate:
    """Predicted time of one kernel launch and the terms it was built from (ns, bytes, FLOPs)."""

    kernel: str
    gpu: str
    shape: dict[str, int | float]
    time_ns: float
    """Predicted duration on the GPU (what a timeline places on the GPU lane)."""
    memory_ns: float
    compute_ns: float
    overhead_ns: float
    bound: Bound
    """Which of memory_ns / compute_ns sets the estimate."""
    roofline_ns: float
    """Ideal time at datasheet peaks with no overheads: a lower bound on time_ns."""
    roofline_bound: Bound
    nbytes: float
    flops: float
    intensity_flop_per_byte: float
    ridge_flop_per_byte: float
    bandwidth_efficiency: float
    flops_efficiency: float
    host_enqueue_ns: float
    """Host time to enqueue this launch (for a timeline that models the host lane)."""

    @property
    def achieved_gbps(self) -> float:
        return self.nbytes / self.time_ns if self.time_ns else 0.0

    @property
    def achieved_tflops(self) -> float:
        return self.flops / self.time_ns / 1000.0 if self.time_ns else 0.0

    def to_dict(self) -> dict[str, object]:
        out = asdict(self)
        out["achieved_gbps"] = self.achieved_gbps
        out["achieved_tflops"] = self.achieved_tflops
        return out


class GpuTimingModel:
    """Analytical kernel timing for one GPU profile."""

    def __init__(self, profile: GpuProfile) -> None:
        self.profile = profile

    # --- the one formula -------------------------------------------------------------------
    @property
    def peak_gbps(self) -> float:
        return self.profile.peak_memory_bandwidth_gbps.value

    @property
    def peak_flop_per_ns(self) -> float:
        return self.profile.matmul_peak_tflops() * 1000.0

    def achievable_gbps(self, nbytes: float) -> float:
        """Achievable DRAM bandwidth (GB/s) for a kernel moving ``nbytes`` (latency floor
        included: below the curve's smallest size the time, not the rate, is held)."""
        curve = self.profile.bandwidth_curve
        size = max(nbytes, curve.smallest_size)
        return self.peak_gbps * curve.at(size) * nbytes / size

    def achievable_tflops(self, flops: float) -> float:
        """Achievable matmul rate (TFLOP/s) for a kernel doing ``flops``."""
        return self.profile.matmul_peak_tflops() * self.profile.flops_curve.at(flops)

    def roofline(self, work: KernelWork) -> tuple[float, Bound]:
        """(ideal ns at datasheet peaks, which side bounds it)."""
        mem = work.nbytes / self.peak_gbps
        comp = work.flops / self.peak_flop_per_ns
        return (mem, "memory") if mem >= comp else (comp, "compute")

    def estimate(self, work: KernelWork) -> KernelEstimate:
        """Time of one launch of ``work``."""
        p = self.profile
        floor_bytes = max(work.nbytes, p.bandwidth_curve.smallest_size)
        curve_eff = p.bandwidth_curve.at(floor_bytes)
        if work.gathered:
            curve_eff *= p.gathered_row_efficiency.value
        memory_ns = floor_bytes / (self.peak_gbps * curve_eff)
        bw_eff = work.nbytes / (self.peak_gbps * memory_ns)  # effective, floor included
        fl_eff = p.flops_curve.at(work.flops) if work.flops else 1.0
        compute_ns = work.flops / (self.peak_flop_per_ns * fl_eff)
        overhead_ns = p.kernel_overhead_ns.value
        roofline_ns, roofline_bound = self.roofline(work)
        bound: Bound = "memory" if memory_ns >= compute_ns else "compute"
        return KernelEstimate(
            kernel=work.kernel,
            gpu=p.name,
            shape=dict(work.shape),
            time_ns=overhead_ns + max(memory_ns, compute_ns),
            memory_ns=memory_ns,
            compute_ns=compute_ns,
            overhead_ns=overhead_ns,
            bound=bound,
            roofline_ns=roofline_ns,
            roofline_bound=roofline_bound,
            nbytes=work.nbytes,
            flops=work.flops,
            intensity_flop_per_byte=work.intensity,
            ridge_flop_per_byte=self.peak_flop_per_ns / self.peak_gbps,
            bandwidth_efficiency=bw_eff,
            flops_efficiency=fl_eff,
            host_enqueue_ns=p.launch_enqueue_ns.value,
        )

    # --- the kernels a timeline calls ------------------------------------------------------
    def gemv(self, rows: int, cols: int, batch: int = 1, dtype_bytes: int = 2) -> KernelEstimate:
        """Dense rows x cols layer on ``batch`` tokens (decode FC / QKV on the GPU)."""
        return self.estimate(kernels.gemv(rows, cols, batch, dtype_bytes))

    def gemm(self, m: int, n: int, k: int, dtype_bytes: int = 2) -> KernelEstimate:
        """``y[m, n] = x[m, k] @ W[n, k]^T``."""
        return self.estimate(kernels.matmul(m, n, k, dtype_bytes))

    def sparse_gemv(
        self, gathered_rows: int, cols: int, batch: int = 1, dtype_bytes: int = 2
    ) -> KernelEstimate:
        """Hot-neuron kernel over ``gathered_rows`` rows picked by an index list."""
        return self.estimate(kernels.sparse_gemv(gathered_rows, cols, batch, dtype_bytes))

    def output_projection(
        self, hidden: int, batch: int = 1, dtype_bytes: int = 2
    ) -> KernelEstimate:
        """Dense attention output projection (hidden x hidden)."""
        return self.estimate(kernels.output_projection(hidden, batch, dtype_bytes))

    def attention_decode(
        self, batch: int, heads: int, kv_len: int, head_dim: int,
        kv_heads: int | None = None, dtype_bytes: int = 2,
    ) -> KernelEstimate:
        """One decode step of attention against ``kv_len`` cached tokens."""
        return self.estimate(
            kernels.attention_decode(batch, heads, kv_len, head_dim, kv_heads, dtype_bytes)
        )

    def prefill_attention(
        self, batch: int, heads: int, seq_len: int, head_dim: int,
        kv_heads: int | None = None, causal: bool = True, dtype_bytes: int = 2,
    ) -> KernelEstimate:
        """Fused attention over a prompt of ``seq_len`` tokens."""
        return self.estimate(kernels.prefill_attention(
            batch, heads, seq_len, head_dim, kv_heads, causal, dtype_bytes))

    def prefill_linear(
        self, tokens: int, rows: int, cols: int, dtype_bytes: int = 2
    ) -> KernelEstimate:
        """A rows x cols linear layer over ``tokens`` prompt tokens (GEMM)."""
        return self.estimate(kernels.prefill_linear(tokens, rows, cols, dtype_bytes))

    def elementwise(
        self, n_elements: int, inputs: int = 1, outputs: int = 1, dtype_bytes: int = 2
    ) -> KernelEstimate:
        """Streaming element-wise kernel (activation, residual add, norm)."""
        return self.estimate(kernels.elementwise(n_elements, inputs, outputs, 1.0, dtype_bytes))

    # --- sequences and synchronisation -----------------------------------------------------
    def stream_time_ns(self, estimates: Sequence[KernelEstimate], *, eager: bool = True) -> float:
        """Makespan of kernels launched back to back on one stream.

        eager=True: the host enqueues launch i at ``(i + 1) * launch_enqueue_ns`` and kernel i
        starts at ``max(end of i-1, enqueue of i)``, so tiny kernels are launch-bound.
        eager=False (CUDA-graph replay): the kernels' times simply add up.
        """
        enqueue = self.profile.launch_enqueue_ns.value
        end = 0.0
        for i, est in enumerate(estimates):
            start = max(end, (i + 1) * enqueue) if eager else end
            end = start + est.time_ns
        return end

    @property
    def sync_ns(self) -> float:
        """Host <-> GPU synchronisation (launch + synchronise round trip), ns."""
        return self.profile.launch_sync_ns.value
