"""Figures from DRAM command logs and replay outputs: bandwidth over time per DIMM / channel /
rank, command mix, row-buffer hit rate per bank (heatmap) and the read-latency distribution.

Inputs are files only: command logs in Ramulator2's TraceRecorder text form (``hermes dram replay
--command-log``, one file per DIMM for NDP replays), the latency histogram CSV (``hermes dram
replay --latency-histogram``) and the DRAM config or replay JSON for the clock period.
The data functions are separate from the drawing so that they can be checked by hand.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hermes_hw.dram.command_log import CommandLog
from hermes_hw.errors import InputError
from hermes_hw.plot.latency_csv import (  # noqa: F401 - re-exported
    percentile_cycles,
    read_latency_histogram,
    write_latency_histogram,
)
from hermes_hw.plot.style import label_bars, new_figure

#: Commands that move one transaction (``tx_bytes``) over the data bus.
DATA_COMMANDS = ("RD", "WR", "RDA", "WRA")
READ_COMMANDS = ("RD", "RDA")


@dataclass
class DramTiming:
    """What turns cycles and commands into ns and bytes."""

    tck_ns: float
    tx_bytes: int = 64
    source: str = ""


def timing_from_config(path: str | Path) -> DramTiming:
    from hermes_hw.dram.config import load_config
    from hermes_hw.dram.resolve import resolve

    r = resolve(load_config(path))
    return DramTiming(tck_ns=r.tck_ns, tx_bytes=r.tx_bytes, source=str(path))


def timing_from_replay_json(path: str | Path) -> DramTiming:
    obj = _read_json(path)
    try:
        n = obj["reads"] + obj["writes"]
        return DramTiming(tck_ns=float(obj["tck_ns"]),
                          tx_bytes=int(obj["bytes"] // n) if n else 64, source=str(path))
    except (KeyError, TypeError) as err:
        raise InputError(f"not a `hermes dram replay --json` output (missing {err})",
                         source=str(path)) from None


def _read_json(path: str | Path) -> dict:
    try:
        obj = json.loads(Path(path).read_text())
    except OSError as err:
        raise InputError(f"cannot read file ({err.strerror})", source=str(path)) from None
    except ValueError as err:
        raise InputError(f"not valid JSON ({err})", source=str(path)) from None
    if not isinstance(obj, dict):
        raise InputError("expected a JSON object", source=str(path))
    return obj


def read_logs(specs: list[str]) -> list[tuple[str, CommandLog]]:
    """``[LABEL=]PATH`` arguments -> (label, log); the label defaults to the file name."""
    out = []
    for spec in specs:
        label, sep, path = spec.partition("=")
        if not sep:
            label, path = Path(spec).name.split(".")[0], spec
        out.append((label, CommandLog.read_text(path)))
    return out


def _mask(log: CommandLog, names: tuple[str, ...]) -> np.ndarray:
    codes = [log.code(n) for n in names if log.code(n) >= 0]
    return np.isin(log.cmd, codes) if codes else np.zeros(len(log), dtype=bool)


def _groups(logs: list[tuple[str, CommandLog]], by: str) -> list[tuple[str, CommandLog]]:
    """Split logs into the series to draw: one per file ('dimm'), per channel or per rank."""
    if by == "dimm":
        return logs
    out = []
    for label, log in logs:
        prefix = f"{label} " if len(logs) > 1 else ""
        keys = log.channel.astype(np.int64) if by == "channel" else (
            log.channel.astype(np.int64) * 65536 + log.rank)
        for key in np.unique(keys[keys >= 0]):
            sel = keys == key
            name = (f"ch{key}" if by == "channel" else f"ch{key // 65536} rank{key % 65536}")
            out.append((prefix + name, log.take(sel)))
    return out


def bandwidth_series(logs: list[tuple[str, CommandLog]], timing: DramTiming, *, by: str = "dimm",
                     bin_ns: float | None = None, bins: int = 100
                     ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Data-bus bandwidth (GB/s) per series over time bins: ``tx_bytes`` per RD/WR/RDA/WRA
    issued in the bin divided by the bin width (bytes per ns = GB/s). Returns (bin edges in ns,
    {series: GB/s per bin})."""
    series = _groups(logs, by)
    end_cycle = max((int(log.cycle.max()) + 1 for _, log in logs if len(log)), default=1)
    span_ns = end_cycle * timing.tck_ns
    width = float(bin_ns) if bin_ns else span_ns / bins
    if width <= 0:
        raise InputError(f"--bin-ns must be positive, got {bin_ns}")
    n_bins = max(1, int(np.ceil(span_ns / width)))
    edges = np.arange(n_bins + 1) * width
    out = {}
    for label, log in series:
        t_ns = log.cycle[_mask(log, DATA_COMMANDS)] * timing.tck_ns
        idx = np.minimum((t_ns // width).astype(np.int64), n_bins - 1)
        out[label] = np.bincount(idx, minlength=n_bins) * timing.tx_bytes / width
    return edges, out


def command_mix(logs: list[tuple[str, CommandLog]], by: str = "dimm"
                ) -> dict[str, dict[str, int]]:
    """{series: {command name: count}} (names in a stable order, zero counts kept)."""
    series = _groups(logs, by)
    names: list[str] = []
    for _, log in logs:
        for n in log.counts():
            if n not in names:
                names.append(n)
    return {label: {n: log.counts().get(n, 0) for n in names} for label, log in series}


@dataclass
class BankHits:
    rows: list[str]  # "dimm ch0 rank1"-style row labels
    cols: list[str]  # "bg0 b1" column labels
    accesses: np.ndarray  # column commands per (row, col)
    activates: np.ndarray
    hit_rate: np.ndarray  # 1 - ACT / accesses (NaN where no access)


def row_hits_per_bank(logs: list[tuple[str, CommandLog]]) -> BankHits:
    """Row-buffer hit rate per bank from a command log: every ACT opens a row for one missed
    access, so hits = column accesses - ACTs of the bank (exact for the open-row policy when
    every opened row is used; a row opened and closed unused would count as a negative hit)."""
    acc: dict[tuple, int] = {}
    act: dict[tuple, int] = {}
    for label, log in logs:
        for names, into in ((DATA_COMMANDS, acc), (("ACT",), act)):
            m = _mask(log, names) & (log.bank >= 0)
            keys = np.stack([log.channel[m], log.rank[m], log.bankgroup[m], log.bank[m]], axis=1)
            uniq, counts = np.unique(keys, axis=0, return_counts=True)
            for k, c in zip(map(tuple, uniq.tolist()), counts.tolist(), strict=True):
                into[(label, *k)] = into.get((label, *k), 0) + c
    keys = sorted(set(acc) | set(act))
    multi = len(logs) > 1
    row_keys = sorted({k[:3] for k in keys})
    col_keys = sorted({k[3:] for k in keys})
    rows = [(f"{r[0]} " if multi else "") + f"ch{r[1]} rank{r[2]}" for r in row_keys]
    cols = [f"bg{c[0]} b{c[1]}" for c in col_keys]
    a = np.zeros((len(rows), len(cols)), dtype=np.int64)
    b = np.zeros_like(a)
    for i, r in enumerate(row_keys):
        for j, c in enumerate(col_keys):
            a[i, j] = acc.get((*r, *c), 0)
            b[i, j] = act.get((*r, *c), 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(a > 0, 1.0 - b / np.maximum(a, 1), np.nan)
    return BankHits(rows=rows, cols=cols, accesses=a, activates=b, hit_rate=rate)


# -- drawing ------------------------------------------------------------------------------------

def _time_unit(span_ns: float) -> tuple[str, float]:
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("us", 1e3)):
        if span_ns >= 10 * scale:
            return unit, scale
    return "ns", 1.0


def plot_bandwidth(logs, timing: DramTiming, *, by: str = "dimm", bin_ns: float | None = None,
                   title: str | None = None):
    edges, series = bandwidth_series(logs, timing, by=by, bin_ns=bin_ns)
    unit, scale = _time_unit(edges[-1])
    fig, ax = new_figure(7.5, 3.8)
    centres = (edges[:-1] + edges[1:]) / 2 / scale
    for label, gbps in series.items():
        ax.step(centres, gbps, where="mid", label=f"{label} (mean {gbps.mean():.1f} GB/s)",
                linewidth=1.0)
    ax.set_xlabel(f"time ({unit}); bins of {(edges[1] - edges[0]) / scale:.3g} {unit}")
    ax.set_ylabel("data-bus bandwidth (GB/s)")
    ax.set_title(title or f"Bandwidth over time per {by}")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right", ncol=2 if len(series) > 4 else 1)
    return fig


def plot_command_mix(logs, *, by: str = "dimm", title: str | None = None):
    mix = command_mix(logs, by)
    names = [n for n in next(iter(mix.values()))] if mix else []
    fig, ax = new_figure(max(5.0, 1.0 + 0.9 * len(names) * max(1, len(mix)) ** 0.5), 3.8)
    width = 0.8 / max(1, len(mix))
    x = np.arange(len(names))
    for i, (label, counts) in enumerate(mix.items()):
        bars = ax.bar(x + (i - (len(mix) - 1) / 2) * width, [counts[n] for n in names], width,
                      label=label)
        if len(mix) * len(names) <= 40:
            label_bars(ax, bars, "{:.0f}", rotation=90 if len(mix) > 2 else 0)
    ax.set_xticks(x, names)
    ax.set_xlabel("DRAM command")
    ax.set_ylabel("commands issued (count)")
    ax.set_title(title or "Command mix")
    ax.margins(y=0.15)
    ax.legend(title=by)
    return fig


def plot_row_hits(logs, *, title: str | None = None):
    h = row_hits_per_bank(logs)
    fig, ax = new_figure(1.5 + 0.7 * len(h.cols), 1.2 + 0.4 * len(h.rows))
    im = ax.imshow(h.hit_rate * 100, vmin=0, vmax=100, cmap="viridis", aspect="auto")
    ax.set_xticks(range(len(h.cols)), h.cols, rotation=45, ha="right")
    ax.set_yticks(range(len(h.rows)), h.rows)
    ax.set_xlabel("bank group / bank")
    ax.set_ylabel("channel / rank")
    if h.hit_rate.size <= 256:
        for i in range(len(h.rows)):
            for j in range(len(h.cols)):
                v = h.hit_rate[i, j]
                if v == v:
                    ax.text(j, i, f"{v * 100:.0f}", ha="center", va="center", fontsize=6.5,
                            color="white" if v < 0.6 else "black")
    fig.colorbar(im, ax=ax, label="row-buffer hit rate (%)")
    total = h.accesses.sum()
    overall = 1 - h.activates.sum() / total if total else float("nan")
    ax.set_title(title or f"Row-buffer hit rate per bank (overall {overall * 100:.1f}%)")
    return fig


def plot_latency(latency: np.ndarray, latency_ns: np.ndarray, reads: np.ndarray, *,
                 title: str | None = None, bins: int = 80):
    if reads.sum() == 0:
        raise InputError("the latency histogram has no reads")
    tck = float(latency_ns[latency > 0][0] / latency[latency > 0][0]) if (latency > 0).any() \
        else 1.0
    lo, hi = int(latency.min()), int(latency.max())
    width = max(1, -(-(hi - lo + 1) // bins))  # cycles per drawn bin
    idx = (latency - lo) // width
    counts = np.bincount(idx, weights=reads, minlength=int(idx.max()) + 1)
    left_ns = (lo + np.arange(len(counts)) * width) * tck
    fig, ax = new_figure(7.0, 3.6)
    ax.bar(left_ns, counts, width=width * tck, align="edge", color="#1f77b4",
           label=f"reads ({width} cycle{'s' if width > 1 else ''} = {width * tck:.3g} ns "
           "per bar)")
    mean_ns = float((latency * reads).sum() / reads.sum()) * tck
    marks = [("mean", mean_ns, "#d62728"),
             ("p50", percentile_cycles(latency, reads, 0.5) * tck, "#2ca02c"),
             ("p99", percentile_cycles(latency, reads, 0.99) * tck, "#9467bd")]
    for name, v, colour in marks:
        ax.axvline(v, color=colour, linestyle="--", linewidth=1, label=f"{name} {v:.1f} ns")
    ax.set_xlabel("read latency (ns), arrival to data returned")
    ax.set_ylabel("reads (count)")
    ax.set_title(title or f"Read-latency distribution ({int(reads.sum()):,d} reads)")
    ax.legend()
    ax.grid(alpha=0.3)
    return fig
