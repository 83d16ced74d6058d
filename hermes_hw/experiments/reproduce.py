"""`hermes reproduce`: run every experiment of configs/experiments/ and write, per experiment, a
CSV and a figure (PNG + PDF), plus index.md that shows them all.

All experiments' points go through the sweep machinery together: a point shared by several
experiments (Hermes on LLaMA2-70B at batch 1 ...) runs once, finished points are reused on the
next run (``--force`` recomputes), and the local-process or Dask executors apply.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path

from hermes_hw.errors import InputError
from hermes_hw.experiments.figures import draw
from hermes_hw.experiments.spec import ExperimentSpec, load_experiments
from hermes_hw.experiments.table import STATUS, build_table, table_csv, table_markdown
from hermes_hw.sweep.driver import run_sweep
from hermes_hw.sweep.grid import Grid, grid_from_dict
from hermes_hw.sweep.store import atomic_write

#: full: every axis value, analytical DIMM timing; fast: the experiments' reduced axes
#: (``fast:``), analytical; cycle: every axis value, cycle-level DIMM timing (simulate points get
#: ``dimm_timing: cycle`` = ``dimm_model: cycle``: the replay of each run's lowered trace).
MODES = ("full", "fast", "cycle")


@dataclass
class Outcome:
    spec: ExperimentSpec
    status: str = "pending"  # done | partial | pending | failed
    message: str = ""
    files: list[Path] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    rows: list[dict] = field(default_factory=list)


def _grid(spec: ExperimentSpec, mode: str, runs: Path) -> Grid:
    data = copy.deepcopy(spec.grid)
    if data.get("runner") == "simulate":
        data.setdefault("set", {})["dimm_timing"] = "cycle" if mode == "cycle" else "fast"
    if mode == "fast":
        axes = data.get("axes") or {}
        zipped = {n for g in data.get("zip") or [] for n in g}
        for name, values in spec.fast.items():
            if name not in axes or name in zipped:
                raise InputError(f"fast.{name}: not a (non-zipped) axis of the grid",
                                 source=spec.source)
            extra = [v for v in values if v not in axes[name]]
            if extra:
                raise InputError(f"fast.{name}: {extra} not among the axis values "
                                 f"{axes[name]}", source=spec.source)
            axes[name] = list(values)
    return grid_from_dict(data, source=f"{spec.source}: grid", base_dir=Path(spec.source).parent,
                          out=runs)


def reproduce(out: str | Path, *, mode: str = "full", only: list[str] | None = None,
              workers: int | None = None, scheduler=None, force: bool = False,
              progress: bool | None = None, folder: Path | None = None) -> list[Outcome]:
    if mode not in MODES:
        raise InputError(f"unknown mode '{mode}' ({', '.join(MODES)})")
    out = Path(out)
    runs = out / "runs"
    specs = load_experiments(folder, only)
    outcomes = [Outcome(spec=s) for s in specs]
    grids: dict[str, Grid] = {}
    for o in outcomes:
        try:
            grids[o.spec.id] = _grid(o.spec, mode, runs)
        except InputError as err:
            o.message = str(err)  # pending: cannot run in this installation / mode
    # every unique point once, grouped by runner
    by_runner: dict[str, Grid] = {}
    for g in grids.values():
        combined = by_runner.get(g.runner_name)
        if combined is None:
            combined = by_runner[g.runner_name] = Grid(
                source="hermes reproduce", base_dir=g.base_dir, runner_name=g.runner_name,
                runner=g.runner, axis_names=[], points=[], out=runs, spec={"experiments": []})
        seen = {p.id for p in combined.points}
        combined.points.extend(p for p in g.points if p.id not in seen and not seen.add(p.id))
    for combined in by_runner.values():
        combined.spec["experiments"] = sorted(
            s for s, g in grids.items() if g.runner_name == combined.runner_name)
        run_sweep(combined, workers=workers, scheduler=scheduler, progress=progress,
                  rerun=[p.id for p in combined.points] if force else (), write_table=False)
    for o in outcomes:
        if o.spec.id not in grids:
            continue
        _finish(o, grids[o.spec.id], out)
    write_index(out, outcomes, mode)
    return outcomes


def _finish(o: Outcome, grid: Grid, out: Path) -> None:
    spec = o.spec
    try:
        o.columns, o.rows = build_table(spec, grid)
        csv_path = out / f"{spec.id}.csv"
        atomic_write(csv_path, table_csv(o.columns, o.rows).encode())
        o.files.append(csv_path)
        failed = [r for r in o.rows if r[STATUS] != "ok"]
        if len(failed) == len(o.rows):
            o.status, o.message = "failed", failed[0][STATUS]
            return
        from hermes_hw.plot.style import save_figure

        ok_rows = o.rows if spec.figure.kind in ("bars", "lines") else [
            r for r in o.rows if r[STATUS] == "ok"]
        o.files += save_figure(draw(spec, grid, ok_rows), out / spec.id, ("png", "pdf"))
        o.status = "partial" if failed else "done"
        if failed:
            o.message = (f"{len(failed)} of {len(o.rows)} points did not finish; first: "
                         f"{failed[0][STATUS]}")
    except InputError as err:
        o.status, o.message = "failed", str(err)


def write_index(out: Path, outcomes: list[Outcome], mode: str) -> Path:
    lines = ["# hermes-hw: the paper's experiment set", "",
             f"Generated by `hermes reproduce{'' if mode == 'full' else ' --' + mode}` "
             f"({'cycle-level' if mode == 'cycle' else 'analytical'} DIMM timing"
             f"{'; reduced axes of each experiment' if mode == 'fast' else ''}). "
             "Each experiment is described by a file in `configs/experiments/`; its CSV holds "
             "every point (status `ok` or why it is missing) and, where the paper prints "
             "numbers, a column with them. Point results are cached in `runs/` (by config hash).",
             "", "| experiment | status | files |", "|---|---|---|"]
    for o in outcomes:
        files = ", ".join(f"[{p.suffix[1:]}]({p.name})" for p in o.files)
        lines.append(f"| [{o.spec.title}](#{o.spec.id}) | {o.status} | {files} |")
    for o in outcomes:
        s = o.spec
        lines += ["", f"<a id=\"{s.id}\"></a>", f"## {s.title}", ""]
        if s.paper:
            lines += [f"Paper: {s.paper}", ""]
        if s.description:
            lines += [s.description.strip(), ""]
        lines += [f"Status: **{o.status}**" + (f" ({o.message})" if o.message else ""), ""]
        png = next((p for p in o.files if p.suffix == ".png"), None)
        if png:
            lines += [f"![{s.title}]({png.name})", ""]
        if o.rows:
            lines += [table_markdown(o.columns, o.rows), ""]
    path = out / "index.md"
    atomic_write(path, ("\n".join(lines) + "\n").encode())
    return path


