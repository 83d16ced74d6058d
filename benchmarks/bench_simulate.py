"""Wall time of `simulate` for one system / model / batch (fast mode: analytical DIMM model,
16 sampled work-list tokens), cold (work lists generated) and warm (work lists cached).

    python benchmarks/bench_simulate.py [--model llama2-70b] [--system hermes] [--batch 1]
                                        [--repeat 3] [--dimm-model bandwidth|fast]

``--dimm-model fast``: issue 4's fitted fast mode times the DIMMs; the cold run then includes
the one-time fit of its coefficients (a "fit" column: coefficients cached, work lists not).
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="llama2-70b")
    ap.add_argument("--system", default="hermes")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--dimm-model", default="bandwidth", choices=("bandwidth", "fast"))
    args = ap.parse_args()
    over = {"dimm_model": args.dimm_model}
    from hermes_hw._malloc import keep_freed_memory

    keep_freed_memory()  # as the `hermes` command does (HERMES_MALLOC_TUNE=0: off)
    with tempfile.TemporaryDirectory() as cache:
        os.environ["HERMES_CACHE_DIR"] = cache
        from hermes_hw.systems import simulate, work

        t0 = time.perf_counter()
        r = simulate(args.model, args.system, args.batch, overrides=over)
        cold = time.perf_counter() - t0
        fitted = ""
        if args.dimm_model == "fast":  # again with the coefficients cached, work lists not
            work._MEMO.clear()
            work._TRACES.clear()
            for f in Path(cache).glob("*.npz"):
                f.unlink()
            t0 = time.perf_counter()
            simulate(args.model, args.system, args.batch, overrides=over)
            fitted = f" {time.perf_counter() - t0:.2f} |"
        warm = []
        for _ in range(args.repeat):
            work._MEMO.clear()  # force the disk cache path, as a new process would
            t0 = time.perf_counter()
            r = simulate(args.model, args.system, args.batch, overrides=over)
            warm.append(time.perf_counter() - t0)
    print(f"| {args.model} | {args.system} | {args.batch} | {len(r.timeline):,} | "
          f"{cold:.2f} |{fitted} {min(warm):.2f} | {r.tokens_per_s:.3f} |")
    print(f"python {platform.python_version()}, {platform.machine()}, "
          f"{os.cpu_count()} cores", flush=True)


if __name__ == "__main__":
    main()
