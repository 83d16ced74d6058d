"""Chrome / Perfetto trace-event JSON (https://ui.perfetto.dev, chrome://tracing).

One process, one thread (row) per lane (``gpu``, ``dimm0`` ... ``dimm7``, ``pcie.h2d``, ...);
every event is a complete ("X") event with ``ts`` and ``dur`` in microseconds (floats, so ns
precision is kept) and its category, phase, token, layer and args. ``tokens`` limits the export
to the prefill phase plus the listed decode tokens (a 70B run has ~10^5 events per 100 tokens);
the metadata record says what was left out.
"""

from __future__ import annotations

import json
from collections.abc import Container
from pathlib import Path

from hermes_hw.timeline.events import Timeline


def chrome_trace(timeline: Timeline, *, tokens: Container[int] | None = None,
                 process_name: str = "hermes-hw", metadata: dict | None = None) -> dict:
    """The trace as a JSON-ready dict (``tokens`` None: every event)."""
    lanes = timeline.lanes()
    tid = {lane: i + 1 for i, lane in enumerate(lanes)}
    out: list[dict] = [{"name": "process_name", "ph": "M", "pid": 1, "tid": 0,
                        "args": {"name": process_name}}]
    for lane in lanes:
        out.append({"name": "thread_name", "ph": "M", "pid": 1, "tid": tid[lane],
                    "args": {"name": lane}})
        out.append({"name": "thread_sort_index", "ph": "M", "pid": 1, "tid": tid[lane],
                    "args": {"sort_index": tid[lane]}})
    kept = skipped = 0
    for i in range(len(timeline)):
        if tokens is not None and timeline.phases[i] == "decode" and \
                timeline.tokens[i] not in tokens:
            skipped += 1
            continue
        e = timeline.event(i)
        kept += 1
        args = {"phase": e.phase, "token": e.token, "layer": e.layer, "start_ns": e.start_ns,
                "duration_ns": e.end_ns - e.start_ns}
        if e.args:
            args.update(e.args)
        out.append({"name": e.name, "cat": e.category, "ph": "X", "pid": 1, "tid": tid[e.lane],
                    "ts": e.start_ns / 1000.0, "dur": (e.end_ns - e.start_ns) / 1000.0,
                    "args": args})
    meta = {"time_unit": "us", "events_exported": kept, "events_skipped": skipped,
            "makespan_ns": timeline.makespan_ns}
    if metadata:
        meta.update(metadata)
    return {"traceEvents": out, "displayTimeUnit": "ns", "otherData": meta}


def write_chrome_trace(path: str | Path, timeline: Timeline, **kwargs) -> Path:
    """Write :func:`chrome_trace` as compact JSON; returns the path."""
    path = Path(path)
    path.write_text(json.dumps(chrome_trace(timeline, **kwargs), separators=(",", ":")))
    return path
