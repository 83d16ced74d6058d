"""Bar and line charts of result tables (experiment CSVs, sweep tables)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from hermes_hw.errors import InputError, closest_match_hint
from hermes_hw.plot.style import SYSTEM_COLOURS, colour_cycle, label_bars, new_figure


def grouped_bars(categories: list[str], series: dict[str, list[float]], *, ylabel: str,
                 xlabel: str = "", title: str = "", log: bool = False, values: bool = True,
                 value_fmt: str = "{:.3g}", legend_title: str | None = None):
    """One group of bars per category, one bar per series (a system), values on the bars."""
    n = max(1, len(series))
    fig, ax = new_figure(max(6.0, 0.35 * n * len(categories) + 2), 4.0)
    colours = colour_cycle(list(series), SYSTEM_COLOURS)
    width = 0.8 / n
    x = np.arange(len(categories))
    for i, (name, vals) in enumerate(series.items()):
        v = np.array([np.nan if a is None else a for a in vals], dtype=float)
        bars = ax.bar(x + (i - (n - 1) / 2) * width, v, width, label=name, color=colours[name])
        if values:
            label_bars(ax, bars, value_fmt, rotation=90 if n * len(categories) > 12 else 0)
    ax.set_xticks(x, categories)
    ax.margins(y=0.2)
    if log:
        ax.set_yscale("log")
        lo, hi = ax.get_ylim()
        ax.set_ylim(lo, hi * 6)  # room for the printed values
    ax.set_ylabel(ylabel)
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(title=legend_title, ncol=min(6, n + 1), fontsize=7, loc="upper center",
              bbox_to_anchor=(0.5, -0.14))
    return fig


def stacked_bars(categories: list[str], parts: dict[str, list[float]], *, ylabel: str,
                 xlabel: str = "", title: str = "", colours: dict[str, str] | None = None,
                 totals: bool = True, total_fmt: str = "{:.3g}"):
    """Stacked bars (e.g. a latency breakdown): one bar per category, one segment per part."""
    fig, ax = new_figure(max(5.0, 0.8 * len(categories) + 3), 4.0)
    colour = colour_cycle(list(parts), colours)
    bottom = np.zeros(len(categories))
    x = np.arange(len(categories))
    for name, vals in parts.items():
        v = np.array(vals, dtype=float)
        ax.bar(x, v, 0.6, bottom=bottom, label=name, color=colour[name])
        bottom += v
    if totals:
        for xi, total in zip(x, bottom, strict=True):
            ax.annotate(total_fmt.format(total), (xi, total), xytext=(0, 2),
                        textcoords="offset points", ha="center", fontsize=7)
    ax.set_xticks(x, categories, rotation=30 if len(categories) > 6 else 0, ha="right"
                  if len(categories) > 6 else "center")
    ax.set_ylabel(ylabel)
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    ax.margins(y=0.12)
    ax.legend(bbox_to_anchor=(1.01, 1), loc="upper left")
    return fig


def lines(x: list[float], series: dict[str, list[float]], *, xlabel: str, ylabel: str,
          title: str = "", logx: bool = False, logy: bool = False, values: bool = False,
          value_fmt: str = "{:.3g}"):
    fig, ax = new_figure(6.5, 4.0)
    colours = colour_cycle(list(series), SYSTEM_COLOURS)
    for name, ys in series.items():
        y = np.array([np.nan if a is None else a for a in ys], dtype=float)
        ax.plot(x, y, marker="o", markersize=4, label=name, color=colours[name])
        if values:
            for xi, yi in zip(x, y, strict=True):
                if yi == yi:
                    ax.annotate(value_fmt.format(yi), (xi, yi), xytext=(0, 4),
                                textcoords="offset points", ha="center", fontsize=6.5)
    if logx:
        ax.set_xscale("log", base=2)
        ax.set_xticks(x, [f"{v:g}" for v in x])
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return fig


def read_table(path: str | Path) -> tuple[list[str], list[dict[str, str]]]:
    try:
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            rows = list(reader)
            return list(reader.fieldnames or []), rows
    except OSError as err:
        raise InputError(f"cannot read table ({err.strerror})", source=str(path)) from None


def column(rows: list[dict[str, str]], columns: list[str], name: str, source: str
           ) -> list[str]:
    if name not in columns:
        raise InputError(f"unknown column '{name}'{closest_match_hint(name, columns)}",
                         source=source)
    return [r[name] for r in rows]


def _num(text: str, where: str) -> float:
    try:
        return float(text) if text != "" else float("nan")
    except ValueError:
        raise InputError(f"non-numeric value '{text}'", source=where) from None


def plot_table(path: str | Path, x: str, y: str, hue: str | None = None, kind: str = "line",
               title: str | None = None, ylabel: str | None = None, xlabel: str | None = None):
    """A sweep or experiment table as lines (numeric x) or grouped bars, one series per ``hue``
    value."""
    src = str(path)
    columns, rows = read_table(path)
    xs = column(rows, columns, x, src)
    ys = [_num(v, f"{src}: column {y}") for v in column(rows, columns, y, src)]
    hues = column(rows, columns, hue, src) if hue else [y] * len(rows)
    order_x = list(dict.fromkeys(xs))
    series: dict[str, list[float]] = {}
    for h in dict.fromkeys(hues):
        by_x = {xv: yv for xv, yv, hv in zip(xs, ys, hues, strict=True) if hv == h}
        series[f"{hue}={h}" if hue else h] = [by_x.get(xv, float("nan")) for xv in order_x]
    labels = {"xlabel": xlabel or x, "ylabel": ylabel or y, "title": title or f"{y} vs {x}"}
    if kind == "line":
        xv = [_num(v, f"{src}: column {x}") for v in order_x]
        return lines(xv, series, **labels, values=len(xv) * len(series) <= 30)
    return grouped_bars(order_x, series, **labels)
