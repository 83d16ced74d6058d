"""A stand-in for the CUDA bench: times every calibration case from a known 'truth' profile, so
the fit can be checked against the values that generated the data."""

from __future__ import annotations

from hermes_hw.gpu.fit import BenchCase, Measurement, default_grid, predict, work_of
from hermes_hw.gpu.profile import (
    CitedFloat,
    CitedFraction,
    CitedInt,
    EfficiencyCurve,
    GpuProfile,
)
from hermes_hw.interconnect.pcie import PcieConfig

PEAK_BW = 3350.0
PEAK_TFLOPS = 989.4
OVERHEAD_NS = 1800.0
GATHER_EFF = 0.7
H2D = dict(latency_ns=1500.0, efficiency=0.8)
D2H = dict(efficiency=0.75)
ENQUEUE_NS, SYNC_NS = 4500.0, 9000.0
INFO = {"name": "NVIDIA H100 80GB HBM3", "total_memory_bytes": 85_520_809_984, "sm_count": 132,
        "l2_bytes": 52_428_800, "driver": "test", "pcie_gen_max": "5", "pcie_width_max": "16",
        "torch": "test", "cuda": "test", "date": "2026-01-01"}


def _cited(v: float) -> CitedFloat:
    return CitedFloat(value=v, source="truth for the test")


def truth_profile() -> GpuProfile:
    """Bandwidth points sit exactly at the batch-1 square GEMV sizes of the grid, and FLOPs
    points at the square GEMMs, so a correct fit must reproduce them."""
    grid = default_grid()
    gemv = sorted(work_of(c).nbytes for c in grid if c.kernel == "gemv" and c.role == "fit")
    gemm = sorted(work_of(c).flops for c in grid if c.kernel == "gemm" and c.role == "fit")
    bw_points = [(b, round(0.05 + 0.85 * i / (len(gemv) - 1), 4)) for i, b in enumerate(gemv)]
    fl_points = [(f, round(0.3 + 0.5 * i / (len(gemm) - 1), 4)) for i, f in enumerate(gemm)]
    return GpuProfile(
        name="truth", display_name="truth",
        memory_capacity_gib=_cited(80), peak_memory_bandwidth_gbps=_cited(PEAK_BW),
        peak_fp16_tensor_tflops=_cited(PEAK_TFLOPS),
        peak_fp16_tensor_fp32acc_tflops=_cited(PEAK_TFLOPS),
        sm_count=CitedInt(value=132, source="truth"), l2_cache_mib=_cited(50),
        bandwidth_curve=EfficiencyCurve(points=bw_points, source="truth"),
        flops_curve=EfficiencyCurve(points=fl_points, source="truth"),
        gathered_row_efficiency=CitedFraction(value=GATHER_EFF, source="truth"),
        kernel_overhead_ns=_cited(OVERHEAD_NS),
        launch_enqueue_ns=_cited(ENQUEUE_NS), launch_sync_ns=_cited(SYNC_NS),
        host_link=PcieConfig(generation=5, lanes=16, h2d_efficiency=H2D["efficiency"],
                             d2h_efficiency=D2H["efficiency"], latency_ns=H2D["latency_ns"]),
    )


class FakeBench:
    def __init__(self, profile: GpuProfile | None = None, fail: tuple[str, ...] = ()) -> None:
        self.profile = profile or truth_profile()
        self.fail = fail

    def measure(self, case: BenchCase) -> Measurement:
        if case.kernel in self.fail:
            return Measurement(case, None, "failed: RuntimeError: planted")
        if case.kernel == "empty":
            return Measurement(case, OVERHEAD_NS, "graph")
        if case.kernel == "launch_enqueue":
            return Measurement(case, ENQUEUE_NS, "host-timer")
        if case.kernel == "launch_sync":
            return Measurement(case, SYNC_NS, "host-timer")
        return Measurement(case, predict(self.profile, case)[0], "graph")
