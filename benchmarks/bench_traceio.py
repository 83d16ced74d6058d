"""Benchmark: trace parsing rate (lines per wall-second) of hermes_hw.dram.traces.open_trace.

Generates 1M-line versions of the Ramulator2 reference traces (same generators as section 11 of
/work/shared/reference/ramulator2/README.md) in a temporary folder, then times reading each one
to numpy chunks, plain and gzip-compressed, best of --repeat runs, one core. Also records the
peak traced memory of one pass over N and 2N lines to show that it does not grow with the
trace. With --write-doc the table replaces the "## Trace parsing" section of
docs/performance.md (the rest of the file is kept).

    python benchmarks/bench_traceio.py [--lines 1000000] [--repeat 5] [--write-doc]
"""

from __future__ import annotations

import argparse
import platform
import re
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

from hermes_hw.dram.traces import open_trace, write_loadstore

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "performance.md"
SECTION = "## Trace parsing"


def make_traces(n: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The reference trace patterns at n lines (README section 11)."""
    i = np.arange(n, dtype=np.uint64)
    reads = np.zeros(n, dtype=bool)
    rand = np.random.default_rng(1001).integers(0, 2**27, size=n).astype(np.uint64) * 64
    rng = np.random.default_rng(1002)
    mix = rng.choice(2**27, size=n, replace=False).astype(np.uint64) * 64
    mix_w = np.zeros(n, dtype=bool)
    mix_w[rng.permutation(n)[: n * 3 // 10]] = True
    return {
        "seq": (64 * i, reads),
        "rand8g": (rand, reads),
        "stride8k": ((8192 * i) % (8 << 30), reads),
        "stride256": (256 * i, reads),
        "mix70r30w": (mix, mix_w),
    }


def parse_once(path: Path) -> tuple[float, int]:
    start = time.perf_counter()
    count = sum(len(chunk) for chunk in open_trace(path))
    return time.perf_counter() - start, count


def peak_bytes(path: Path) -> int:
    tracemalloc.start()
    for _chunk in open_trace(path):
        pass
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--write-doc", action="store_true")
    args = parser.parse_args()

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        for name, (addr, is_write) in make_traces(args.lines).items():
            plain = tmpdir / f"{name}.trace"
            gz = tmpdir / f"{name}.trace.gz"
            write_loadstore(plain, addr, is_write)
            write_loadstore(gz, addr, is_write)
            result = [name, plain.stat().st_size / 2**20, gz.stat().st_size / 2**20]
            for path in (plain, gz):
                best = min(parse_once(path)[0] for _ in range(args.repeat))
                assert parse_once(path)[1] == args.lines
                result.append(args.lines / best)
            rows.append(result)
            print(
                f"{name:10s} plain {result[3] / 1e6:7.1f} M lines/s   gz {result[4] / 1e6:6.1f} M"
            )
        addr, is_write = make_traces(args.lines)["rand8g"]
        double = tmpdir / "double.trace"
        write_loadstore(double, np.concatenate([addr, addr]), np.concatenate([is_write] * 2))
        mem_small = peak_bytes(tmpdir / "rand8g.trace")
        mem_full = peak_bytes(double)
        print(
            f"peak traced memory: {mem_small / 2**20:.1f} MiB ({args.lines} lines), "
            f"{mem_full / 2**20:.1f} MiB ({2 * args.lines} lines)"
        )

    if args.write_doc:
        write_doc(rows, args, mem_small, mem_full)


def write_doc(rows: list, args: argparse.Namespace, mem_small: int, mem_full: int) -> None:
    lines = [
        SECTION,
        "",
        f"`python benchmarks/bench_traceio.py --lines {args.lines} --repeat {args.repeat}`: "
        "time to read each trace into numpy chunks with `hermes_hw.dram.traces.open_trace` "
        "(C parser, 4 MiB blocks; gzip through Python's gzip module), best of "
        f"{args.repeat}, one core, {platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}. Traces: the Ramulator2 reference patterns "
        f"(reference README section 11) at {args.lines:,} lines, written as `LD/ST 0x<hex>`.",
        "",
        "| trace | text MiB | gz MiB | plain M lines/s | .gz M lines/s |",
        "|---|---|---|---|---|",
    ]
    for name, mib, gz_mib, plain_rate, gz_rate in rows:
        lines.append(
            f"| {name} | {mib:.1f} | {gz_mib:.1f} | {plain_rate / 1e6:.1f} | {gz_rate / 1e6:.1f} |"
        )
    lines += [
        "",
        f"Peak traced (Python + numpy) memory of one pass over rand8g: {mem_small / 2**20:.1f} "
        f"MiB for {args.lines:,} lines, {mem_full / 2**20:.1f} MiB for {2 * args.lines:,} lines "
        "(bounded by the block size, not the trace length).",
        "",
    ]
    section = "\n".join(lines)
    text = DOC.read_text() if DOC.exists() else "# Performance\n\n"
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _m: section + "\n", text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    DOC.parent.mkdir(exist_ok=True)
    DOC.write_text(text.rstrip("\n") + "\n")
    print(f"wrote {DOC}")


if __name__ == "__main__":
    main()
