"""`hermes validate ...`: accuracy against reference data, printed per case."""

from __future__ import annotations

import argparse
import sys


def _dram(args: argparse.Namespace) -> int:
    from hermes_hw.dram.validate import (
        TOLERANCES,
        compare_backends,
        format_side_by_side,
        format_table,
        validate_folder,
    )

    if args.against:
        pairs = compare_backends(args.folder, args.against, cases=args.case or None)
        print(format_side_by_side(pairs, args.against, markdown=args.markdown))
        bad = [b.case_id for _, b in pairs if not b.passed] + [a.case_id for a, _ in pairs
                                                               if not a.passed]
        return 1 if bad else 0
    results = validate_folder(args.folder, backend=args.backend, cases=args.case or None)
    print(format_table(results, markdown=args.markdown))
    failed = [r.case_id for r in results if not r.passed]
    tol = ", ".join(f"{k} {v * 100:g}%" for k, v in TOLERANCES.items())
    print(f"\n{len(results) - len(failed)}/{len(results)} cases within tolerance ({tol}); "
          "hit/miss/conflict errors are differences as a share of requests", file=sys.stderr)
    return 1 if failed else 0


def _paper(args: argparse.Namespace) -> int:
    from hermes_hw.errors import InputError, unknown_name
    from hermes_hw.systems.paper import PAPER_CELLS, format_results, run_cells, summary

    cells = None
    if args.cell:
        names = {f"{m}/{s}": (m, s) for m, s in PAPER_CELLS}
        for c in args.cell:
            if c not in names:
                raise unknown_name("calibration cell (--cell MODEL/SYSTEM)", c, names)
        cells = {names[c]: PAPER_CELLS[names[c]] for c in args.cell}
    systems = sorted({s for _m, s in PAPER_CELLS})
    paths: dict[str, str] = {}
    for item in args.config or []:
        system, sep, path = item.partition("=")
        if not sep or "/" in system:  # a plain path (which may itself contain '=')
            system, path = "*", item
        if system != "*" and system not in systems:
            raise unknown_name("system of --config SYSTEM=FILE", system, systems)
        if system in paths:
            which = "every system" if system == "*" else system
            raise InputError(f"--config given twice for {which}")
        paths[system] = path
    results = run_cells(cells, config_paths=paths)
    print(format_results(results, markdown=args.markdown))
    s = summary(results)
    return 0 if s["median_abs_error"] < 0.10 and s["max_abs_error"] <= 0.25 else 1


def _gpu(args: argparse.Namespace) -> int:
    import statistics
    from pathlib import Path

    from hermes_hw.gpu import get_profile
    from hermes_hw.gpu.calibrate import measurements_from_json
    from hermes_hw.gpu.fit import prediction_rows, table_markdown

    info, measurements = measurements_from_json(Path(args.raw))
    profile = get_profile(args.profile)
    rows = prediction_rows(profile, measurements)
    print(table_markdown(profile, rows, f"{profile.name} profile vs measurements of "
                         f"{info['name']} ({info.get('date', '?')}, {args.raw})"), end="")
    errors = [abs(r.error) for r in rows if r.error is not None]
    if errors:
        print(f"All timed cases (none of them fitted to this profile unless it was calibrated on "
              f"these measurements): {len(errors)}, median |error| "
              f"{100 * statistics.median(errors):.1f}%, max {100 * max(errors):.1f}%.")
    return 0


def _ndp_fast(args: argparse.Namespace) -> int:
    from hermes_hw.cli.ndp import _ints
    from hermes_hw.errors import unknown_name
    from hermes_hw.ndp.config import NdpSystemConfig
    from hermes_hw.ndp.studies import fast_error
    from hermes_hw.text_table import render_table
    from hermes_hw.workload.models.loader import builtin_model_ids

    known = builtin_model_ids()
    models = args.models.split(",") if args.models else known
    for m in models:
        if m not in known:
            raise unknown_name("model of --models (a built-in id)", m, known)
    system = NdpSystemConfig()
    dimms = list(range(system.n_dimms)) if args.dimms == "all" else \
        _ints(args.dimms, "dimms", minimum=0)
    tol = system.fast.tolerance
    rows = [r for b in _ints(args.batch, "batch") for r in fast_error(
        models, batch=b, layers=args.layers, dimms=dimms, system=system)]
    head = ["model", "batch", "fit %", "runs", "max %", "mean %", "total %", "ms",
            "analytical max %", "analytical mean %", "analytical ms"]
    lines = []
    for r in rows:
        lines.append([r["model"], str(r["batch"]), f"{100 * r['fit_error']:.2f}",
                      r["fast_model"], f"{100 * r['max_layer_error']:.2f}",
                      f"{100 * r['mean_layer_error']:.2f}", f"{100 * r['total_error']:+.2f}",
                      f"{1e3 * r['fast_seconds']:.1f}",
                      f"{100 * r['analytical_max_layer_error']:.2f}",
                      f"{100 * r['analytical_mean_layer_error']:.2f}",
                      f"{1e3 * r['analytical_seconds']:.1f}"])
    print(render_table(head, lines, args.markdown))
    ok = [r for r in rows if r["max_layer_error"] <= tol]
    ana = [r for r in rows if r["analytical_max_layer_error"] <= tol]
    where = "all DIMMs" if args.dimms == "all" else f"DIMMs {args.dimms}"
    print(f"\n{len(ok)}/{len(rows)} cases within {100 * tol:g}% per layer ({where}; "
          f"'runs': the model `hermes replay --fast` runs, cycle-level where the fit misses "
          f"{100 * tol:g}%, 'fit %': on its calibration layers and held-out DIMM); the "
          f"analytical model alone: "
          f"{len(ana)}/{len(rows)}", file=sys.stderr)
    return 0 if len(ok) == len(rows) else 1


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("validate", help="compare against reference results")
    sub = parser.add_subparsers(dest="validate_command", metavar="WHAT", required=True)
    dram = sub.add_parser("dram", help="DRAM engine vs a Ramulator2 reference folder")
    dram.add_argument("folder", help="reference folder with manifest.json (e.g. "
                      "../shared/reference/ramulator2)")
    dram.add_argument("--backend", help="DRAM backend to validate (default builtin)")
    dram.add_argument("--case", action="append", help="run only this case id (repeatable)")
    dram.add_argument("--against", metavar="BACKEND",
                      help="also run every case on BACKEND (e.g. ramulator2) in this process "
                      "and print reference / builtin / BACKEND side by side with speeds")
    dram.add_argument("--markdown", action="store_true", help="print a Markdown table")
    dram.set_defaults(func=_dram)
    paper = sub.add_parser("paper", help="simulate every calibration cell of the Hermes paper "
                           "(batch 1, all systems) and print the error per cell")
    paper.add_argument("--markdown", action="store_true", help="print a Markdown table")
    paper.add_argument("--cell", action="append", metavar="MODEL/SYSTEM",
                       help="only this cell, e.g. llama2-13b/hermes (repeatable)")
    paper.add_argument("--config", action="append", metavar="[SYSTEM=]FILE",
                       help="a system YAML layered on the built-in config of SYSTEM's cells, or "
                       "of every cell without SYSTEM= (a SYSTEM= file replaces the general "
                       "one for that system; repeatable), e.g. hermes=my_hermes.yaml")
    paper.set_defaults(func=_paper)
    gpu = sub.add_parser("gpu", help="a GPU profile's predictions vs kernel times recorded by "
                         "`hermes gpu calibrate --raw` (e.g. a profile built for one card vs "
                         "measurements of another)")
    gpu.add_argument("raw", help="raw measurements JSON (e.g. docs/gpu_calibration/h200.raw.json)")
    gpu.add_argument("--profile", required=True,
                     help="profile name (see `hermes gpu list`) or a .yaml path")
    gpu.set_defaults(func=_gpu)
    nf = sub.add_parser("ndp-fast", help="the NDP fast mode vs cycle-level replay, per layer, on "
                        "every built-in model (issue 4's 3%% target; docs/ndp.md)")
    nf.add_argument("--models", help="comma-separated built-in model ids (default: all of "
                    "configs/models)")
    nf.add_argument("--batch", default="1,16", help="batch sizes (default 1,16)")
    nf.add_argument("--dimms", default="all",
                    help="'all' (default) or comma-separated DIMM indices to compare")
    nf.add_argument("--layers", type=int, default=8,
                    help="evaluation layers per model, none a calibration layer where the "
                    "model has enough (default 8; the tiny models: every layer)")
    nf.add_argument("--markdown", action="store_true", help="print a Markdown table")
    nf.set_defaults(func=_ndp_fast)
