"""`hermes sweep GRID.yaml`: run a parameter grid (resumable, local processes or Dask)."""

from __future__ import annotations

import argparse
import json

from hermes_hw.errors import InputError


def _positive(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got '{text}'") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {n}")
    return n


def _sweep(args: argparse.Namespace) -> int:
    from hermes_hw.sweep import load_grid, run_sweep
    from hermes_hw.sweep.store import SweepStore

    grid = load_grid(args.grid, out=args.out)
    if args.list:
        store = SweepStore(grid)
        rows = [{"point_id": p.id, "finished": store.is_finished(p), **p.axes}
                for p in grid.points]
        if args.json:
            print(json.dumps(rows, indent=1))
        else:
            for r in rows:
                axes = ", ".join(f"{k}={json.dumps(v)}" for k, v in r.items()
                                 if k not in ("point_id", "finished"))
                print(f"{r['point_id']}  {'done' if r['finished'] else 'todo'}  {axes}")
        return 0
    if args.workers is not None and args.scheduler is not None:
        raise InputError("--workers and --scheduler are exclusive (Dask decides the workers)")
    report = run_sweep(grid, workers=args.workers, scheduler=args.scheduler,
                       rerun=args.rerun or (), progress=False if args.no_progress else None,
                       connect_timeout_s=args.connect_timeout)
    summary = {
        "points": report.points, "skipped_finished": report.skipped, "ran": len(report.ran),
        "failed": [{"point_id": i, "error": m} for i, m in report.failed],
        "executor": report.executor, "tables": [str(p) for p in report.tables],
        "out": str(grid.out), "wall_seconds": round(report.wall_seconds, 3),
    }
    if args.json:
        print(json.dumps(summary, indent=1))
    else:
        print(f"{report.points} points: {len(report.ran)} run, {report.skipped} already "
              f"finished, {len(report.failed)} failed ({report.executor}, "
              f"{report.wall_seconds:.2f} s)")
        for pid, msg in report.failed:
            print(f"  failed {pid}: {msg}  (details: {grid.out}/points/{pid}/error.txt)")
        print("table: " + ", ".join(summary["tables"]))
    return 1 if report.failed else 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "sweep", help="run a parameter grid (resumable; local processes or a Dask cluster)",
        description="Expand GRID.yaml (any config field can be an axis), run every unfinished "
        "point and collect one table (results.csv; results.parquet if pyarrow is installed).")
    p.add_argument("grid", help="grid file (YAML): runner, base, set, axes, zip")
    p.add_argument("--out", help="result folder (default: the grid's 'out', else GRID.sweep/ "
                   "beside the grid file)")
    p.add_argument("--workers", type=_positive,
                   help="local worker processes (default: one per CPU; 1 = in this process)")
    p.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                   help="run on a dask.distributed cluster (needs the 'dask' extra)")
    p.add_argument("--connect-timeout", type=float, default=20.0, metavar="S",
                   help="seconds to wait for the Dask scheduler (default 20)")
    p.add_argument("--rerun", action="append", metavar="ID",
                   help="run this point again even if finished (repeatable)")
    p.add_argument("--list", action="store_true",
                   help="list the points (id, finished?, axis values) and run nothing")
    p.add_argument("--json", action="store_true", help="print a JSON summary")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_sweep)
