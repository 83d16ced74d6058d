"""`hermes ndp`: NDP-DIMM studies (internal bandwidth, multiplier sensitivity, fast-mode error)."""

from __future__ import annotations

import argparse
import json


def _ints(text: str, name: str, minimum: int = 1) -> list[int]:
    from hermes_hw.errors import InputError

    try:
        vals = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise InputError(f"--{name}: expected comma-separated integers, got '{text}'") from None
    if not vals or min(vals) < minimum:
        raise InputError(f"--{name}: values must be integers >= {minimum}")
    return vals


def _bandwidth(args: argparse.Namespace) -> int:
    from hermes_hw.ndp.studies import internal_bandwidth

    r = internal_bandwidth(args.dram, args.requests)
    if args.json:
        print(json.dumps(r, indent=1))
        return 0
    print(f"one DIMM ({args.dram}), {args.requests:,} sequential 64 B reads, cycle-level:")
    print(f"  NDP access mode (each rank its own data path): {r['ndp_gbps']:.1f} GB/s")
    print(f"  host access mode (ranks share the channel):   {r['host_gbps']:.1f} GB/s")
    print(f"  rank-level ceiling {r['rank_ceiling_gbps']:.1f} GB/s (= ranks x "
          f"{r['channel_gbps']:.1f}); paper Fig. 1 label ~{r['paper_label_gbps']:.0f} GB/s")
    return 0


def _sensitivity(args: argparse.Namespace) -> int:
    from hermes_hw.ndp.studies import sensitivity

    rows = sensitivity(args.model, _ints(args.multipliers, "multipliers"),
                       _ints(args.batch, "batch"), layers=args.layers, fast=args.fast)
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    mode = "fast mode, all layers" if args.fast else f"cycle-level, {rows[0]['layers']} layers"
    print(f"{args.model}: NDP time per layer on DIMM 0 vs multipliers ({mode})")
    print(f"{'batch':>5} {'mult':>5} {'us/layer':>9} {'compute share':>13}  bound")
    for r in rows:
        print(f"{r['batch']:>5} {r['multipliers']:>5} {r['us_per_layer']:>9.2f} "
              f"{r['compute_share']:>13.2f}  {r['bound']}")
    return 0


def _fast_error(args: argparse.Namespace) -> int:
    from hermes_hw.ndp.config import NdpSystemConfig
    from hermes_hw.ndp.studies import PAPER_MODELS, fast_error

    models = args.models.split(",") if args.models else list(PAPER_MODELS)
    system = NdpSystemConfig(unit={"write_fence": True}) if args.write_fence else None
    rows = fast_error(models, batch=args.batch, layers=args.layers,
                      dimms=_ints(args.dimms, "dimms", minimum=0), system=system)
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    print(f"fast mode vs cycle-level, per-layer DIMM time (batch {args.batch}); 'runs': the "
          "model the fast mode runs (cycle-level where its fit misses fast.tolerance, 'fit %': "
          "max per-layer error on its calibration layers and held-out DIMM)")
    print(f"{'model':<12} {'fit %':>6} {'runs':>10} {'max err %':>9} {'mean err %':>10} "
          f"{'total err %':>11} {'ms':>6}   {'analytical: max %':>17} {'mean %':>7} {'ms':>6}")
    for r in rows:
        print(f"{r['model']:<12} {100 * r['fit_error']:>6.2f} {r['fast_model']:>10} "
              f"{100 * r['max_layer_error']:>9.2f} {100 * r['mean_layer_error']:>10.2f} "
              f"{100 * r['total_error']:>+11.2f} {1e3 * r['fast_seconds']:>6.1f}   "
              f"{100 * r['analytical_max_layer_error']:>17.2f} "
              f"{100 * r['analytical_mean_layer_error']:>7.2f} "
              f"{1e3 * r['analytical_seconds']:>6.1f}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("ndp", help="NDP-DIMM studies: bandwidth, sensitivity, fast error")
    sub = p.add_subparsers(dest="ndp_command", metavar="ACTION", required=True)
    b = sub.add_parser("bandwidth", help="internal bandwidth of one DIMM in NDP vs host mode")
    b.add_argument("--dram", default="hermes_ndp_dimm.yaml", help="DRAM config of one DIMM")
    b.add_argument("--requests", type=int, default=400_000, help="sequential reads to stream")
    b.add_argument("--json", action="store_true")
    b.set_defaults(func=_bandwidth)
    s = sub.add_parser("sensitivity", help="DIMM time vs GEMV multipliers at batch 1 and 16")
    s.add_argument("--model", default="llama2-70b")
    s.add_argument("--multipliers", default="32,64,128,256,512")
    s.add_argument("--batch", default="1,16")
    s.add_argument("--layers", type=int, default=4, help="sampled layers (cycle-level)")
    s.add_argument("--fast", action="store_true", help="fast mode over all layers")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=_sensitivity)
    e = sub.add_parser("fast-error", help="fast mode vs cycle-level per model")
    e.add_argument("--models", help="comma-separated model ids (default: the six paper models)")
    e.add_argument("--batch", type=int, default=1)
    e.add_argument("--layers", type=int, default=8, help="evaluation layers per model")
    e.add_argument("--dimms", default="0,1", help="DIMMs compared (default 0,1)")
    e.add_argument("--write-fence", action="store_true",
                   help="NDP unit with unit.write_fence (reduce waits for its writes in DRAM)")
    e.add_argument("--json", action="store_true")
    e.set_defaults(func=_fast_error)
