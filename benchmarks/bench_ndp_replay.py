"""Benchmark: `hermes replay` of one LLaMA2-70B decode token (batch 1, 8 Table II DIMMs).

    python benchmarks/bench_ndp_replay.py [--jobs 2] [--fast] [--keep DIR]

Lowers the token first (not timed; reused from --keep DIR if present), then runs `hermes replay
DIR --json` in a fresh process, once cycle-level and once fast, and reports wall seconds (the
command's own ``wall_seconds`` and the whole process), requests per second and peak RSS (the
parent process and the largest worker; processes run concurrently, so the sum is the bound).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _run(cmd: list[str]) -> tuple[dict, float, float, float]:
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    out, _ = proc.communicate()
    wall = time.perf_counter() - t0
    if proc.returncode:
        sys.exit(f"{' '.join(cmd)} failed ({proc.returncode})")
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return json.loads(out), wall, ru.ru_maxrss / 1024, 0.0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="llama2-70b")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--keep", help="trace directory to reuse / keep")
    args = ap.parse_args()
    tmp = None
    path = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="ndp_bench_"))
    if not (path / "manifest.json").exists():
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "hermes_hw", "lower", "--model", args.model,
                        "--tokens", "1", "--batch", str(args.batch), "--out", str(path),
                        "--force"], check=True, stdout=subprocess.DEVNULL)
        print(f"lowered in {time.perf_counter() - t0:.1f} s -> {path}")
    rows = []
    for mode in ("cycle", "fast"):
        cmd = ["/usr/bin/time", "-f", "%M", sys.executable, "-m", "hermes_hw", "replay",
               str(path), "--json", "--jobs", str(args.jobs)] + (["--fast"] if mode == "fast"
                                                                 else [])
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if proc.returncode:
            sys.exit(proc.stderr)
        res = json.loads(proc.stdout)
        peak_parent_mib = int(proc.stderr.strip().splitlines()[-1]) / 1024
        worker = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        reqs = sum(d["requests"] for d in res["dimms"])
        rows.append({"mode": mode, "requests": reqs, "replay_s": res["wall_seconds"],
                     "process_s": wall, "req_per_s": reqs / res["wall_seconds"],
                     "peak_rss_mib_max_process": max(peak_parent_mib, worker),
                     "slowest_dimm_us": res["max_busy_time_ns"] / 1e3})
    for r in rows:
        print(json.dumps(r))
    if tmp:
        tmp.cleanup()


if __name__ == "__main__":
    main()
