"""Fit the free timing parameters to the Hermes paper's calibration subset.

    python scripts/calibrate_paper.py [--sweeps 2] [--iters 14]

Prints each fitted value and the (quick, extrapolated) error per cell. Write the values into the
configs named in docs/calibration.md, then run `hermes validate paper` for the full-run errors.
See hermes_hw/systems/calibration.py for the method.
"""

from __future__ import annotations

import argparse
import json
import time

from hermes_hw.systems.calibration import PARAMETERS, fit, overrides_for
from hermes_hw.systems.paper import PAPER_CELLS


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("--sweeps", type=int, default=2)
    ap.add_argument("--iters", type=int, default=14)
    ap.add_argument("--json", help="write the fitted values and quick errors to this file")
    args = ap.parse_args()
    t0 = time.perf_counter()
    values, quick = fit(sweeps=args.sweeps, iters=args.iters,
                        log=lambda s: print(s, flush=True))
    print(f"\nfitted in {time.perf_counter() - t0:.0f} s")
    for p in PARAMETERS:
        print(f"  {p.name:<40} {values[p.name]:>12.5g} {p.unit:<22} systems: "
              f"{', '.join(p.systems)}")
    print("\nquick errors per cell:")
    for (m, s), paper in PAPER_CELLS.items():
        sim = quick[f"{m}/{s}"]
        print(f"  {m:<12} {s:<12} paper {paper:>8.2f} sim {sim:>9.3f} {sim / paper - 1:+7.1%}")
    print("\noverrides:", json.dumps(overrides_for(values), indent=1))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"values": values, "quick_tokens_per_s": quick}, fh, indent=1)


if __name__ == "__main__":
    main()
