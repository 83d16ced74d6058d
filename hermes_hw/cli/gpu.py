"""`hermes gpu`: list/show GPU profiles, estimate one kernel, calibrate a profile on a real GPU."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from hermes_hw.errors import InputError, unknown_name

# kernel -> (GpuTimingModel method, required options, optional options with defaults)
KERNELS: dict[str, tuple[str, tuple[str, ...], dict[str, int | None]]] = {
    "gemv": ("gemv", ("rows", "cols"), {"batch": 1}),
    "gemm": ("gemm", ("m", "n", "k"), {}),
    "sparse_gemv": ("sparse_gemv", ("gathered_rows", "cols"), {"batch": 1}),
    "output_projection": ("output_projection", ("hidden",), {"batch": 1}),
    "attention_decode": ("attention_decode", ("heads", "kv_len", "head_dim"),
                         {"batch": 1, "kv_heads": None}),
    "prefill_attention": ("prefill_attention", ("heads", "seq_len", "head_dim"),
                          {"batch": 1, "kv_heads": None}),
    "prefill_linear": ("prefill_linear", ("tokens", "rows", "cols"), {}),
    "elementwise": ("elementwise", ("n_elements",), {}),
}
SHAPE_OPTIONS = ("rows", "cols", "batch", "gathered_rows", "m", "n", "k", "hidden", "heads",
                 "kv_heads", "kv_len", "head_dim", "seq_len", "tokens", "n_elements")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got '{text}'") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _model(name: str):  # noqa: ANN202 - GpuTimingModel, imported lazily
    from hermes_hw.gpu import GpuTimingModel, get_profile

    return GpuTimingModel(get_profile(name))


# --- list / show ---------------------------------------------------------------------------
def run_list(args: argparse.Namespace) -> int:
    from hermes_hw.gpu import get_profile, list_profiles

    for name in list_profiles():
        profile = get_profile(name)
        print(f"{name:16} {profile.display_name}")
    return 0


def run_show(args: argparse.Namespace) -> int:
    from hermes_hw.gpu import get_profile
    from hermes_hw.gpu.profile import EfficiencyCurve, GpuProfile

    profile = get_profile(args.name)
    if args.json:
        print(json.dumps(profile.model_dump(mode="json"), indent=1))
        return 0
    print(f"{profile.name}: {profile.display_name}")
    for key, info in GpuProfile.model_fields.items():
        value = getattr(profile, key)
        if key in ("name", "display_name", "schema_version"):
            continue
        if isinstance(value, EfficiencyCurve):
            unit = "bytes" if key == "bandwidth_curve" else "FLOP"
            print(f"  {key}: efficiency vs {unit}  [{value.source}]")
            for size, eff in value.points:
                print(f"      {size:>14.4g} {unit:5}  {eff:.4f}")
        elif hasattr(value, "source") and hasattr(value, "value"):
            print(f"  {key:34} {value.value:<10g} [{value.source}]")
        elif key == "host_link":
            print(f"  host_link: PCIe {value.generation}.0 x{value.lanes}, "
                  f"{value.raw_gbps:.1f} GB/s raw per direction, h2d efficiency "
                  f"{value.h2d_efficiency}, d2h {value.d2h_efficiency}, latency "
                  f"{value.latency_ns:g} ns  [{value.source}]")
        else:
            print(f"  {key:34} {value}  ({info.description})")
    return 0


# --- estimate ------------------------------------------------------------------------------
def run_estimate(args: argparse.Namespace) -> int:
    gpu = _model(args.gpu)
    if args.kernel not in KERNELS:
        raise unknown_name("kernel", args.kernel, KERNELS, source="--kernel")
    method, required, optional = KERNELS[args.kernel]
    given = {key: getattr(args, key) for key in SHAPE_OPTIONS if getattr(args, key) is not None}
    missing = [key for key in required if key not in given]
    if missing:
        flags = ", ".join("--" + key.replace("_", "-") for key in missing)
        raise InputError(f"--kernel {args.kernel} needs {flags}")
    unused = sorted(set(given) - set(required) - set(optional))
    if unused:
        flags = ", ".join("--" + key.replace("_", "-") for key in unused)
        raise InputError(f"--kernel {args.kernel} does not take {flags}")
    kwargs = {**{k: v for k, v in optional.items() if v is not None}, **given}
    if args.dtype_bytes is not None:
        kwargs["dtype_bytes"] = args.dtype_bytes
    try:
        est = getattr(gpu, method)(**kwargs)
    except ValueError as err:
        raise InputError(str(err)) from None
    if args.json:
        print(json.dumps(est.to_dict(), indent=1, sort_keys=True))
        return 0
    peak_bw = gpu.peak_gbps
    shape = " ".join(f"{k}={v}" for k, v in est.shape.items())
    limiter = est.memory_ns if est.bound == "memory" else est.compute_ns
    if est.bound == "memory":
        why = (f"{est.nbytes / 1e6:.3f} MB at {est.nbytes / limiter:.0f} GB/s = "
               f"{100 * est.bandwidth_efficiency:.1f}% of {peak_bw:g} GB/s")
    else:
        why = (f"{est.flops / 1e9:.3f} GFLOP at {est.flops / limiter / 1e3:.1f} TFLOP/s = "
               f"{100 * est.flops_efficiency:.1f}% of {gpu.profile.matmul_peak_tflops():g}")
    print(f"{est.gpu} {est.kernel} {shape}")
    print(f"  estimate  {est.time_ns / 1e3:10.3f} us  ({est.bound}-bound: {why}; "
          f"+{est.overhead_ns / 1e3:.2f} us kernel overhead)")
    print(f"  roofline  {est.roofline_ns / 1e3:10.3f} us  ({est.roofline_bound}-bound at datasheet "
          f"peaks; intensity {est.intensity_flop_per_byte:.2f} FLOP/B, ridge "
          f"{est.ridge_flop_per_byte:.1f} FLOP/B)")
    print(f"  terms     memory {est.memory_ns / 1e3:.3f} us, compute {est.compute_ns / 1e3:.3f} us;"
          f" bytes {est.nbytes:,.0f}, FLOPs {est.flops:,.0f}")
    print(f"  achieved  {est.achieved_gbps:.1f} GB/s, {est.achieved_tflops:.3f} TFLOP/s; host "
          f"enqueue {est.host_enqueue_ns / 1e3:.2f} us per launch")
    return 0


# --- calibrate -----------------------------------------------------------------------------
def run_calibrate(args: argparse.Namespace) -> int:
    from hermes_hw.gpu.calibrate import run_calibration

    if args.out.exists() and args.out.is_dir():
        raise InputError("--out must be a file path (.yaml), not a folder", source=str(args.out))
    return run_calibration(out=args.out, table=args.table, raw=args.raw, name=args.name,
                           from_raw=args.from_raw, reps=args.reps)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("gpu", help="GPU profiles, kernel estimates, calibration")
    sub = parser.add_subparsers(dest="gpu_command", metavar="ACTION", required=True)

    p_list = sub.add_parser("list", help="list the available GPU profiles")
    p_list.set_defaults(func=run_list)

    p_show = sub.add_parser("show", help="show one profile with the source of every value")
    p_show.add_argument("name", help="profile name (see `hermes gpu list`) or a .yaml path")
    p_show.add_argument("--json", action="store_true", help="print the profile as JSON")
    p_show.set_defaults(func=run_show)

    p_est = sub.add_parser("estimate", help="estimate one kernel's time and its roofline bound")
    p_est.add_argument("--gpu", default="rtx4090", help="profile name or .yaml path")
    p_est.add_argument("--kernel", default="gemv", help=f"one of: {', '.join(KERNELS)}")
    for key in SHAPE_OPTIONS:
        p_est.add_argument("--" + key.replace("_", "-"), dest=key, type=_positive_int,
                           default=None, metavar="N")
    p_est.add_argument("--dtype-bytes", type=_positive_int, default=None, metavar="N",
                       help="bytes per element (default 2, FP16)")
    p_est.add_argument("--json", action="store_true", help="print the estimate as JSON")
    p_est.set_defaults(func=run_estimate)

    p_cal = sub.add_parser("calibrate", help="time real kernels (torch + CUDA) and fit a profile")
    p_cal.add_argument("--out", type=Path, required=True, help="profile YAML to write")
    p_cal.add_argument("--table", type=Path, default=None,
                       help="write the predicted-vs-measured Markdown table here")
    p_cal.add_argument("--raw", type=Path, default=None,
                       help="write the raw measurements (JSON) here, updated after each case")
    p_cal.add_argument("--from-raw", type=Path, default=None, metavar="JSON",
                       help="refit saved raw measurements instead of measuring (no GPU needed)")
    p_cal.add_argument("--name", default=None,
                       help="profile name (default: from the device name nvidia-smi reports)")
    p_cal.add_argument("--reps", type=_positive_int, default=10,
                       help="timed graph replays per case (median taken)")
    p_cal.set_defaults(func=run_calibrate)
