"""`hermes reproduce`: regenerate the paper's figure set (one CSV + PNG + PDF per experiment and
an index page)."""

from __future__ import annotations

import argparse
import sys
import time


def _run(args: argparse.Namespace) -> int:
    from hermes_hw.experiments import load_experiments, reproduce

    if args.list:
        for s in load_experiments(args.experiments, args.only):
            print(f"{s.id:<24} {s.title}")
        return 0
    t0 = time.perf_counter()
    mode = "cycle" if args.cycle else "fast" if args.fast else "full"
    outcomes = reproduce(args.out, mode=mode, only=args.only,
                         workers=args.workers, scheduler=args.scheduler, force=args.force,
                         progress=False if args.no_progress else None, folder=args.experiments)
    wall = time.perf_counter() - t0
    for o in outcomes:
        extra = f"  ({o.message})" if o.message else ""
        print(f"{o.status:<8} {o.spec.id:<24}{extra}")
    done = sum(o.status == "done" for o in outcomes)
    print(f"{done} of {len(outcomes)} experiments done in {wall:.1f} s; index: "
          f"{args.out}/index.md", file=sys.stderr)
    return 0 if done == len(outcomes) else 1


def _only(text: str) -> list[str]:
    return [t for t in text.split(",") if t]


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("reproduce", help="regenerate the paper's experiments and figures",
                              description="Run every experiment in configs/experiments/ and "
                              "write one CSV and one figure (PNG, PDF) per experiment plus "
                              "index.md. Finished points are cached in OUT/runs/.")
    p.add_argument("--out", default="reproduce", help="output folder (default ./reproduce)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--fast", action="store_true",
                      help="fewer values on some axes (each experiment's 'fast:'), analytical "
                      "DIMM timing: the whole set in about a minute")
    mode.add_argument("--cycle", action="store_true",
                      help="cycle-level DIMM timing through the DRAM engine (default: "
                      "analytical, every axis value)")
    p.add_argument("--only", type=_only, metavar="ID[,ID]", help="run only these experiments")
    p.add_argument("--list", action="store_true", help="list the experiments and run nothing")
    p.add_argument("--experiments", type=lambda s: __import__("pathlib").Path(s),
                   help="folder of experiment files (default: the built-in configs/experiments)")
    p.add_argument("--workers", type=int, help="local worker processes (default: one per CPU)")
    p.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="run points on a Dask cluster")
    p.add_argument("--force", action="store_true", help="recompute cached points")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_run)
