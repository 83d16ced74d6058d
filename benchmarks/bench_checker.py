"""Benchmark: protocol checker speed (commands per wall-second) on ~300k-command logs.

Replays Ramulator2 reference cases (100k requests each) on the built-in engine with the command
log on, then times ``check_commands`` on each log (best of --repeat, one core) and reports the
violations found (expected: 0). Also times the two Ramulator2 TraceRecorder logs. With
--write-doc the table replaces the "## Protocol checker" section of docs/performance.md.

    python benchmarks/bench_checker.py [--repeat 3] [--write-doc]
"""

from __future__ import annotations

import argparse
import platform
import re
import time
from pathlib import Path

from hermes_hw.dram.checker import check_commands
from hermes_hw.dram.command_log import CommandLog

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "performance.md"
SECTION = "## Protocol checker"
REF = Path("/work/shared/reference/ramulator2")
CASES = {  # case id -> trace (reference README section 2)
    "ddr4_rand": "rand8g_100k",
    "ddr4_mix70": "mix70r30w_100k",
    "ddr4_rand_2rank": "rand8g_100k",
    "ddr5_mix70": "mix70r30w_100k",
}
#: DDR4_8Gb_x8 + DDR4_3200AA (reference README section 5), for the TraceRecorder logs.
DDR4_TIMING = dict(nBL=4, nCL=22, nRCD=22, nRP=22, nRAS=52, nRC=74, nWR=24, nRTP=12, nCWL=16,
                   nCCDS=4, nCCDL=8, nRRDS=4, nRRDL=8, nWTRS=4, nWTRL=12, nFAW=34, nRFC=576,
                   nREFI=12480, nCS=2)  # fmt: skip
DDR4_ORG = dict(channels=1, ranks=1, bankgroups=4, banks=4, rows=65536, columns=1024)


def best_time(fn, repeat: int) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", type=Path, default=REF)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--write-doc", action="store_true")
    args = parser.parse_args()
    from hermes_hw.dram.replay import run_replay

    rows = []
    for case, trace in CASES.items():
        out = run_replay(
            args.reference / "configs" / f"{case}.yaml",
            str(args.reference / "traces" / f"{trace}.trace.gz"),
            command_log=True,
        )
        log, res = out.command_log, out.memory.resolved
        seconds, report = best_time(
            lambda log=log, res=res: check_commands(
                log, res.standard.name, res.timings, res.org, mode=res.access_mode
            ),
            args.repeat,
        )
        rows.append((f"{case} (engine log)", len(log), seconds, len(report.violations)))
        rate = len(log) / seconds / 1e6
        print(f"{rows[-1][0]:32s} {len(log):8d} cmds {seconds:6.3f} s  {rate:5.2f} M cmds/s  "
              f"violations {len(report.violations)}")  # fmt: skip
    for case in ("ddr4_seq_10k_cmdtrace", "ddr4_rand_10k_cmdtrace"):
        path = args.reference / "results" / f"{case}.cmdtrace.ch0.gz"
        read_s, log = best_time(lambda path=path: CommandLog.read_text(path), args.repeat)
        seconds, report = best_time(
            lambda log=log: check_commands(log, "DDR4", DDR4_TIMING, DDR4_ORG), args.repeat
        )
        rows.append((f"{case} (Ramulator2 log)", len(log), seconds, len(report.violations)))
        print(f"{rows[-1][0]:32s} {len(log):8d} cmds {seconds:6.3f} s  (read {read_s:.3f} s)  "
              f"violations {len(report.violations)}")  # fmt: skip
    if args.write_doc:
        write_doc(rows, args)


def write_doc(rows: list, args: argparse.Namespace) -> None:
    lines = [
        SECTION,
        "",
        f"`python benchmarks/bench_checker.py --repeat {args.repeat}`: wall time of "
        "`hermes_hw.dram.checker.check_commands` (every command against every DDR4/DDR5 rule, "
        "bank state, bus and refresh interval; numpy, one core), best of "
        f"{args.repeat}, {platform.processor() or platform.machine()}, Python "
        f"{platform.python_version()}. Engine logs come from replaying the 100k-request reference "
        "cases on the built-in engine; the Ramulator2 logs are its TraceRecorder output.",
        "",
        "| log | commands | check s | M commands/s | violations |",
        "|---|---|---|---|---|",
    ]
    for name, n, seconds, violations in rows:
        lines.append(f"| {name} | {n:,} | {seconds:.3f} | {n / seconds / 1e6:.2f} | {violations} |")
    section = "\n".join(lines) + "\n"
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
