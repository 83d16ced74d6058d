"""Grid files: a base config, fixed overrides and axes (dotted key paths), expanded to points.

```yaml
runner: dram-replay                      # point runner (see hermes_hw.sweep.runners)
base: ../configs/dram/hermes_ndp_dimm.yaml   # file (relative to this grid) or inline mapping
set:                                     # fixed overrides, dotted key path -> value
  Frontend.path: ../traces/sample_mix_2k.trace
axes:                                    # dotted key path -> list of values (product)
  MemorySystem.DRAM.timing.nRRDS: [4, 6]
  MemorySystem.Controller.Scheduler.impl: [FRFCFS, FCFS]
zip: []                                  # optional groups of axes varied together
```

Everything is validated before any point runs: unknown keys, empty axes, wrong types and values
the runner rejects raise :class:`~hermes_hw.errors.InputError` naming the grid file and key path.
"""

from __future__ import annotations

import copy
import itertools
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hermes_hw.errors import InputError
from hermes_hw.sweep.ids import canonical_json, point_id
from hermes_hw.sweep.runners.base import PointRunner, make_runner


class GridFile(BaseModel):
    """The schema of a grid YAML file."""

    model_config = ConfigDict(extra="forbid")

    runner: str = Field("dram-replay", description="point runner name")
    description: str = Field("", description="free text, copied to the result folder")
    base: str | dict[str, Any] | None = Field(
        None, description="base config: a file (relative to the grid file, else to the built-in "
        "configs/ folder) or an inline mapping; default: the runner's default config")
    set: dict[str, Any] = Field(default_factory=dict,
                                description="fixed overrides: dotted key path -> value")
    axes: dict[str, list[Any]] = Field(description="dotted key path -> list of values; the "
                                       "points are the product of the axes")
    zip: list[list[str]] = Field(default_factory=list,
                                 description="groups of axes varied together (equal lengths)")
    out: str | None = Field(None, description="result folder (relative to the grid file)")


@dataclass
class Point:
    """One point of a grid: its stable id, its axis values and its resolved config."""

    index: int
    id: str
    axes: dict[str, Any]
    config: dict[str, Any]


@dataclass
class Grid:
    source: str
    base_dir: Path  # relative paths in point configs are resolved from here
    runner_name: str
    runner: PointRunner
    axis_names: list[str]
    points: list[Point]
    out: Path
    description: str = ""
    spec: dict[str, Any] = field(default_factory=dict)

    def point(self, pid: str) -> Point:
        from hermes_hw.errors import unknown_name

        for p in self.points:
            if p.id == pid:
                return p
        by_prefix = [p for p in self.points if pid and p.id.startswith(pid)]
        if len(by_prefix) == 1:  # a unique prefix is enough, as with git commits
            return by_prefix[0]
        raise unknown_name("point id", pid, [p.id for p in self.points], source=self.source)


# -- dotted key paths -----------------------------------------------------------------------

def _parts(path: str) -> list[str]:
    parts = path.split(".")
    if not path or any(not p for p in parts):
        raise InputError(f"'{path}': not a dotted key path (expected e.g. MemorySystem.DRAM.impl)")
    return parts


def get_path(config: Any, path: str) -> Any:
    """Value at a dotted key path (KeyError if absent)."""
    node = config
    for part in _parts(path):
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            raise KeyError(path)
    return node


def set_path(config: dict[str, Any], path: str, value: Any) -> None:
    """Set the value at a dotted key path, creating missing sections (list items by index)."""
    parts = _parts(path)
    node: Any = config
    for depth, part in enumerate(parts[:-1]):
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise InputError(f"'{path}': '{'.'.join(parts[:depth])}' is a list of "
                                 f"{len(node)} item(s); '{part}' is not an index into it")
            node = node[int(part)]
            continue
        if part not in node or node[part] is None:
            node[part] = {}
        elif not isinstance(node[part], dict | list):
            raise InputError(f"'{path}': '{'.'.join(parts[:depth + 1])}' is a value "
                             f"({node[part]!r}), not a section")
        node = node[part]
    last = parts[-1]
    if isinstance(node, list):
        if not last.isdigit() or int(last) >= len(node):
            raise InputError(f"'{path}': '{last}' is not an index into a list of {len(node)}")
        node[int(last)] = value
    else:
        node[last] = value


# -- loading ----------------------------------------------------------------------------------

def _read_yaml(path: Path, what: str) -> Any:
    try:
        text = path.read_text()
    except OSError as err:
        raise InputError(f"cannot read {what} ({err.strerror})", source=str(path)) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        problem = getattr(err, "problem", None) or "malformed YAML"
        raise InputError(f"malformed YAML: {problem}", source=where) from None


def _find_file(name: str, base_dir: Path) -> Path | None:
    from hermes_hw.paths import configs_dir

    p = Path(name)
    if p.is_absolute():
        return p if p.is_file() else None
    for root in (base_dir, configs_dir()):
        if (root / p).is_file():
            return root / p
    return None


def _rebase_paths(config: dict[str, Any], runner: PointRunner, frm: Path, to: Path) -> None:
    """Make the runner's file paths in a base config relative to the grid's folder instead of
    the base file's (a base file's paths are relative to it, or to its parent folder)."""
    for key in runner.path_keys:
        try:
            value = get_path(config, key)
        except KeyError:
            continue
        if not isinstance(value, str) or Path(value).is_absolute():
            continue
        found = next((d / value for d in (frm, frm.parent) if (d / value).exists()), frm / value)
        set_path(config, key, os.path.relpath(found.resolve(), to.resolve()))


def _check(runner: PointRunner, config: dict[str, Any], base_dir: Path, what: str,
           source: str) -> None:
    try:
        canonical_json(config)
    except (TypeError, ValueError) as err:
        raise InputError(f"{what}: value not representable as JSON ({err})", source=source) \
            from None
    try:
        runner.validate(config, base_dir)
    except InputError as err:
        msg = str(err).lstrip(": ")
        raise InputError(f"{what}: {msg}", source=source) from None


def _axis_desc(path: str, value: Any) -> str:
    return f"axes.{path} = {canonical_json(value)}"


def load_grid(path: str | Path, out: str | Path | None = None) -> Grid:
    """Read, validate and expand a grid file (no point is run)."""
    path = Path(path)
    src = str(path)
    if not path.is_file():
        raise InputError("grid file not found", source=src)
    data = _read_yaml(path, "grid file")
    default_out = path.parent / f"{path.stem}.sweep"
    return grid_from_dict(data, source=src, base_dir=path.parent,
                          out=Path(out) if out is not None else None, default_out=default_out)


def grid_from_dict(data: Any, *, source: str, base_dir: Path, out: Path | None = None,
                   default_out: Path | None = None) -> Grid:
    """Validate and expand a grid given as a mapping (``source`` names it in messages;
    relative paths are resolved from ``base_dir``)."""
    src = source
    if not isinstance(data, dict):
        raise InputError("expected a mapping with 'axes' (and 'runner', 'base', 'set')",
                         source=src)
    try:
        spec = GridFile.model_validate(data)
    except ValidationError as err:
        errors = sorted(err.errors(), key=lambda e: e["type"] != "extra_forbidden")
        first = errors[0]
        loc = ".".join(str(p) for p in first["loc"]) or "(top level)"
        msg = "unknown key" if first["type"] == "extra_forbidden" else first["msg"]
        if first["type"] == "extra_forbidden":
            msg += f"; valid keys: {', '.join(GridFile.model_fields)}"
        raise InputError(f"{loc}: {msg}", source=src) from None
    runner = make_runner(spec.runner, source=f"{src}: runner")

    # base config
    if spec.base is None:
        base = runner.base_config(base_dir)
    elif isinstance(spec.base, str):
        found = _find_file(spec.base, base_dir)
        if found is None:
            raise InputError(f"base: config file '{spec.base}' not found (looked in {base_dir} "
                             "and the built-in configs/ folder)", source=src)
        base = _read_yaml(found, "base config")
        if not isinstance(base, dict):
            raise InputError(f"base: '{found}' is not a YAML mapping", source=src)
        _rebase_paths(base, runner, found.parent, base_dir)
    else:
        base = copy.deepcopy(spec.base)
    for key, value in spec.set.items():
        try:
            set_path(base, key, copy.deepcopy(value))
        except InputError as err:
            raise InputError(f"set.{key}: {str(err)}", source=src) from None
    _check(runner, base, base_dir, "base config (with 'set')", src)

    # axes
    if not spec.axes:
        raise InputError("axes: no axis given (add at least one 'key.path: [values]')",
                         source=src)
    zipped = {name for group in spec.zip for name in group}
    for name, values in spec.axes.items():
        if not values:
            raise InputError(f"axes.{name}: empty axis (give at least one value)", source=src)
        seen = set()
        for v in values if name not in zipped else ():  # zip groups: checked as rows below
            key = canonical_json(v)
            if key in seen:
                raise InputError(f"axes.{name}: value {key} appears more than once", source=src)
            seen.add(key)
        for v in values:  # each value alone on the base: errors name this axis value
            cfg = copy.deepcopy(base)
            try:
                set_path(cfg, name, copy.deepcopy(v))
            except InputError as err:
                raise InputError(f"axes.{name}: {err}", source=src) from None
            _check(runner, cfg, base_dir, _axis_desc(name, v), src)
    groups = _groups(spec, src)

    points: list[Point] = []
    ids: dict[str, int] = {}
    for combo in itertools.product(*(_group_rows(spec, g) for g in groups)):
        assign: dict[str, Any] = {}
        for row in combo:
            assign.update(row)
        ordered = {name: assign[name] for name in spec.axes}
        cfg = copy.deepcopy(base)
        for name, value in ordered.items():
            set_path(cfg, name, copy.deepcopy(value))
        if len(spec.axes) > 1:
            what = "point " + ", ".join(_axis_desc(k, v) for k, v in ordered.items())
            _check(runner, cfg, base_dir, what, src)
        pid = point_id(spec.runner, cfg, runner.resolved(cfg, base_dir))
        if pid in ids:
            raise InputError(f"points {ids[pid]} and {len(points)} have the same resolved "
                             f"config (id {pid}); remove the duplicate axis value", source=src)
        ids[pid] = len(points)
        points.append(Point(index=len(points), id=pid, axes=ordered, config=cfg))

    out_dir = Path(out) if out is not None else (
        base_dir / spec.out if spec.out else (default_out or base_dir / "sweep"))
    return Grid(source=src, base_dir=base_dir, runner_name=spec.runner, runner=runner,
                axis_names=list(spec.axes), points=points, out=out_dir,
                description=spec.description, spec=data)


def _groups(spec: GridFile, src: str) -> list[list[str]]:
    """Axis groups in file order: each zip group, then each remaining axis alone."""
    zipped: dict[str, int] = {}
    for gi, group in enumerate(spec.zip):
        if len(group) < 2:
            raise InputError(f"zip.{gi}: a zip group needs at least two axes", source=src)
        for name in group:
            if name not in spec.axes:
                raise InputError(f"zip.{gi}: '{name}' is not an axis{_hint(name, spec.axes)}",
                                 source=src)
            if name in zipped:
                raise InputError(f"zip.{gi}: axis '{name}' is in two zip groups", source=src)
            zipped[name] = gi
        lengths = {len(spec.axes[n]) for n in group}
        if len(lengths) > 1:
            sizes = ", ".join(f"{n}: {len(spec.axes[n])}" for n in group)
            raise InputError(f"zip.{gi}: zipped axes must have equal lengths ({sizes})",
                             source=src)
        rows = [canonical_json([spec.axes[n][i] for n in group])
                for i in range(len(spec.axes[group[0]]))]
        if len(set(rows)) != len(rows):
            dup = next(r for r in rows if rows.count(r) > 1)
            raise InputError(f"zip.{gi}: the combination {dup} appears more than once",
                             source=src)
    groups: list[list[str]] = []
    done: set[int] = set()
    for name in spec.axes:
        if name in zipped:
            if zipped[name] not in done:
                done.add(zipped[name])
                groups.append(list(spec.zip[zipped[name]]))
        else:
            groups.append([name])
    return groups


def _group_rows(spec: GridFile, group: list[str]) -> list[dict[str, Any]]:
    n = len(spec.axes[group[0]])
    return [{name: spec.axes[name][i] for name in group} for i in range(n)]


def _hint(name: str, choices: Any) -> str:
    from hermes_hw.errors import closest_match_hint

    return closest_match_hint(name, choices)
