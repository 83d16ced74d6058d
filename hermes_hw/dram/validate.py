"""Validation of a DRAM backend against a reference folder (the layout of the shared Ramulator2
reference runs: manifest.json, configs/, traces/, results/). Each case is replayed with its own
config and trace; our counters at the acceptance of the last request are compared with the
reference's (Ramulator2 stops there, without draining)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hermes_hw.dram.config import load_config
from hermes_hw.dram.memory_system import MemorySystem
from hermes_hw.dram.traces import open_trace
from hermes_hw.errors import InputError
from hermes_hw.text_table import render_table

#: metric -> tolerance (relative error for cycles and latency, share of requests for hit/miss/
#: conflict counts), from the DRAM engine issue's acceptance criteria.
TOLERANCES = {
    "cycles": 0.01,
    "row_hits": 0.01,
    "row_misses": 0.01,
    "row_conflicts": 0.01,
    "avg_read_latency_cycles": 0.02,
}


@dataclass
class CaseResult:
    case_id: str
    requests: int
    ours: dict[str, float]
    reference: dict[str, float]
    errors: dict[str, float]
    wall_seconds: float
    reference_wall_seconds: float | None
    command_diffs: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(abs(self.errors[k]) <= TOLERANCES[k] for k in TOLERANCES)


def load_manifest(folder: Path) -> dict[str, Any]:
    path = folder / "manifest.json"
    if not path.is_file():
        raise InputError("no manifest.json in the reference folder", source=str(folder))
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise InputError(
            f"malformed JSON: {err.msg} (line {err.lineno})", source=str(path)
        ) from None


def run_case(folder: Path, case: dict[str, Any], backend: str | None = None) -> CaseResult:
    cid = case.get("id", "?")
    try:
        config = folder / case["config"]
        trace = folder / case["trace"]
        m = case["metrics"]
    except KeyError as err:
        raise InputError(f"case '{cid}' lacks key {err}",
                         source=str(folder / "manifest.json")) from None
    t0 = time.perf_counter()
    ms = MemorySystem(load_config(config, backend), backend=backend)
    result = ms.replay(open_trace(trace, capacity_bytes=ms.capacity_bytes), started=t0)
    s = result.at_last_accept
    n = result.requests
    reads = case.get("num_reads", s["reads"])
    ours = {
        "cycles": s["cycles"],
        "row_hits": s["row_hits"],
        "row_misses": s["row_misses"],
        "row_conflicts": s["row_conflicts"],
        "avg_read_latency_cycles": s["read_latency_sum_cycles"] / reads if reads else 0.0,
    }
    ref = {
        "cycles": m["memory_system_cycles"],
        "row_hits": m["row_hits"],
        "row_misses": m["row_misses"],
        "row_conflicts": m["row_conflicts"],
        "avg_read_latency_cycles": m.get("avg_read_latency_corrected_cycles", 0.0),
    }
    errors = {
        "cycles": ours["cycles"] / ref["cycles"] - 1 if ref["cycles"] else 0.0,
        "avg_read_latency_cycles": (
            ours["avg_read_latency_cycles"] / ref["avg_read_latency_cycles"] - 1
            if ref["avg_read_latency_cycles"]
            else 0.0
        ),
    }
    for k in ("row_hits", "row_misses", "row_conflicts"):
        errors[k] = (ours[k] - ref[k]) / n
    diffs = {}
    for name, count in m.get("commands", {}).items():
        mine = s["commands"].get(name, 0)
        if mine != count:
            diffs[name] = (mine, count)
    wall_ref = case.get("wall_clock", {}).get("wall_s_median")
    return CaseResult(cid, n, ours, ref, errors, time.perf_counter() - t0, wall_ref, diffs)


def selected_cases(folder: Path, cases: list[str] | None = None) -> list[dict]:
    """The manifest's cases (only the ids in ``cases`` when given); none is an error."""
    chosen = [case for case in load_manifest(folder).get("cases", [])
              if not cases or case.get("id") in cases]
    if not chosen:
        raise InputError("no cases to run", source=str(folder / "manifest.json"))
    return chosen


def validate_folder(
    folder: str | Path, backend: str | None = None, cases: list[str] | None = None
) -> list[CaseResult]:
    folder = Path(folder)
    return [run_case(folder, case, backend) for case in selected_cases(folder, cases)]


def compare_backends(folder: str | Path, other: str = "ramulator2",
                     cases: list[str] | None = None) -> list[tuple[CaseResult, CaseResult]]:
    """Run every case on the built-in engine and on ``other`` in this process."""
    folder = Path(folder)
    return [(run_case(folder, case, "builtin"), run_case(folder, case, other))
            for case in selected_cases(folder, cases)]


def format_side_by_side(pairs: list[tuple[CaseResult, CaseResult]], other: str = "ramulator2",
                        markdown: bool = False) -> str:
    """Reference / built-in / other for each metric, and the wall time of each backend."""
    head = ["case", f"cycles ref / builtin / {other}", "hits", "misses", "conflicts",
            "mean read latency", f"wall s builtin / {other}", "speed ratio"]
    rows = []
    for ours, theirs in pairs:
        def trio(k: str, fmt: str = "{:,}", a: CaseResult = ours, b: CaseResult = theirs) -> str:
            return " / ".join(fmt.format(x) for x in (a.reference[k], a.ours[k], b.ours[k]))
        rows.append([ours.case_id, trio("cycles"), trio("row_hits"), trio("row_misses"),
                     trio("row_conflicts"), trio("avg_read_latency_cycles", "{:.2f}"),
                     f"{ours.wall_seconds:.3f} / {theirs.wall_seconds:.3f}",
                     f"{theirs.wall_seconds / ours.wall_seconds:.1f}x"])
    return render_table(head, rows, markdown)


def format_table(results: list[CaseResult], markdown: bool = False) -> str:
    head = [
        "case",
        "requests",
        "cycles ours / ref (err)",
        "hits ours / ref (err)",
        "misses ours / ref (err)",
        "conflicts ours / ref (err)",
        "mean read latency ours / ref (err)",
        "commands differing",
        "wall s ours / ref",
        "ok",
    ]
    rows = []
    for r in results:

        def cell(k: str, fmt: str = "{:,}", r: CaseResult = r) -> str:
            e = r.errors[k] * 100
            return f"{fmt.format(r.ours[k])} / {fmt.format(r.reference[k])} ({e:+.3f}%)"

        cmd = (
            ", ".join(f"{k} {a}/{b}" for k, a, b in ((k, *v) for k, v in r.command_diffs.items()))
            or "none"
        )
        ref_wall = f"{r.reference_wall_seconds:.2f}" if r.reference_wall_seconds else "-"
        rows.append(
            [
                r.case_id,
                f"{r.requests:,}",
                cell("cycles"),
                cell("row_hits"),
                cell("row_misses"),
                cell("row_conflicts"),
                cell("avg_read_latency_cycles", "{:.2f}"),
                cmd,
                f"{r.wall_seconds:.3f} / {ref_wall}",
                "yes" if r.passed else "NO",
            ]
        )
    return render_table(head, rows, markdown)
