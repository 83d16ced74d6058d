"""Sweep executors and `hermes reproduce --fast` wall time (results: docs/performance.md,
section "reproduce").

    python benchmarks/bench_sweep_reproduce.py [--skip-reproduce] [--points-trace-requests N]

Sweep: a 2-axis dram-replay grid (4 schedulers/tFAW points x 2 = 8 points) on a synthetic random
trace of N requests (default 400,000) replayed on the Table II NDP-DIMM, run serially, with 2
local worker processes and on a 2-worker Dask LocalCluster (processes); the three tables must be
byte-identical. Reproduce: `hermes reproduce --fast` into a fresh folder, twice with the
work-count cache (HERMES_CACHE_DIR) cold and then warm.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def _trace(path: Path, n: int) -> None:
    rng = np.random.default_rng(7)
    addrs = rng.integers(0, 2**34 // 64, size=n) * 64
    kinds = np.where(rng.random(n) < 0.3, "ST", "LD")
    path.write_text("".join(f"{k} {a:#x}\n" for k, a in zip(kinds, addrs, strict=True)))


def bench_sweep(tmp: Path, n: int) -> None:
    from hermes_hw.sweep import load_grid, run_sweep

    trace = tmp / "rand.trace"
    _trace(trace, n)
    grid_path = tmp / "grid.yaml"
    grid_path.write_text(
        f"runner: dram-replay\nbase: {REPO}/configs/dram/hermes_ndp_dimm.yaml\n"
        f"set: {{Frontend.path: {trace}}}\naxes:\n"
        "  MemorySystem.DRAM.timing.nFAW: [16, 26, 36, 48]\n"
        "  MemorySystem.Controller.Scheduler.impl: [FRFCFS, FCFS]\n")
    tables = {}
    for label, kw in (("serial", {"workers": 1}), ("2 local processes", {"workers": 2})):
        grid = load_grid(grid_path, out=tmp / label.replace(" ", "_"))
        t0 = time.perf_counter()
        run_sweep(grid, progress=False, **kw)
        print(f"sweep, {label}: {time.perf_counter() - t0:.2f} s")
        tables[label] = (grid.out / "results.csv").read_bytes()
    try:
        import distributed
    except ImportError:
        print("sweep, dask: skipped (dask.distributed not installed)")
    else:
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                      dashboard_address=None) as cluster, \
                distributed.Client(cluster) as client:
            grid = load_grid(grid_path, out=tmp / "dask")
            t0 = time.perf_counter()
            run_sweep(grid, progress=False, scheduler=client)
            print(f"sweep, Dask LocalCluster 2 workers (processes): "
                  f"{time.perf_counter() - t0:.2f} s (cluster already started)")
            tables["dask"] = (grid.out / "results.csv").read_bytes()
    same = len(set(tables.values())) == 1
    print(f"tables byte-identical across executors: {same}")


def bench_reproduce(tmp: Path) -> None:
    cache = tmp / "work-cache"
    env = dict(os.environ, HERMES_CACHE_DIR=str(cache))
    for label in ("cold work-count cache", "warm work-count cache"):
        out = tmp / f"repro-{label.split()[0]}"
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "hermes_hw.cli.main", "reproduce", "--fast",
                        "--out", str(out), "--no-progress"], env=env, check=False,
                       stdout=subprocess.DEVNULL)
        print(f"hermes reproduce --fast, {label}, fresh output folder: "
              f"{time.perf_counter() - t0:.1f} s")
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "hermes_hw.cli.main", "reproduce", "--fast", "--out",
                    str(out), "--no-progress"], env=env, check=False, stdout=subprocess.DEVNULL)
    print(f"hermes reproduce --fast, every point cached (figures only): "
          f"{time.perf_counter() - t0:.1f} s")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--skip-reproduce", action="store_true")
    ap.add_argument("--points-trace-requests", type=int, default=400_000)
    args = ap.parse_args()
    print(f"{os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as d:
        bench_sweep(Path(d), args.points_trace_requests)
        if not args.skip_reproduce:
            bench_reproduce(Path(d))


if __name__ == "__main__":
    main()
