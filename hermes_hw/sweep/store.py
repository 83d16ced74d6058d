"""The result folder of a sweep.

```
OUT/
  grid.json                the grid as read (for the record)
  points/<id>/config.json  the point's resolved config (canonical JSON)
  points/<id>/result.json  written atomically when the point finished: a point is finished
                           exactly when this file exists
  points/<id>/error.txt    why the point failed (removed when it later succeeds)
  results.csv              one row per finished point, in grid order (+ results.parquet)
```
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from hermes_hw.errors import InputError
from hermes_hw.sweep.grid import Grid, Point
from hermes_hw.sweep.ids import canonical_json

RESULT_FILE = "result.json"
TABLE_CSV = "results.csv"
TABLE_PARQUET = "results.parquet"
RESULT_FORMAT = "hermes-sweep-point/1"
_UMASK = os.umask(0o022)
os.umask(_UMASK)


def atomic_write(path: Path, data: bytes) -> None:
    """Write via a temporary file in the same folder + fsync + rename: readers (and a rerun after
    a crash) see either no file or the whole file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


class SweepStore:
    def __init__(self, grid: Grid) -> None:
        self.grid = grid
        self.root = grid.out

    def point_dir(self, point: Point) -> Path:
        return self.root / "points" / point.id

    def result_path(self, point: Point) -> Path:
        return self.point_dir(point) / RESULT_FILE

    def is_finished(self, point: Point) -> bool:
        return self.result_path(point).is_file()

    def prepare(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            atomic_write(self.root / "grid.json",
                         (json.dumps(self.grid.spec, indent=2, default=str) + "\n").encode())
        except OSError as err:
            raise InputError(f"cannot write the result folder ({err.strerror})",
                             source=str(self.root)) from None

    def start_point(self, point: Point) -> Path:
        d = self.point_dir(point)
        d.mkdir(parents=True, exist_ok=True)
        atomic_write(d / "config.json", (canonical_json(point.config) + "\n").encode())
        return d

    def forget(self, point: Point) -> None:
        """Make a point unfinished (``--rerun``)."""
        self.result_path(point).unlink(missing_ok=True)

    def save_result(self, point: Point, values: dict[str, Any], meta: dict[str, Any]) -> None:
        record = {"format": RESULT_FORMAT, "id": point.id, "runner": self.grid.runner_name,
                  "axes": point.axes, "values": values, "meta": meta}
        text = json.dumps(record, indent=1, sort_keys=False, allow_nan=True) + "\n"
        atomic_write(self.result_path(point), text.encode())
        (self.point_dir(point) / "error.txt").unlink(missing_ok=True)

    def save_error(self, point: Point, message: str) -> None:
        atomic_write(self.point_dir(point) / "error.txt", (message.rstrip() + "\n").encode())

    def load_result(self, point: Point) -> dict[str, Any]:
        path = self.result_path(point)
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError) as err:
            raise InputError(f"unreadable point result ({err}); delete it or pass --rerun "
                             f"{point.id}", source=str(path)) from None
        if record.get("format") != RESULT_FORMAT or record.get("id") != point.id:
            raise InputError(f"not a result of point {point.id}; delete it or pass --rerun "
                             f"{point.id}", source=str(path))
        return record

    # -- the table ----------------------------------------------------------------------------
    def table(self) -> tuple[list[str], list[list[Any]]]:
        """Columns and rows (finished points only, in grid order), read back from the result
        files so the table never depends on how or where the points ran."""
        columns = ["point_id", *self.grid.axis_names]
        rows: list[dict[str, Any]] = []
        for point in self.grid.points:
            if not self.is_finished(point):
                continue
            values = self.load_result(point)["values"]
            for key in values:
                if key not in columns:
                    columns.append(key)
            rows.append({"point_id": point.id, **{k: _cell(v) for k, v in point.axes.items()},
                         **values})
        return columns, [[row.get(c) for c in columns] for row in rows]

    def write_table(self) -> list[Path]:
        columns, rows = self.table()
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow(["" if v is None else _text(v) for v in row])
        written = [self.root / TABLE_CSV]
        atomic_write(written[0], buf.getvalue().encode())
        parquet = _write_parquet(self.root / TABLE_PARQUET, columns, rows)
        if parquet:
            written.append(parquet)
        return written


def _cell(value: Any) -> Any:
    return canonical_json(value) if isinstance(value, dict | list) else value


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _write_parquet(path: Path, columns: list[str], rows: list[list[Any]]) -> Path | None:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        return None
    cols = {}
    for i, name in enumerate(columns):
        values = [r[i] for r in rows]
        kinds = {type(v) for v in values if v is not None}
        if kinds <= {int, float} and float in kinds:
            values = [None if v is None else float(v) for v in values]
        elif len(kinds) > 1:
            values = [None if v is None else _text(v) for v in values]
        cols[name] = values
    table = pa.table(cols)
    buf = pa.BufferOutputStream()
    pq.write_table(table, buf, compression="zstd")
    atomic_write(path, buf.getvalue().to_pybytes())
    return path
