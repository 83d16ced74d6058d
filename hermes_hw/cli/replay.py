"""`hermes replay DIR`: replay a lowered NDP trace directory, per DIMM (cycle-level or fast)."""

from __future__ import annotations

import argparse
import json
import sys
import time


def _layers(text: str | None) -> list[int] | None:
    from hermes_hw.errors import InputError

    if not text:
        return None
    try:
        return sorted({int(x) for x in text.split(",") if x.strip()})
    except ValueError:
        raise InputError(f"--layers: expected comma-separated integers, got '{text}'") from None


def _run(args: argparse.Namespace) -> int:
    from hermes_hw.errors import InputError
    from hermes_hw.ndp.run import summarize, timed_replay

    if args.jobs is not None and args.jobs < 1:
        raise InputError(f"--jobs must be at least 1, got {args.jobs}")
    if args.analytical and not args.fast:
        raise InputError("--analytical selects the fast mode's model: use it with --fast")
    t0 = time.perf_counter()
    results, _ = timed_replay(args.dir, jobs=args.jobs, fast=args.fast,
                              layers=_layers(args.layers), analytical=args.analytical)
    wall = time.perf_counter() - t0
    out = summarize(args.dir, results, wall, "fast" if args.fast else "cycle",
                    with_layers=args.json, with_ops=args.ops)
    choice = out.get("fast_model", {})
    if choice.get("warning"):
        print(f"warning: {choice['warning']}", file=sys.stderr)
    if args.json:
        print(json.dumps(out, indent=1))
        return 0
    print(f"{out['model']}: {out['tokens']} token(s), batch {out['batch']}, {out['mode']} mode, "
          f"{wall:.2f} s wall")
    if choice:
        print(f"fast mode ran the {choice['model']} model: {choice['reason']}"
              if "reason" in choice else f"fast mode ran the {choice['model']} model")
    print(f"{'DIMM':>4} {'busy us':>11} {'requests':>12} {'GB/s':>7} {'compute us':>11}")
    for d in out["dimms"]:
        print(f"{d['dimm']:>4} {d['busy_time_ns'] / 1e3:>11.1f} {d['requests']:>12,} "
              f"{d['read_bandwidth_gbps']:>7.1f} {d['compute_ns'] / 1e3:>11.1f}")
    print(f"slowest DIMM {out['max_busy_time_ns'] / 1e3:.1f} us, imbalance (max/mean) "
          f"{out['busy_imbalance']:.3f}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("replay", help="replay a lowered NDP trace directory")
    p.add_argument("dir", help="trace directory written by `hermes lower`")
    p.add_argument("--json", action="store_true",
                   help="print JSON (per-DIMM busy time in ns, per-layer timelines, wall_seconds)")
    p.add_argument("--fast", action="store_true",
                   help="analytical mode fitted to cycle-level runs (cached per configuration)")
    p.add_argument("--analytical", action="store_true",
                   help="with --fast: always the analytical model, even where its fit misses "
                        "the system's fast.tolerance (default: cycle-level replay there when "
                        "small enough; docs/ndp.md)")
    p.add_argument("--jobs", type=int, help="parallel processes (default: CPU count)")
    p.add_argument("--layers", help="replay only these layers (comma-separated)")
    p.add_argument("--ops", action="store_true", help="with --json: include every op")
    p.set_defaults(func=_run)
