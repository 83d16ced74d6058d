"""Per-token Gantt chart from a Chrome/Perfetto trace-event timeline (``timeline.json`` written
by ``hermes simulate``): one row per lane (GPU, each DIMM, PCIe, DIMM-Link, host), bars coloured
by the paper's latency-breakdown category."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hermes_hw.errors import InputError
from hermes_hw.plot.style import CATEGORY_COLOURS, colour_cycle, new_figure


@dataclass
class Bar:
    lane: str
    name: str
    category: str
    start_us: float
    dur_us: float
    phase: str
    token: int
    layer: int


def read_timeline(path: str | Path) -> tuple[list[str], list[Bar]]:
    """Lanes (in the file's sort order) and complete ("X") events of a trace-event JSON."""
    try:
        obj = json.loads(Path(path).read_text())
    except OSError as err:
        raise InputError(f"cannot read timeline ({err.strerror})", source=str(path)) from None
    except ValueError as err:
        raise InputError(f"not valid JSON ({err})", source=str(path)) from None
    events = obj.get("traceEvents") if isinstance(obj, dict) else obj
    if not isinstance(events, list):
        raise InputError("expected Chrome trace-event JSON ({\"traceEvents\": [...]} or a list)",
                         source=str(path))
    names: dict[tuple, str] = {}
    order: dict[tuple, float] = {}
    bars = []
    for i, e in enumerate(events):
        if not isinstance(e, dict):
            raise InputError(f"traceEvents[{i}]: expected an object", source=str(path))
        key = (e.get("pid", 0), e.get("tid", 0))
        if e.get("ph") == "M" and e.get("name") == "thread_name":
            names[key] = str(e.get("args", {}).get("name", key))
        elif e.get("ph") == "M" and e.get("name") == "thread_sort_index":
            order[key] = float(e.get("args", {}).get("sort_index", 0))
        elif e.get("ph") == "X":
            try:
                ts, dur = float(e["ts"]), float(e.get("dur", 0.0))
            except (KeyError, TypeError, ValueError):
                raise InputError(f"traceEvents[{i}]: complete event without numeric ts/dur",
                                 source=str(path)) from None
            args = e.get("args") or {}
            bars.append(Bar(lane=key, name=str(e.get("name", "")), category=str(e.get("cat", "")),
                            start_us=ts, dur_us=dur, phase=str(args.get("phase", "")),
                            token=int(args.get("token", -1)), layer=int(args.get("layer", -1))))
    keys = sorted({b.lane for b in bars}, key=lambda k: (order.get(k, 1e18), k))
    lane_name = {k: names.get(k, f"tid {k[1]}") for k in keys}
    for b in bars:
        b.lane = lane_name[b.lane]
    return [lane_name[k] for k in keys], bars


def select_bars(bars: list[Bar], tokens: list[int] | None, prefill: bool,
                layers: tuple[int, int] | None = None) -> list[Bar]:
    """Decode tokens ``tokens`` (None: the first decode token present) and optionally the
    prefill phase and a layer range (inclusive)."""
    if tokens is None:
        decode = sorted({b.token for b in bars if b.phase == "decode"})
        tokens = decode[:1]
    keep = set(tokens)
    out = [b for b in bars if (b.phase == "decode" and b.token in keep)
           or (prefill and b.phase == "prefill")]
    if layers is not None:
        out = [b for b in out if b.layer < 0 or layers[0] <= b.layer <= layers[1]]
    return out


def plot_gantt(lanes: list[str], bars: list[Bar], title: str = ""):
    if not bars:
        raise InputError("no timeline events in the selection (check --tokens / --prefill)")
    used = [lane for lane in lanes if any(b.lane == lane for b in bars)]
    t0 = min(b.start_us for b in bars)
    span = max(b.start_us + b.dur_us for b in bars) - t0
    unit, scale = ("ms", 1e3) if span >= 10_000 else ("us", 1.0)
    cats = sorted({b.category for b in bars}, key=lambda c: (c not in CATEGORY_COLOURS, c))
    colours = colour_cycle(cats, CATEGORY_COLOURS)
    fig, ax = new_figure(10.0, 1.2 + 0.32 * len(used))
    row = {lane: i for i, lane in enumerate(used)}
    for cat in cats:
        for lane in used:
            sel = [b for b in bars if b.category == cat and b.lane == lane]
            if sel:
                ax.broken_barh([((b.start_us - t0) / scale, b.dur_us / scale) for b in sel],
                               (row[lane] - 0.4, 0.8), facecolors=colours[cat],
                               edgecolor="none")
    for cat in cats:
        busy = sum(b.dur_us for b in bars if b.category == cat)
        ax.barh(-10, 0, color=colours[cat], label=f"{cat} ({busy / scale:.3g} {unit} busy)")
    ax.set_yticks(np.arange(len(used)), used)
    ax.set_ylim(len(used) - 0.5, -0.5)
    ax.set_xlim(0, span / scale * 1.01)
    ax.set_xlabel(f"time since the first shown event ({unit})")
    ax.set_ylabel("lane")
    ax.set_title(title)
    ax.grid(axis="x", alpha=0.3)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=min(6, len(cats)),
              frameon=False)
    return fig
