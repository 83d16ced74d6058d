"""Calibration without torch: the benchmark grid, fitting a profile to measured kernel times, and
the predicted-vs-measured table. The timing itself lives in :mod:`hermes_hw.gpu.bench_torch`.

Fitting protocol (every case is tagged ``fit`` or ``check``; check cases are never used to fit):

1. ``kernel_overhead_ns`` = measured time of an empty kernel (graph-replayed, back to back).
2. ``bandwidth_curve``: each fit GEMV (batch 1, square) gives a point
   ``(bytes, bytes / (peak_bw * (t - overhead)))``; points whose time would fall as the size grows
   are pooled (monotone least squares in log-time, :func:`_merge_points`), also for 3.
3. ``flops_curve``: each fit GEMM that is compute-bound at datasheet peaks gives
   ``(flops, flops / (matmul_peak * (t - overhead)))``; with none, the assumed default shape.
4. ``gathered_row_efficiency``: median over fit gathered-row GEMVs of
   ``dense-model memory time / (t - overhead)``.
5. PCIe: a relative-error least-squares line ``t = latency + bytes / bandwidth`` through the fit
   host->GPU (and GPU->host) copies; efficiency = bandwidth / (generation x lanes rate).
6. ``launch_enqueue_ns`` and ``launch_sync_ns`` are measured directly.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from hermes_hw.gpu import kernels
from hermes_hw.gpu.kernels import KernelWork
from hermes_hw.gpu.model import GpuTimingModel
from hermes_hw.gpu.profile import (
    CitedFloat,
    CitedFraction,
    CitedInt,
    EfficiencyCurve,
    GpuProfile,
)
from hermes_hw.interconnect.pcie import PCIE_LANE_GBPS, PcieConfig, PcieLink

Role = Literal["fit", "check", "info"]


@dataclass(frozen=True)
class BenchCase:
    """One shape to time. ``kernel`` is a key of :data:`KERNEL_WORK` or a special case."""

    kernel: str
    shape: dict[str, int] = field(default_factory=dict)
    role: Role = "check"

    def label(self) -> str:
        return " ".join(f"{k}={v}" for k, v in self.shape.items())


@dataclass
class Measurement:
    case: BenchCase
    time_ns: float | None
    method: str
    """'graph' (CUDA-graph replay, event-timed), 'eager', 'host-timer', or 'failed: why'."""

    @property
    def ok(self) -> bool:
        return self.time_ns is not None and self.time_ns > 0


SPECIAL = ("empty", "launch_enqueue", "launch_sync")
COPIES = ("memcpy_h2d", "memcpy_d2h")


def work_of(case: BenchCase) -> KernelWork | None:
    """Bytes and FLOPs of a device kernel case (None for copies over PCIe and special cases)."""
    s = case.shape
    if case.kernel == "gemv":
        return kernels.gemv(s["rows"], s["cols"], s["batch"])
    if case.kernel == "gemm":
        return kernels.matmul(s["m"], s["n"], s["k"])
    if case.kernel in ("sparse_gemv", "sparse_gemv_contiguous"):
        return kernels.sparse_gemv(s["gathered_rows"], s["cols"], s["batch"])
    if case.kernel == "attention_decode":
        return kernels.attention_decode(s["batch"], s["heads"], s["kv_len"], s["head_dim"])
    if case.kernel == "prefill_attention":
        return kernels.prefill_attention(s["batch"], s["heads"], s["seq_len"], s["head_dim"])
    if case.kernel == "output_projection":
        return kernels.output_projection(s["hidden"], s["batch"])
    if case.kernel == "memcpy_d2d":
        return kernels.memcpy_d2d(s["nbytes"])
    return None


def default_grid() -> list[BenchCase]:
    """The calibration grid: sized to run in about 2-3 minutes on a datacenter GPU."""
    grid: list[BenchCase] = [BenchCase("empty", {}, "fit"),
                             BenchCase("launch_enqueue", {}, "fit"),
                             BenchCase("launch_sync", {}, "fit")]
    for n in (256, 512, 1024, 2048, 3072, 4096, 6144, 8192, 12288, 16384):
        grid.append(BenchCase("gemv", {"rows": n, "cols": n, "batch": 1}, "fit"))
    for rows, cols in ((5120, 5120), (13824, 5120), (5120, 13824), (28672, 8192)):
        grid.append(BenchCase("gemv", {"rows": rows, "cols": cols, "batch": 1}, "check"))
    for batch in (8, 16):
        for rows, cols in ((5120, 5120), (13824, 5120)):
            grid.append(BenchCase("gemv", {"rows": rows, "cols": cols, "batch": batch}, "check"))
    grid.append(BenchCase("output_projection", {"hidden": 8192, "batch": 1}, "check"))
    for n in (1024, 2048, 4096, 8192):
        grid.append(BenchCase("gemm", {"m": n, "n": n, "k": n}, "fit"))
    for m, n, k in ((128, 5120, 5120), (512, 13824, 5120), (2048, 5120, 13824),
                    (4096, 8192, 28672)):
        grid.append(BenchCase("gemm", {"m": m, "n": n, "k": k}, "check"))
    for batch in (1, 8):
        for kv_len in (128, 512, 2048):
            grid.append(BenchCase("attention_decode", {"batch": batch, "heads": 40,
                                                       "kv_len": kv_len, "head_dim": 128}, "check"))
    for batch, seq_len in ((1, 128), (1, 512), (1, 2048), (16, 128)):
        grid.append(BenchCase("prefill_attention", {"batch": batch, "heads": 40,
                                                    "seq_len": seq_len, "head_dim": 128},
                              "check"))
    for nbytes in (1 << 20, 16 << 20, 256 << 20):
        grid.append(BenchCase("memcpy_d2d", {"nbytes": nbytes}, "check"))
    for i, nbytes in enumerate(4096 * 4**j for j in range(9)):  # 4 KiB .. 256 MiB
        grid.append(BenchCase("memcpy_h2d", {"nbytes": nbytes}, "fit" if i % 2 == 0 else "check"))
    for i, nbytes in enumerate(4096 * 16**j for j in range(5)):  # 4 KiB .. 256 MiB
        grid.append(BenchCase("memcpy_d2h", {"nbytes": nbytes}, "fit" if i % 2 == 0 else "check"))
    # gathered-row (Triton) cases last: a fault there cannot spoil the others
    total_rows, cols = 13824, 5120
    for frac in (0.05, 0.1, 0.2, 0.5):
        for batch in (1, 8, 16):
            role: Role = "fit" if (frac == 0.2 and batch == 1) else "check"
            shape = {"gathered_rows": int(total_rows * frac), "cols": cols, "batch": batch,
                     "total_rows": total_rows}
            grid.append(BenchCase("sparse_gemv", shape, role))
    grid.append(BenchCase("sparse_gemv_contiguous",
                          {"gathered_rows": int(total_rows * 0.2), "cols": cols, "batch": 1,
                           "total_rows": total_rows}, "check"))
    grid.append(BenchCase("sparse_gemv", {"gathered_rows": 2867, "cols": 8192, "batch": 1,
                                          "total_rows": 28672}, "check"))
    return grid


# --- fitting ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class DeviceFacts:
    """What is known about the measured device before fitting: peaks (datasheet or measured)
    with their sources, and its PCIe link."""

    name: str
    display_name: str
    memory_capacity_gib: float
    peak_memory_bandwidth_gbps: float
    peak_fp16_tensor_tflops: float
    peak_fp16_tensor_fp32acc_tflops: float
    sm_count: int
    l2_cache_mib: float
    peaks_source: str
    device_source: str
    pcie_generation: int = 4
    pcie_lanes: int = 16
    pcie_source: str = "assumed PCIe 4.0 x16"


def assumed_flops_curve(peak_tflops: float, cap: float = 0.8) -> EfficiencyCurve:
    """The default FLOPs-efficiency shape used by datasheet profiles (5 us ramp, cap 0.8)."""
    f_half = peak_tflops * 1e3 * cap * 5e3
    points = [(10.0**e, round(max(cap * 10.0**e / (10.0**e + f_half), 1e-4), 4))
              for e in range(6, 14)]
    return EfficiencyCurve(points=points, source=(
        f"shape assumed [I]: eff(F) = {cap} * F / (F + {f_half:.3g} FLOP); no compute-bound GEMM "
        "was measured"))


def _monotone_log_times(sizes: list[float], effs: list[float],
                        weights: list[int]) -> list[float]:
    """Efficiencies whose times (size / eff) never decrease with size: the weighted least-squares
    fit in log-time under that constraint (pool-adjacent-violators). A point slower than a larger
    one is pooled with it at the geometric mean of their times, so neither side's measurement
    wins by its position (on the H200 a 1024^2 cuBLAS GEMV takes 7.7 us, a 2048^2 one 6.2 us)."""
    blocks: list[list[float]] = []  # [weighted sum of log t, weight, number of points]
    for size, eff, w in zip(sizes, effs, weights, strict=True):
        blocks.append([w * float(np.log(size / eff)), float(w), 1])
        while len(blocks) > 1 and (blocks[-2][0] / blocks[-2][1] > blocks[-1][0] / blocks[-1][1]):
            top = blocks.pop()
            blocks[-1] = [blocks[-1][0] + top[0], blocks[-1][1] + top[1], blocks[-1][2] + top[2]]
    log_t = [b[0] / b[1] for b in blocks for _ in range(int(b[2]))]
    return [size / float(np.exp(lt)) for size, lt in zip(sizes, log_t, strict=True)]


def _merge_points(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Sort by size, average points of equal size, clamp efficiencies to (0, 1], and make time
    non-decreasing in size (a larger kernel never takes less time) by pooling violators
    (:func:`_monotone_log_times`)."""
    by_size: dict[float, list[float]] = {}
    for size, eff in points:
        by_size.setdefault(float(size), []).append(eff)
    ordered = sorted(by_size.items())
    sizes = [size for size, _ in ordered]
    effs = [min(max(statistics.fmean(e), 1e-6), 1.0) for _, e in ordered]
    effs = _monotone_log_times(sizes, effs, [len(e) for _, e in ordered])
    merged: list[tuple[float, float]] = []
    for size, eff in zip(sizes, effs, strict=True):
        eff = min(max(eff, 1e-6), 1.0)
        if merged:  # guards rounding and the clamp at 1: never faster than the smaller point
            prev_size, prev_eff = merged[-1]
            eff = min(eff, prev_eff * size / prev_size)
        eff = float(f"{eff:.5g}")  # readable, and still time-monotone after rounding:
        while merged and size / eff < merged[-1][0] / merged[-1][1]:
            eff = float(f"{eff * (1 - 2e-4):.5g}")  # > one step of 5 digits
        merged.append((size, eff))
    return merged


def _times(measurements: list[Measurement], kernel: str, role: Role = "fit") -> list[Measurement]:
    return [m for m in measurements if m.ok and m.case.kernel == kernel and m.case.role == role]


def fit_pcie_line(samples: list[tuple[float, float]]) -> tuple[float, float]:
    """(latency_ns, bandwidth GB/s) of ``t = latency + bytes / bw`` minimising relative error."""
    if len(samples) < 2:
        raise ValueError("need at least two copy sizes to fit a PCIe line")
    nbytes = np.array([s[0] for s in samples], dtype=float)
    t = np.array([s[1] for s in samples], dtype=float)
    design = np.stack([1.0 / t, nbytes / t], axis=1)
    (latency, inv_bw), *_ = np.linalg.lstsq(design, np.ones_like(t), rcond=None)
    if inv_bw <= 0:
        raise ValueError("copy times do not grow with size; cannot fit a bandwidth")
    return max(float(latency), 0.0), 1.0 / float(inv_bw)


def fit_profile(measurements: list[Measurement], facts: DeviceFacts, provenance: str) -> GpuProfile:
    """Fit a :class:`GpuProfile` to the ``fit`` measurements (see the module docstring)."""
    meas = f"measured by `hermes gpu calibrate` ({provenance})"
    empty = _times(measurements, "empty")
    if not empty:
        raise ValueError("the empty-kernel measurement failed; cannot fit the kernel overhead")
    overhead = statistics.median(m.time_ns for m in empty)  # type: ignore[misc]
    peak_bw = facts.peak_memory_bandwidth_gbps
    peak_flop_per_ns = facts.peak_fp16_tensor_fp32acc_tflops * 1e3

    def body(m: Measurement) -> float:
        return max(m.time_ns - overhead, 1.0)  # type: ignore[operator]

    bw_points = []
    for m in _times(measurements, "gemv"):
        work = work_of(m.case)
        bw_points.append((work.nbytes, work.nbytes / (peak_bw * body(m))))
    if not bw_points:
        raise ValueError("no fit GEMV measurement succeeded; cannot fit the bandwidth curve")
    bandwidth_curve = EfficiencyCurve(points=_merge_points(bw_points), source=(
        f"{meas}: batch-1 square GEMVs, eff = bytes / (peak_bw * (t - kernel_overhead))"))

    fl_points = []
    for m in _times(measurements, "gemm"):
        work = work_of(m.case)
        if work.flops / peak_flop_per_ns > work.nbytes / peak_bw:
            fl_points.append((work.flops, work.flops / (peak_flop_per_ns * body(m))))
    if fl_points:
        flops_curve = EfficiencyCurve(points=_merge_points(fl_points), source=(
            f"{meas}: compute-bound square FP16 GEMMs (torch.mm, FP32 accumulate), "
            "eff = flops / (peak * (t - kernel_overhead))"))
    else:
        flops_curve = assumed_flops_curve(facts.peak_fp16_tensor_fp32acc_tflops)

    base = GpuProfile(
        name=facts.name,
        display_name=facts.display_name,
        memory_capacity_gib=CitedFloat(value=facts.memory_capacity_gib,
                                       source=facts.device_source),
        peak_memory_bandwidth_gbps=CitedFloat(value=peak_bw, source=facts.peaks_source),
        peak_fp16_tensor_tflops=CitedFloat(value=facts.peak_fp16_tensor_tflops,
                                           source=facts.peaks_source),
        peak_fp16_tensor_fp32acc_tflops=CitedFloat(
            value=facts.peak_fp16_tensor_fp32acc_tflops, source=facts.peaks_source),
        sm_count=CitedInt(value=facts.sm_count, source=facts.device_source),
        l2_cache_mib=CitedFloat(value=facts.l2_cache_mib, source=facts.device_source),
        bandwidth_curve=bandwidth_curve,
        flops_curve=flops_curve,
        kernel_overhead_ns=CitedFloat(value=round(overhead, 1), source=(
            f"{meas}: median time per empty kernel, CUDA-graph replay, back to back")),
    )
    updates: dict[str, object] = {}

    gathered = _times(measurements, "sparse_gemv")
    if gathered:
        model = GpuTimingModel(base)
        ratios = []
        for m in gathered:
            work = work_of(m.case)
            dense_ns = work.nbytes / model.achievable_gbps(work.nbytes)
            ratios.append(dense_ns / body(m))
        updates["gathered_row_efficiency"] = CitedFraction(
            value=round(min(max(statistics.median(ratios), 1e-4), 1.0), 4), source=(
                f"{meas}: gathered-row GEMV (Triton kernel, sorted random rows) vs the dense "
                "bandwidth curve"))

    for kernel, key in (("launch_enqueue", "launch_enqueue_ns"), ("launch_sync", "launch_sync_ns")):
        found = _times(measurements, kernel)
        if found:
            what = ("host time per eager PyTorch launch (includes framework dispatch)"
                    if kernel == "launch_enqueue" else "host time of launch + synchronize")
            updates[key] = CitedFloat(value=round(statistics.median(m.time_ns for m in found), 1),
                                      source=f"{meas}: {what}")

    raw = PCIE_LANE_GBPS[facts.pcie_generation] * facts.pcie_lanes
    link: dict[str, object] = {"generation": facts.pcie_generation, "lanes": facts.pcie_lanes}
    notes = [f"generation/lanes: {facts.pcie_source}"]
    for kernel, eff_key, lat_key in (("memcpy_h2d", "h2d_efficiency", "latency_ns"),
                                     ("memcpy_d2h", "d2h_efficiency", "d2h_latency_ns")):
        samples = [(m.case.shape["nbytes"], m.time_ns) for m in _times(measurements, kernel)]
        if len(samples) >= 2:
            latency, gbps = fit_pcie_line(samples)
            link[eff_key] = round(min(gbps / raw, 1.0), 4)
            link[lat_key] = round(latency, 1)
            notes.append(f"{kernel}: {gbps:.1f} GB/s of {raw:.1f} raw, latency {latency:.0f} ns")
    link["source"] = f"{meas}: pinned-memory copies, relative-error line fit; " + "; ".join(notes)
    updates["host_link"] = PcieConfig(**link)
    return base.model_copy(update=updates)


# --- prediction and the table ----------------------------------------------------------------
@dataclass(frozen=True)
class Row:
    case: BenchCase
    method: str
    measured_ns: float | None
    predicted_ns: float | None
    roofline_ns: float | None
    bound: str

    @property
    def error(self) -> float | None:
        """(predicted - measured) / measured."""
        if self.measured_ns and self.predicted_ns is not None:
            return (self.predicted_ns - self.measured_ns) / self.measured_ns
        return None


def predict(profile: GpuProfile, case: BenchCase) -> tuple[float, float | None, str] | None:
    """(predicted ns, roofline ns, bound) of a case under ``profile``; None for special cases."""
    if case.kernel in COPIES:
        link = PcieLink(profile.host_link)
        direction = "h2d" if case.kernel == "memcpy_h2d" else "d2h"
        nbytes = case.shape["nbytes"]
        return link.duration_ns(nbytes, direction), nbytes / link.config.raw_gbps, "pcie"
    work = work_of(case)
    if work is None:
        return None
    est = GpuTimingModel(profile).estimate(work)
    return est.time_ns, est.roofline_ns, est.bound


def prediction_rows(profile: GpuProfile, measurements: list[Measurement]) -> list[Row]:
    rows = []
    for m in measurements:
        pred = predict(profile, m.case) if m.ok else None
        if m.case.kernel in SPECIAL:
            rows.append(Row(m.case, m.method, m.time_ns, None, None, "-"))
        elif pred is None:
            rows.append(Row(m.case, m.method, m.time_ns, None, None, "-"))
        else:
            rows.append(Row(m.case, m.method, m.time_ns, pred[0], pred[1], pred[2]))
    return rows


def _us(ns: float | None) -> str:
    return "-" if ns is None else f"{ns / 1000:.2f}"


def summary(rows: list[Row]) -> list[tuple[str, str, int, float, float]]:
    """(kernel, role, n, median |error|, max |error|) per kernel and role."""
    groups: dict[tuple[str, str], list[float]] = {}
    for row in rows:
        if row.error is not None:
            groups.setdefault((row.case.kernel, row.case.role), []).append(abs(row.error))
    return [(k, r, len(v), statistics.median(v), max(v)) for (k, r), v in sorted(groups.items())]


def table_markdown(profile: GpuProfile, rows: list[Row], title: str) -> str:
    """Predicted-vs-measured table (and a per-kernel error summary) as Markdown."""
    out = [f"### {title}", "",
           "| kernel | shape | role | timing | measured us | predicted us | error | "
           "roofline us | bound |",
           "|---|---|---|---|---:|---:|---:|---:|---|"]
    for row in rows:
        err = "-" if row.error is None else f"{100 * row.error:+.1f}%"
        out.append(f"| {row.case.kernel} | {row.case.label() or '-'} | {row.case.role} | "
                   f"{row.method} | {_us(row.measured_ns)} | {_us(row.predicted_ns)} | {err} | "
                   f"{_us(row.roofline_ns)} | {row.bound} |")
    out += ["", "Error summary (|predicted - measured| / measured):", "",
            "| kernel | role | cases | median | max |", "|---|---|---:|---:|---:|"]
    for kernel, role, n, med, worst in summary(rows):
        out.append(f"| {kernel} | {role} | {n} | {100 * med:.1f}% | {100 * worst:.1f}% |")
    checks = [abs(r.error) for r in rows if r.error is not None and r.case.role == "check"]
    if checks:
        out += ["", f"All held-out (check) cases: {len(checks)}, median |error| "
                    f"{100 * statistics.median(checks):.1f}%, max {100 * max(checks):.1f}%."]
    return "\n".join(out) + "\n"
