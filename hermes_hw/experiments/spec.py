"""Experiment files (``configs/experiments/*.yaml``): a sweep grid, how to turn its points into a
table (paper values, constants, derived columns) and how to draw the figure. Adding an
experiment = adding one file; nothing here executes code from the file."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hermes_hw.errors import InputError

_STRICT = ConfigDict(extra="forbid")


class Lookup(BaseModel):
    """A column filled from a nested mapping keyed by other columns' values."""

    model_config = _STRICT
    column: str = Field(description="name of the new column")
    by: list[str] = Field(description="columns whose values index ``values`` (outer first)")
    values: dict[str, Any] = Field(description="nested mapping: value of by[0] -> ... -> number")
    note: str = Field("", description="where the numbers come from")


class Derived(BaseModel):
    """A column computed from others: ``divide: [a, b]`` (a / b) or ``ratio_to`` (a column over
    its value in the matching reference row), times ``scale``."""

    model_config = _STRICT
    column: str = Field(description="name of the new column")
    divide: list[str] | None = Field(None, description="[numerator, denominator] columns")
    ratio_to: dict[str, Any] | None = Field(
        None, description="{column: C, where: {col: value}, match: [cols]}: C over C of the row "
        "that satisfies 'where' and has the same 'match' values")
    scale: float = Field(1.0, description="factor applied to the result")


class FigureSpec(BaseModel):
    model_config = _STRICT
    kind: Literal["bars", "lines", "stacked", "gantt", "load-balance", "predictor"] = Field(
        "bars", description="chart type (gantt/load-balance/predictor read a point's file)")
    x: str | None = Field(None, description="column on the x axis (categories or numbers)")
    series: str | None = Field(None, description="column whose values are the legend entries")
    y: str | None = Field(None, description="numeric column on the y axis")
    scale: float = Field(1.0, description="factor applied to y (e.g. 1000 for s -> ms)")
    parts: list[str] = Field(default_factory=list, description="stacked: columns to stack")
    part_labels: dict[str, str] = Field(default_factory=dict, description="legend names of parts")
    normalize: bool = Field(False, description="stacked: show each part as % of the bar total")
    xlabel: str = Field("", description="x-axis label with unit")
    ylabel: str = Field("", description="y-axis label with unit")
    log: bool = Field(False, description="logarithmic y axis")
    logx: bool = Field(False, description="logarithmic (base 2) x axis for lines")
    values: bool = Field(True, description="print values on bars / points")
    value_format: str = Field("{:.3g}", description="format of printed values")
    reference: str | None = Field(None, description="column of paper values drawn as markers")
    file: str = Field("", description="gantt/load-balance/predictor: file in the point's folder")
    point: dict[str, Any] = Field(default_factory=dict,
                                  description="which point's file (axis values; default first)")
    tokens: list[int] | None = Field(None, description="gantt: decode tokens to show")


class ExperimentSpec(BaseModel):
    model_config = _STRICT
    id: str = Field("", description="experiment id (default: the file name)")
    title: str = Field(description="figure and index title")
    paper: str = Field("", description="what the paper shows (section / figure)")
    description: str = Field("", description="what the experiment runs and how to read it")
    order: int = Field(100, description="position in the index")
    needs: list[str] = Field(default_factory=list,
                             description="runner names this experiment depends on")
    grid: dict[str, Any] = Field(description="a sweep grid (runner, base, set, axes, zip)")
    fast: dict[str, list[Any]] = Field(
        default_factory=dict, description="`--fast`: fewer values for some (non-zipped) axes, "
        "each a subset of the axis, so fast points are shared with full runs")
    columns: list[str] | None = Field(None, description="columns of the CSV (default: all)")
    reference: Lookup | None = Field(None, description="paper values (a column)")
    constants: list[Lookup] = Field(default_factory=list, description="constant columns")
    derived: list[Derived] = Field(default_factory=list, description="computed columns")
    figure: FigureSpec = Field(default_factory=FigureSpec, description="the figure")
    source: str = Field("", exclude=True)


def experiments_dir() -> Path:
    from hermes_hw.paths import configs_dir

    return configs_dir() / "experiments"


def load_experiment(path: Path) -> ExperimentSpec:
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as err:
        raise InputError(f"cannot read experiment ({err.strerror})", source=str(path)) from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise InputError(f"malformed YAML: {getattr(err, 'problem', err)}", source=where) \
            from None
    if not isinstance(data, dict):
        raise InputError("expected a mapping with 'title', 'grid' and 'figure'", source=str(path))
    try:
        spec = ExperimentSpec.model_validate(data)
    except ValidationError as err:
        e = sorted(err.errors(), key=lambda e: e["type"] != "extra_forbidden")[0]
        loc = ".".join(str(p) for p in e["loc"]) or "(top level)"
        msg = "unknown key" if e["type"] == "extra_forbidden" else e["msg"]
        raise InputError(f"{loc}: {msg}", source=str(path)) from None
    spec.id = spec.id or path.stem
    spec.source = str(path)
    return spec


def load_experiments(folder: Path | None = None, only: list[str] | None = None
                     ) -> list[ExperimentSpec]:
    from hermes_hw.errors import unknown_name

    folder = folder or experiments_dir()
    specs = [load_experiment(p) for p in sorted(folder.glob("*.yaml"))]
    if not specs:
        raise InputError("no experiment files (*.yaml)", source=str(folder))
    ids = [s.id for s in specs]
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise InputError(f"two experiments have the id '{dup}'", source=str(folder))
    if only:
        for name in only:
            if name not in ids:
                raise unknown_name("experiment", name, ids)
        specs = [s for s in specs if s.id in only]
    return sorted(specs, key=lambda s: (s.order, s.id))
