"""Draw an experiment's figure from its table (or from a file in one point's folder)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from hermes_hw.errors import InputError
from hermes_hw.experiments.spec import ExperimentSpec
from hermes_hw.sweep.grid import Grid
from hermes_hw.sweep.store import SweepStore


def _label(v: Any) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def _matrix(spec: ExperimentSpec, rows: list[dict[str, Any]], y: str
            ) -> tuple[list[Any], dict[str, list[float]]]:
    f = spec.figure
    xs = list(dict.fromkeys(r.get(f.x) for r in rows))
    series_vals = list(dict.fromkeys(r.get(f.series) for r in rows)) if f.series else [None]
    out: dict[str, list[float]] = {}
    for s in series_vals:
        by_x = {r.get(f.x): r.get(y) for r in rows if (f.series is None or r.get(f.series) == s)}
        vals = [by_x.get(x) for x in xs]
        out[_label(s) if s is not None else (f.ylabel or y)] = [
            float(v) * f.scale if isinstance(v, int | float) else float("nan") for v in vals]
    return xs, out


def draw(spec: ExperimentSpec, grid: Grid, rows: list[dict[str, Any]]):
    """Return a matplotlib figure for the experiment."""
    from hermes_hw.plot import charts

    f = spec.figure
    title = spec.title
    if f.kind in ("bars", "lines"):
        if not f.x or not f.y:
            raise InputError("figure: 'x' and 'y' are required for bars and lines",
                             source=spec.source)
        xs, series = _matrix(spec, rows, f.y)
        if f.kind == "bars":
            fig = charts.grouped_bars([_label(x) for x in xs], series, ylabel=f.ylabel or f.y,
                                      xlabel=f.xlabel or f.x, title=title, log=f.log,
                                      values=f.values, value_fmt=f.value_format,
                                      legend_title=f.series)
            if f.reference:
                _reference_markers(fig.axes[0], spec, rows, xs, series)
            return fig
        return charts.lines([float(x) for x in xs], series, xlabel=f.xlabel or f.x,
                            ylabel=f.ylabel or f.y, title=title, logx=f.logx, logy=f.log,
                            values=f.values, value_fmt=f.value_format)
    if f.kind == "stacked":
        if not f.x or not f.parts:
            raise InputError("figure: 'x' and 'parts' are required for stacked bars",
                             source=spec.source)
        cats = [" ".join(_label(r.get(c)) for c in ([f.x] + ([f.series] if f.series else [])))
                for r in rows]
        parts = {f.part_labels.get(p, p): [float(r.get(p) or 0.0) * f.scale for r in rows]
                 for p in f.parts}
        if f.normalize:
            total = np.sum([v for v in parts.values()], axis=0)
            total[total == 0] = 1.0
            parts = {k: list(np.array(v) / total * 100) for k, v in parts.items()}
        from hermes_hw.plot.style import CATEGORY_COLOURS

        colours = {f.part_labels.get(p, p): CATEGORY_COLOURS.get(p.split(".")[-1])
                   for p in f.parts if p.split(".")[-1] in CATEGORY_COLOURS}
        return charts.stacked_bars(cats, parts, ylabel=f.ylabel or ("share (%)" if f.normalize
                                   else ""), xlabel=f.xlabel, title=title, colours=colours,
                                   totals=not f.normalize, total_fmt=f.value_format)
    # figures from a file in one point's folder
    path = _point_file(spec, grid)
    if f.kind == "gantt":
        from hermes_hw.plot.timeline import plot_gantt, read_timeline, select_bars

        lanes, bars = read_timeline(path)
        return plot_gantt(lanes, select_bars(bars, f.tokens, prefill=False), title)
    from hermes_hw.plot.workload import plot_load_balance, plot_predictor_quality
    from hermes_hw.plot.workload_result import read_workload_result

    obj = read_workload_result(path)
    return (plot_load_balance if f.kind == "load-balance" else plot_predictor_quality)(obj, title)


def _point_file(spec: ExperimentSpec, grid: Grid) -> Path:
    f = spec.figure
    store = SweepStore(grid)
    for point in grid.points:
        if all(point.axes.get(k) == v for k, v in f.point.items()):
            path = store.point_dir(point) / f.file
            if not path.is_file():
                raise InputError(f"figure: point {point.id} has no '{f.file}' (did it fail?)",
                                 source=spec.source)
            return path
    raise InputError(f"figure.point: no point matches {f.point}", source=spec.source)


def _reference_markers(ax, spec: ExperimentSpec, rows, xs, series) -> None:
    f = spec.figure
    n = len(series)
    width = 0.8 / max(1, n)
    shown = False
    for i, s in enumerate(series):
        for j, x in enumerate(xs):
            ref = next((r.get(f.reference) for r in rows if r.get(f.x) == x
                        and (f.series is None or _label(r.get(f.series)) == s)), None)
            if isinstance(ref, int | float):
                ax.plot(j + (i - (n - 1) / 2) * width, ref * f.scale, marker="_",
                        markersize=14, markeredgewidth=2, color="black",
                        label=None if shown else "paper (Fig. values, [F])")
                shown = True
    if shown:
        ax.legend(ncol=min(6, n + 1), fontsize=7, title=f.series, loc="upper center",
                  bbox_to_anchor=(0.5, -0.14))
