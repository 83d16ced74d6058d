"""`hermes gpu calibrate`: time real kernels, fit a profile, write it and a predicted-vs-measured
table. Needs torch with a CUDA GPU (imported only here); ``from_raw`` refits saved measurements
without a GPU."""

from __future__ import annotations

import datetime as _dt
import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from hermes_hw.errors import InputError
from hermes_hw.gpu.datasheets import find_datasheet
from hermes_hw.gpu.fit import (
    BenchCase,
    DeviceFacts,
    Measurement,
    default_grid,
    fit_profile,
    prediction_rows,
    summary,
    table_markdown,
    work_of,
)
from hermes_hw.gpu.profile import GpuProfile, profile_to_yaml

NEEDS = "`hermes gpu calibrate` needs PyTorch with a CUDA GPU"


class Bench(Protocol):
    def measure(self, case: BenchCase) -> Measurement: ...


def slug(device_name: str) -> str:
    """'NVIDIA H100 80GB HBM3' -> 'h100-80gb-hbm3'."""
    name = re.sub(r"^nvidia\s+", "", device_name.strip(), flags=re.IGNORECASE).lower()
    return re.sub(r"[^a-z0-9.]+", "-", name).strip("-") or "gpu"


def _nvidia_smi() -> dict[str, str]:
    """A few facts from nvidia-smi (empty where it is missing or a field is unsupported)."""
    fields = ["name", "memory.total", "driver_version", "pcie.link.gen.max",
              "pcie.link.width.max"]
    for chosen in (fields, fields[:3]):
        try:
            out = subprocess.run(
                ["nvidia-smi", f"--query-gpu={','.join(chosen)}", "--format=csv,noheader"],
                capture_output=True, text=True, timeout=30, check=True,
            ).stdout.splitlines()
        except (OSError, subprocess.SubprocessError):
            continue
        if out:
            values = [v.strip() for v in out[0].split(",")]
            return dict(zip(chosen, values, strict=False))
    return {}


def device_info(torch: Any) -> dict[str, Any]:
    """What the calibration records about the device and software."""
    props = torch.cuda.get_device_properties(0)
    smi = _nvidia_smi()
    return {
        "name": smi.get("name") or props.name,
        "torch_name": props.name,
        "total_memory_bytes": int(props.total_memory),
        "sm_count": int(props.multi_processor_count),
        "l2_bytes": int(getattr(props, "L2_cache_size", 0) or 0),
        "driver": smi.get("driver_version", "unknown"),
        "pcie_gen_max": smi.get("pcie.link.gen.max", ""),
        "pcie_width_max": smi.get("pcie.link.width.max", ""),
        "torch": str(torch.__version__),
        "cuda": str(torch.version.cuda),
        "date": _dt.date.today().isoformat(),
    }


def _int_or(text: str, default: int) -> int:
    try:
        return int(str(text).strip())
    except ValueError:
        return default


def device_facts(info: dict[str, Any], measurements: list[Measurement],
                 name: str | None = None) -> DeviceFacts:
    """Peaks for fitting: the datasheet when the device is known, else the best measured rates."""
    device = str(info["name"])
    sheet = find_datasheet(device)
    dev_src = (f"CUDA device properties of '{device}' via torch {info.get('torch', '?')} "
               f"(driver {info.get('driver', '?')})")
    gen_default = sheet.pcie_generation if sheet else 4
    gen = _int_or(info.get("pcie_gen_max", ""), gen_default)
    lanes = _int_or(info.get("pcie_width_max", ""), 16)
    if gen not in range(1, 7) or lanes not in (1, 2, 4, 8, 16):
        gen, lanes = gen_default, 16
    pcie_src = ("nvidia-smi pcie.link.gen.max / width.max" if info.get("pcie_gen_max")
                else f"assumed PCIe {gen_default}.0 x16 (datasheet)")
    if sheet is not None:
        bw, f16, f32 = (sheet.peak_memory_bandwidth_gbps, sheet.peak_fp16_tensor_tflops,
                        sheet.peak_fp16_tensor_fp32acc_tflops)
        peaks_src = f"{sheet.source}; matched '{device}' as {sheet.display_name}"
    else:
        bw = max((work_of(m.case).nbytes / m.time_ns for m in measurements
                  if m.ok and m.case.kernel in ("gemv", "memcpy_d2d")), default=0.0)
        f32 = max((work_of(m.case).flops / m.time_ns / 1e3 for m in measurements
                   if m.ok and m.case.kernel == "gemm"), default=0.0)
        f16 = f32
        if bw <= 0 or f32 <= 0:
            raise ValueError(f"no datasheet entry for '{device}' and no usable measurement")
        peaks_src = (f"no datasheet entry for '{device}': peaks are the best measured rates, so "
                     "efficiencies are relative to them")
    return DeviceFacts(
        name=name or slug(device),
        display_name=device,
        memory_capacity_gib=round(info["total_memory_bytes"] / 2**30, 2),
        peak_memory_bandwidth_gbps=bw,
        peak_fp16_tensor_tflops=f16,
        peak_fp16_tensor_fp32acc_tflops=f32,
        sm_count=int(info["sm_count"]),
        l2_cache_mib=round((info.get("l2_bytes") or 50 << 20) / 2**20, 2),
        peaks_source=peaks_src,
        device_source=dev_src,
        pcie_generation=gen,
        pcie_lanes=lanes,
        pcie_source=pcie_src,
    )


def measurements_to_json(info: dict[str, Any], measurements: list[Measurement]) -> str:
    rows = [{"kernel": m.case.kernel, "shape": m.case.shape, "role": m.case.role,
             "time_ns": m.time_ns, "method": m.method} for m in measurements]
    return json.dumps({"device": info, "measurements": rows}, indent=1)


def measurements_from_json(path: Path) -> tuple[dict[str, Any], list[Measurement]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        info = data["device"]
        meas = [Measurement(BenchCase(r["kernel"], dict(r["shape"]), r["role"]),
                            r["time_ns"], r["method"]) for r in data["measurements"]]
    except OSError as err:
        raise InputError(f"cannot read raw measurements: {err.strerror}",
                         source=str(path)) from None
    except (ValueError, KeyError, TypeError) as err:
        raise InputError(f"not a raw-measurement file from `hermes gpu calibrate` ({err})",
                         source=str(path)) from None
    for key in ("name", "total_memory_bytes", "sm_count"):
        if key not in info:
            raise InputError(f"missing required field 'device.{key}'", source=str(path))
    return info, meas


def measure_grid(bench: Bench, grid: list[BenchCase], *, log: Callable[[str], None],
                 on_result: Callable[[list[Measurement]], None] | None = None,
                 ) -> list[Measurement]:
    results: list[Measurement] = []
    for i, case in enumerate(grid, 1):
        m = bench.measure(case)
        results.append(m)
        shown = f"{m.time_ns / 1000:.2f} us" if m.ok else "-"
        log(f"[{i}/{len(grid)}] {case.kernel} {case.label()}: {shown} ({m.method})")
        if on_result is not None:
            on_result(results)
    return results


def fit_and_write(info: dict[str, Any], measurements: list[Measurement], *, out: Path,
                  table: Path | None, name: str | None) -> tuple[GpuProfile, str]:
    """Fit, then write the profile YAML (and the table); returns (profile, table markdown)."""
    facts = device_facts(info, measurements, name)
    provenance = (f"{info['name']}, driver {info.get('driver', '?')}, "
                  f"torch {info.get('torch', '?')}, CUDA {info.get('cuda', '?')}, "
                  f"{info.get('date', '?')}")
    profile = fit_profile(measurements, facts, provenance)
    rows = prediction_rows(profile, measurements)
    md = table_markdown(profile, rows, f"{facts.display_name}: predicted vs measured")
    failed = [m for m in measurements if not m.ok]
    header = [f"GPU profile measured by `hermes gpu calibrate` on {provenance}.",
              "Peaks are datasheet values; curves, overheads and the PCIe fit come from timed",
              "kernels (protocol: hermes_hw/gpu/fit.py). Error per case: see the table written",
              "beside it (docs/gpu_model.md for the committed H100 run)."]
    header += [f"{k} ({r}): {n} cases, median |error| {100 * med:.1f}%, max {100 * mx:.1f}%"
               for k, r, n, med, mx in summary(rows)]
    if failed:
        header += [f"failed: {m.case.kernel} {m.case.label()}: {m.method}" for m in failed]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(profile_to_yaml(profile, "\n".join(header)), encoding="utf-8")
    if table is not None:
        table.parent.mkdir(parents=True, exist_ok=True)
        table.write_text(md, encoding="utf-8")
    return profile, md


def run_calibration(*, out: Path, table: Path | None, raw: Path | None, name: str | None,
                    from_raw: Path | None, reps: int = 10) -> int:
    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    if from_raw is not None:
        info, measurements = measurements_from_json(from_raw)
    else:
        try:
            import torch
        except ImportError:
            raise InputError(f"{NEEDS}: torch is not installed "
                             "(pip install 'hermes-hw[torch]')") from None
        if not torch.cuda.is_available():
            raise InputError(f"{NEEDS}: torch {torch.__version__} sees no CUDA device")
        from hermes_hw.gpu.bench_torch import TorchCudaBench

        torch.manual_seed(0)
        info = device_info(torch)
        log(f"calibrating {info['name']} (torch {info['torch']}, CUDA {info['cuda']})")
        bench = TorchCudaBench(torch, l2_bytes=info["l2_bytes"] or (50 << 20), reps=reps)

        def save(results: list[Measurement]) -> None:
            if bench.gather_error:
                log(f"note: gathered-GEMV variant(s) failed the check: {bench.gather_error}")
                bench.gather_error = ""
            if raw is not None:
                raw.parent.mkdir(parents=True, exist_ok=True)
                raw.write_text(measurements_to_json(info, results), encoding="utf-8")

        measurements = measure_grid(bench, default_grid(), log=log, on_result=save)
    try:
        profile, md = fit_and_write(info, measurements, out=out, table=table, name=name)
    except ValueError as err:
        raise InputError(f"calibration could not be fitted: {err}") from None
    print(md)
    print(f"wrote {out}" + (f" and {table}" if table else ""))
    return 0
