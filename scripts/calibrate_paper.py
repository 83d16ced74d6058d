"""Fit the free timing parameters to the Hermes paper's calibration subset.

    python scripts/calibrate_paper.py [--outer 2] [--iters 10] [--bracket B] [--start FILE]
                                      [--loss huber|absolute|squared] [--huber-delta D]
                                      [--tolerance-weight W] [--tolerance T]
                                      [--only NAME ...] [--jobs J] [--json OUT]

Every evaluation is a full run (input 128 / output 128); see hermes_hw/systems/calibration.py
for the method. Prints each fitted value and the per-cell error of the final (re-planned) full
runs. Write the values into the configs named in docs/calibration.md, then run `hermes validate
paper` to reproduce the table.
"""

from __future__ import annotations

import argparse
import json
import time

from hermes_hw.systems.calibration import (
    HUBER_DELTA,
    LOSSES,
    PARAMETERS,
    TOLERANCE,
    TOLERANCE_WEIGHT,
    Evaluator,
    fit,
    overrides_for,
)
from hermes_hw.systems.paper import PAPER_CELLS


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("--outer", type=int, default=2, help="re-plan + sweep iterations")
    ap.add_argument("--iters", type=int, default=10, help="golden-section steps per parameter")
    ap.add_argument("--bracket", type=float, help="search within [v/B, v*B] of the start")
    ap.add_argument("--start", help="JSON file with start values ({'values': {name: v}})")
    ap.add_argument("--loss", choices=LOSSES, default="huber",
                    help="per-cell penalty of the log error (default: huber)")
    ap.add_argument("--huber-delta", type=float, default=HUBER_DELTA,
                    help=f"Huber threshold in log error (default ln 1.1 = {HUBER_DELTA:.4f})")
    ap.add_argument("--tolerance-weight", type=float, default=TOLERANCE_WEIGHT,
                    help=f"weight of the hinge beyond --tolerance per cell (default "
                    f"{TOLERANCE_WEIGHT:g}; 0: Huber alone)")
    ap.add_argument("--tolerance", type=float, default=TOLERANCE,
                    help=f"where the hinge starts, |error| (default {TOLERANCE})")
    ap.add_argument("--only", nargs="+", metavar="NAME",
                    choices=[p.name for p in PARAMETERS],
                    help="fit only these parameters (the others keep their start values)")
    ap.add_argument("--jobs", type=int, help="processes per evaluation (default: CPUs)")
    ap.add_argument("--json", help="write the fitted values and per-cell results to this file")
    args = ap.parse_args()
    start = None
    if args.start:
        with open(args.start) as fh:
            start = json.load(fh)["values"]
    t0 = time.perf_counter()
    values, cells = fit(outer=args.outer, iters=args.iters, bracket=args.bracket, start=start,
                        evaluator=Evaluator(args.jobs), log=lambda s: print(s, flush=True),
                        loss=args.loss, huber_delta=args.huber_delta,
                        tolerance_weight=args.tolerance_weight, tolerance=args.tolerance,
                        only=tuple(args.only) if args.only else None)
    print(f"\nfitted in {time.perf_counter() - t0:.0f} s")
    for p in PARAMETERS:
        print(f"  {p.name:<40} {values[p.name]:>12.5g} {p.unit:<22} systems: "
              f"{', '.join(p.systems)}")
    print("\nfull-run errors per cell:")
    for (m, s), paper in PAPER_CELLS.items():
        sim, share = cells[f"{m}/{s}"]
        print(f"  {m:<12} {s:<12} paper {paper:>8.2f} sim {sim:>9.3f} {sim / paper - 1:+7.1%} "
              f"prefill {share:.0%}")
    print("\noverrides:", json.dumps(overrides_for(values), indent=1))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"values": values, "cells": cells}, fh, indent=1)


if __name__ == "__main__":
    main()
