"""An experiment's table: one row per grid point (axis values, result values or the reason it
is missing), plus paper values, constants and derived columns."""

from __future__ import annotations

import csv
import io
import math
from typing import Any

from hermes_hw.errors import InputError
from hermes_hw.experiments.spec import ExperimentSpec, Lookup
from hermes_hw.sweep.grid import Grid
from hermes_hw.sweep.store import SweepStore, _text

STATUS = "status"


def _lookup(spec: Lookup, row: dict[str, Any]) -> Any:
    node: Any = spec.values
    for col in spec.by:
        if not isinstance(node, dict):
            return None
        key = row.get(col)
        node = node.get(str(key), node.get(key)) if key is not None else None
        if node is None:
            return None
    return node if isinstance(node, int | float) and not isinstance(node, bool) else None


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def build_table(spec: ExperimentSpec, grid: Grid) -> tuple[list[str], list[dict[str, Any]]]:
    store = SweepStore(grid)
    columns: list[str] = list(grid.axis_names)
    rows: list[dict[str, Any]] = []
    for point in grid.points:
        row: dict[str, Any] = {k: v for k, v in point.axes.items()}
        if store.is_finished(point):
            values = store.load_result(point)["values"]
            for k in values:
                if k not in columns:
                    columns.append(k)
            row.update(values)
            row[STATUS] = "ok"
        else:
            err = store.point_dir(point) / "error.txt"
            msg = err.read_text().strip().splitlines()[-1] if err.is_file() else "not run"
            row[STATUS] = msg if msg == "not run" else f"failed: {msg}"
        rows.append(row)
    extra = ([spec.reference] if spec.reference else []) + list(spec.constants)
    for lk in extra:
        for row in rows:
            row[lk.column] = _lookup(lk, row)
    for d in spec.derived:
        for row in rows:
            row[d.column] = _derive(d, row, rows, spec.source)
    wanted = spec.columns or columns
    for name in wanted:
        known = set(columns) | {lk.column for lk in extra} | {d.column for d in spec.derived}
        if name not in known and rows and all(r[STATUS] == "ok" for r in rows):
            from hermes_hw.errors import closest_match_hint

            raise InputError(f"columns: unknown column '{name}'{closest_match_hint(name, known)}",
                             source=spec.source)
    out_cols = list(wanted) + [lk.column for lk in extra if lk.column not in wanted] + [
        d.column for d in spec.derived if d.column not in wanted]
    return out_cols + [STATUS], rows


def _derive(d, row: dict[str, Any], rows: list[dict[str, Any]], source: str) -> float | None:
    if d.divide:
        if len(d.divide) != 2:
            raise InputError(f"derived {d.column}: divide needs [numerator, denominator]",
                             source=source)
        a, b = _num(row.get(d.divide[0])), _num(row.get(d.divide[1]))
        return a / b * d.scale if a is not None and b else None
    if d.ratio_to:
        col = d.ratio_to.get("column")
        where = d.ratio_to.get("where", {})
        match = d.ratio_to.get("match", [])
        ref = next((r for r in rows if all(r.get(k) == v for k, v in where.items())
                    and all(r.get(m) == row.get(m) for m in match)), None)
        a = _num(row.get(col))
        b = _num(ref.get(col)) if ref else None
        return a / b * d.scale if a is not None and b else None
    raise InputError(f"derived {d.column}: give 'divide' or 'ratio_to'", source=source)


def table_csv(columns: list[str], rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(columns)
    for row in rows:
        w.writerow(["" if row.get(c) is None else _text(row[c]) for c in columns])
    return buf.getvalue()


def table_markdown(columns: list[str], rows: list[dict[str, Any]], limit: int = 40) -> str:
    def cell(v: Any) -> str:
        if v is None:
            return ""
        if isinstance(v, float):
            return "nan" if math.isnan(v) else f"{v:.4g}"
        return str(v).replace("|", "/")

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows[:limit]:
        lines.append("| " + " | ".join(cell(row.get(c)) for c in columns) + " |")
    if len(rows) > limit:
        lines.append(f"\n({len(rows) - limit} more rows in the CSV)")
    return "\n".join(lines)
