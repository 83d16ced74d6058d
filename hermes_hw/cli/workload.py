"""`hermes workload`: run the workload side (activations, predictor, placement, scheduling)
and print per-layer-group statistics; `--generator-stats` prints the synthetic source's
statistics next to their targets."""

from __future__ import annotations

import argparse
import json
import math


def _fmt(v) -> str:
    if isinstance(v, float):
        return "  n/a" if math.isnan(v) else f"{v:5.3f}"
    return str(v)


def _options(args: argparse.Namespace):
    from hermes_hw.workload.pipeline import WorkloadOptions
    from hermes_hw.workload.placement import SystemParams

    predictor_options = {}
    if args.predictor == "hermes":
        predictor_options = {"comparison": args.comparison}
    source_options = {}
    if args.activations == "masks":
        if not args.masks:
            from hermes_hw.errors import InputError

            raise InputError("--activations masks needs --masks FILE.npz")
        source_options = {"path": args.masks}
    return WorkloadOptions(
        prompt_tokens=args.prompt, decode_tokens=args.tokens, batch=args.batch, seed=args.seed,
        source=args.activations, source_options=source_options, predictor=args.predictor,
        predictor_options=predictor_options, placement=args.placement,
        adjust=not args.no_adjust, remap=not args.no_remap, window=args.window,
        build_worklists=False,
        system=SystemParams(n_dimms=args.dimms, dimm_bandwidth_gbps=args.dimm_gbps,
                            gpu_weight_budget_bytes=int(args.gpu_weight_gb * 1e9)),
    )


def _run(args: argparse.Namespace) -> int:
    import hermes_hw.workload.activations.imports  # noqa: F401  (registers import sources)
    from hermes_hw.workload.models import load_model
    from hermes_hw.workload.pipeline import Workload

    model = load_model(args.model, dtype=args.dtype)
    options = _options(args)
    if args.generator_stats:
        from hermes_hw.workload.activations.stats import generator_stats

        workload = Workload(model, options)
        stats = generator_stats(workload._trace())
        if args.json:
            print(json.dumps(stats, indent=2))
        else:
            print(f"synthetic activations for {model.id}: {options.prompt_tokens + args.tokens} "
                  f"tokens, batch {args.batch}, seed {args.seed}")
            print(f"{'statistic':<44} {'measured':>9} {'target':>9}  source")
            for row in stats["rows"]:
                print(f"{row['name']:<44} {row['measured']:>9.3f} {row['target']:>9}  "
                      f"{row['source']}")
        return 0
    report = Workload(model, options).run_all()
    totals = report.totals()
    if args.json:
        print(json.dumps({"model": model.id, "totals": totals, "groups": report.groups(
            args.groups), "predictor_cost": report.predictor_cost,
            "timings_s": report.timings_s}, indent=2, default=float))
        return 0
    print(f"{model.config.name}: {args.tokens} decode tokens after a {args.prompt}-token prompt, "
          f"batch {args.batch}, {options.source} activations, {options.predictor} predictor, "
          f"{options.placement} placement, {options.system.n_dimms} DIMMs, seed {args.seed}")
    cols = ["layers", "kind", "sparsity", "recall", "precision", "gpu_share",
            "imbalance_no_remap", "imbalance_remap"]
    heads = ["layers", "kind", "sparsity", "recall", "precis.", "GPU share", "imb. static",
             "imb. remap"]
    print("  ".join(f"{h:>11}" for h in heads))
    for row in report.groups(args.groups):
        print("  ".join(f"{_fmt(row[c]):>11}" for c in cols))
    print(f"all blocks: sparsity {totals['true_sparsity']:.3f} (predicted "
          f"{totals['predicted_sparsity']:.3f}), recall {totals['recall']:.3f}, precision "
          f"{totals['precision']:.3f}, accuracy {totals['accuracy']:.3f}, GPU share of active "
          f"{totals['gpu_share']:.3f}")
    print(f"DIMM load imbalance (max/mean per block and window, after the first window): "
          f"{_fmt(totals['imbalance_no_remap'])} without remapping, "
          f"{_fmt(totals['imbalance_remap'])} with (next window); "
          f"{_fmt(totals['imbalance_in_window'])} within the rebalanced window")
    print(f"moved per token: PCIe promotions {totals['pcie_bytes_per_token'] / 1e6:.2f} MB, "
          f"DIMM-Link remaps {totals['dimm_link_bytes_per_token'] / 1e6:.2f} MB; "
          f"hot neurons that turned cold at least once: {totals['hot_churn']:.2f}")
    print(f"placement: objective {totals['placement_objective_s'] * 1e3:.3f} ms/token, solved "
          f"in {totals['placement_seconds']:.2f} s; predictor tables "
          f"{report.predictor_cost.get('table_bytes', 0) / 2**10:.0f} KiB")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("workload", help="run predictor, placement and DIMM scheduling")
    p.add_argument("--model", required=True, help="model id, .yaml or HF config.json")
    p.add_argument("--tokens", type=int, default=128, help="decode tokens (default 128)")
    p.add_argument("--prompt", type=int, default=128, help="prompt tokens (default 128)")
    p.add_argument("--batch", type=int, default=1, help="requests per batch (default 1)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--dtype", default="fp16", help="weight type: fp16, int8, int4")
    p.add_argument("--activations", default="synthetic",
                   help="activation source: synthetic (default) or masks")
    p.add_argument("--masks", help="activation masks .npz (traces/activation_masks.md)")
    p.add_argument("--predictor", default="hermes",
                   help="hermes (default), oracle, dejavu, powerinfer")
    p.add_argument("--comparison", default=">", choices=[">", ">="],
                   help="Hermes rule s1 + 6*s2 (>|>=) 15 (default '>', as printed)")
    p.add_argument("--placement", default="ilp", help="ilp (default), greedy, random, fixed")
    p.add_argument("--no-adjust", action="store_true", help="disable online hot/cold adjustment")
    p.add_argument("--no-remap", action="store_true", help="disable window remapping")
    p.add_argument("--window", type=int, default=5, help="remapping window in tokens (default 5)")
    p.add_argument("--dimms", type=int, default=8, help="number of NDP-DIMMs (default 8)")
    p.add_argument("--dimm-gbps", type=float, default=102.4,
                   help="per-DIMM NDP bandwidth in GB/s (default 102.4)")
    p.add_argument("--gpu-weight-gb", type=float, default=20.0,
                   help="GPU memory for weights in GB (default 20)")
    p.add_argument("--groups", type=int, default=8, help="layer groups in the table (default 8)")
    p.add_argument("--generator-stats", action="store_true",
                   help="print the synthetic source's statistics next to their targets")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_run)
