"""Replay speed and peak memory of the built-in DRAM engine (`hermes dram replay --json`).

Runs the 100k-request Ramulator2 reference cases and 1M-request traces generated the same way
(reference README section 11) in a temporary folder, each in its own process, and reports
requests per wall-second (wall_seconds: from opening the config and trace to the end of the
simulation, including the drain), the process's peak RSS, and the engine alone: the same
requests replayed from arrays already in memory (no config or trace parsing), best of
--engine-repeat runs in another process.

    python benchmarks/bench_dram.py [--reference ../shared/reference/ramulator2] [--write-doc]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CASES = {  # pattern -> (reference case, generator of n byte addresses and write flags)
    "seq": ("ddr4_seq", lambda n: (np.arange(n, dtype=np.uint64) * 64, np.zeros(n, bool))),
    "rand": ("ddr4_rand", lambda n: (
        np.random.default_rng(1001).integers(0, 2**27, size=n).astype(np.uint64) * 64,
        np.zeros(n, bool))),
    "stride8k": ("ddr4_stride8k",
                 lambda n: (np.arange(n, dtype=np.uint64) * 8192 % (8 << 30), np.zeros(n, bool))),
    "stride256": ("ddr4_stride256",
                  lambda n: (np.arange(n, dtype=np.uint64) * 256, np.zeros(n, bool))),
    "mix70": ("ddr4_mix70", None),
}


def mix70(n: int):
    rng = np.random.default_rng(1002)
    addr = rng.choice(2**27, size=n, replace=False).astype(np.uint64) * 64
    w = np.zeros(n, bool)
    w[rng.permutation(n)[: n * 3 // 10]] = True
    return addr, w


def replay(config: Path, trace: Path) -> tuple[dict, float]:
    code = (
        "import json,sys;from hermes_hw.cli.main import main;"
        f"rc=main(['dram','replay','--config',{str(config)!r},'--trace',{str(trace)!r},'--json']);"
        # VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec from the forking parent
        "hwm=[l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1];"
        "print('RSS',hwm,file=sys.stderr)"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    rss_kib = int(p.stderr.split("RSS")[-1])
    return json.loads(p.stdout), rss_kib / 1024


def engine_only(config: Path, trace: Path, repeat: int) -> float:
    """Seconds of the fastest in-memory replay (run_trace + drain) of the trace's requests."""
    code = (
        "import time;from hermes_hw.dram.memory_system import MemorySystem;"
        "from hermes_hw.dram.traces import open_trace;"
        f"cfg={str(config)!r};best=1e9\n"
        f"for _ in range({repeat}):\n"
        " ms=MemorySystem.from_yaml(cfg)\n"
        f" ch=open_trace({str(trace)!r},capacity_bytes=ms.capacity_bytes).read_all()\n"
        " t=time.perf_counter();ms.run_trace(ch.addr,ch.is_write);ms.drain()\n"
        " best=min(best,time.perf_counter()-t)\n"
        "print(best)"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(p.stdout)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reference", default=str(ROOT.parent / "shared/reference/ramulator2"))
    ap.add_argument("--sizes", default="100000,1000000")
    ap.add_argument("--engine-repeat", type=int, default=3,
                    help="in-memory replays per trace for the engine-only rate (best is kept)")
    ap.add_argument("--write-doc", action="store_true")
    args = ap.parse_args()
    ref = Path(args.reference)
    load = os.getloadavg()
    man = {c["id"]: c for c in json.loads((ref / "manifest.json").read_text())["cases"]}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, (case_id, gen) in CASES.items():
            config = ref / man[case_id]["config"]
            for n in (int(s) for s in args.sizes.split(",")):
                if n == man[case_id]["num_requests"]:
                    trace = ref / man[case_id]["trace"]
                else:
                    addr, w = (gen or mix70)(n)
                    trace = Path(tmp) / f"{name}_{n}.trace"
                    from hermes_hw.dram.traces import write_loadstore

                    write_loadstore(trace, addr, w)
                out, rss = replay(config, trace)
                engine_s = engine_only(config, trace, args.engine_repeat)
                ram = man[case_id]["wall_clock"]["wall_s_median"]
                rows.append((name, n, trace.suffix, out["wall_seconds"], n / out["wall_seconds"],
                             n / engine_s, (man[case_id]["num_requests"] / ram) if ram else 0,
                             rss))
                print(rows[-1], flush=True)
    table = ["| pattern | requests | trace | wall s | requests/s | engine-only requests/s | "
             "Ramulator2 requests/s (100k, whole process) | peak RSS MiB |",
             "|---|---|---|---|---|---|---|---|"]
    for name, n, suffix, wall, rate, engine, ram, rss in rows:
        table.append(f"| {name} | {n:,} | {suffix} | {wall:.3f} | {rate:,.0f} | {engine:,.0f} | "
                     f"{ram:,.0f} | {rss:.0f} |")
    text = "\n".join(table)
    print(text)
    if args.write_doc:
        doc = ROOT / "docs" / "performance.md"
        body = doc.read_text() if doc.exists() else "# Performance\n"
        section = ("## DRAM engine replay\n\n`python benchmarks/bench_dram.py --write-doc`: "
                   "`hermes dram replay --json` per trace in its own process (one core; "
                   "DDR4-3200AA, 1 channel, FRFCFS, open row), wall_seconds from opening the "
                   "config to the end of the simulation including the drain. Engine-only: the "
                   "same requests replayed from arrays in memory (run_trace + drain, best of "
                   f"{args.engine_repeat}). Ramulator2's rate "
                   "is its 100k-request run from the reference manifest (whole process). "
                   f"Load average when the run started: {load[0]:.2f} (1 min), {load[1]:.2f} "
                   f"(5 min) on {os.cpu_count()} CPUs.\n\n"
                   + text + "\n")
        if "## DRAM engine replay" in body:
            start = body.index("## DRAM engine replay")
            end = body.find("\n## ", start + 1)
            body = body[:start] + section + ("\n" + body[end + 1:] if end >= 0 else "")
        else:
            body = body.rstrip() + "\n\n" + section
        doc.write_text(body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
