"""Fit the free timing parameters to the paper's calibration subset (batch 1, tokens/s).

Only the parameters listed in :data:`PARAMETERS` are fitted, each to the cells of the systems it
affects (PAPER_CELLS); everything else keeps its cited default. The objective is the sum over
cells of a penalty of the log error, log(simulated / paper) (:data:`LOSSES`; default Huber with
a 10% threshold, so a cell the paper reports inconsistently with the others of its system does
not drag a shared parameter away from them), plus the same penalty of log(mean Hermes prefill
share / 0.33) for the paper's statement that prefill is about 33% of Hermes' time (§8); it is
minimised by coordinate descent with a golden-section search in log(parameter) within the stated
bounds (deterministic).

Every evaluation is a **full run** (input 128 / output 128). Within one outer iteration the
Hermes-family placement is held at the plan of the current values (``placement_params``: the
feedback-corrected plan of :meth:`Hermes.plan_params`); between outer iterations it is
re-solved with the fitted values, so the last iteration's cells are what `hermes validate
paper` prints. Cells of one evaluation run in parallel processes (``jobs``).

The NDP's cycles per bit-serial op is *not* fitted: batch-1 cells cannot identify it once it is
bounded by the physics of the unit (docs/calibration.md), so the DIMM side's free parameter is
its streaming efficiency.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

from hermes_hw.systems.paper import PAPER_CELLS


@dataclass(frozen=True)
class Parameter:
    name: str
    systems: tuple[str, ...]
    path: tuple[str, ...]  # key path in the system config override
    lo: float
    hi: float
    start: float
    unit: str
    meaning: str


HERMES_FAMILY = ("hermes", "hermes-base", "hermes-host")
PARAMETERS: tuple[Parameter, ...] = (
    Parameter("hermes.prefill_pcie_efficiency", HERMES_FAMILY, ("offload", "h2d_efficiency"),
              0.3, 1.0, 0.8, "fraction of 64 GB/s",
              "achieved share of the paper's stated PCIe 4.0 64 GB/s when prefill streams the "
              "non-resident weights"),
    Parameter("hermes.sync_latency_ns", HERMES_FAMILY, ("sync", "latency_ns"),
              1000.0, 100_000.0, 6400.0, "ns", "host synchronisation of GPU and DIMMs/CPU"),
    Parameter("hermes.ndp_streaming_efficiency", ("hermes", "hermes-base"),
              ("ndp", "streaming_efficiency"), 0.2, 1.0, 0.5, "fraction of 94.7 GB/s",
              "achieved share of the engine's per-DIMM NDP streaming bandwidth"),
    Parameter("hermes-host.cpu_bandwidth_efficiency", ("hermes-host",),
              ("cpu_profile", "bandwidth_efficiency"), 0.05, 1.0, 0.5, "fraction of 89.6 GB/s",
              "achieved share of the host memory bandwidth of the CPU's sparse GEMV"),
    Parameter("hermes-host.cpu_op_overhead_ns", ("hermes-host",),
              ("cpu_profile", "op_overhead_ns"), 100.0, 2_000_000.0, 2000.0, "ns",
              "fixed CPU cost per operator (fork/join, GPU<->CPU hand-off)"),
    Parameter("accelerate.h2d_efficiency", ("accelerate",), ("offload", "h2d_efficiency"),
              0.01, 1.0, 0.2, "fraction of 31.5 GB/s", "Accelerate's per-layer copy rate"),
    Parameter("flexgen.h2d_efficiency", ("flexgen", "dejavu"), ("offload", "h2d_efficiency"),
              0.05, 1.0, 0.45, "fraction of 31.5 GB/s", "FlexGen's weight streaming rate (Deja "
              "Vu uses the same engine)"),
    Parameter("dejavu.gather_efficiency", ("dejavu",), ("dejavu", "gather_efficiency"),
              0.05, 1.0, 0.5, "fraction of bulk", "PCIe efficiency of gathered neuron rows"),
)
PREFILL_SHARE_WEIGHT = 1.0  # weight of the prefill-share term against one cell

LOSSES = ("huber", "absolute", "squared")
"""Per-cell penalty of the log error e = log(simulated / paper): ``squared`` e^2 (least
squares: one inconsistent cell pulls a shared parameter as hard as it misses); ``absolute``
|e| (centres each parameter on the median of its cells); ``huber`` e^2 / 2 within
``huber_delta`` and delta (|e| - delta / 2) beyond (least squares among the cells that agree,
bounded pull of the ones that do not). Default: huber with :data:`HUBER_DELTA`."""
HUBER_DELTA = math.log(1.10)
"""Default Huber threshold in log error: the issue's median target (10%). Cells the model
places within it count quadratically (least squares among the cells that agree); a cell
beyond it pulls its parameters with a bounded force, so one cell the paper reports
inconsistently with the rest of its system cannot drag them. ln 1.25 (the per-cell
tolerance) was evaluated too: docs/calibration.md."""


TOLERANCE = 0.24
"""Where :func:`cell_penalty`'s hinge starts, in the error `hermes validate paper` prints,
|simulated / paper - 1|: one point inside the issue's per-cell target (25%), so that a cell
the hinge pulls in does not sit on the target itself."""
TOLERANCE_WEIGHT = 4.0
"""Default hinge weight of :func:`fit`: beyond :data:`TOLERANCE` a cell's pull is 4 + the Huber
slope, so bringing it back inside outweighs the Huber gain of a few cells already inside (the
committed values; docs/calibration.md)."""


def cell_penalty(e: float, loss: str = "huber", delta: float = HUBER_DELTA,
                 tolerance_weight: float = 0.0, tolerance: float = TOLERANCE) -> float:
    """Penalty of one log error ``e`` under ``loss`` (see :data:`LOSSES`), plus
    ``tolerance_weight`` x (|exp(e) - 1| - ``tolerance``) where the cell misses by more than
    ``tolerance`` (default :data:`TOLERANCE`, 24%; a hinge on the printed error: within it adds
    nothing; beyond it a weight of a few makes bringing a cell back within the tolerance
    outweigh the Huber gain of the cells already inside)."""
    miss = abs(math.expm1(e)) - tolerance
    return _base_penalty(e, loss, delta) + tolerance_weight * max(0.0, miss)


def _base_penalty(e: float, loss: str, delta: float) -> float:
    a = abs(e)
    if loss == "squared":
        return e * e
    if loss == "absolute":
        return a
    if loss == "huber":
        return 0.5 * e * e if a <= delta else delta * (a - 0.5 * delta)
    raise ValueError(f"unknown loss {loss!r} (choices: {', '.join(LOSSES)})")


def overrides_for(values: dict[str, float]) -> dict[str, dict]:
    """{system: override dict} for a set of parameter values."""
    out: dict[str, dict] = {}
    for p in PARAMETERS:
        if p.name not in values:
            continue
        for system in p.systems:
            node = out.setdefault(system, {})
            for k in p.path[:-1]:
                node = node.setdefault(k, {})
            node[p.path[-1]] = values[p.name]
    return out


def _golden(f: Callable[[float], float], lo: float, hi: float, iters: int) -> float:
    """Minimise f over [lo, hi] in log space (golden section)."""
    a, b = math.log(lo), math.log(hi)
    g = (math.sqrt(5) - 1) / 2
    c, d = b - g * (b - a), a + g * (b - a)
    fc, fd = f(math.exp(c)), f(math.exp(d))
    for _ in range(iters):
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - g * (b - a)
            fc = f(math.exp(c))
        else:
            a, c, fc = c, d, fd
            d = a + g * (b - a)
            fd = f(math.exp(d))
    return math.exp((a + b) / 2)


def _cell(args: tuple) -> tuple[float, float]:
    """(tokens/s, prefill share) of one full-run cell (a worker process)."""
    from hermes_hw.systems.base import simulate

    model, system, override, params = args
    r = simulate(model, system, 1, overrides=_expand(override), placement_params=params)
    return r.tokens_per_s, r.prefill_ns / r.total_ns


def _plan(args: tuple):
    """The feedback-corrected placement parameters of one Hermes-family cell (a worker)."""
    from hermes_hw.systems.base import RunOptions, SimContext, make_system
    from hermes_hw.systems.config import load_system_config
    from hermes_hw.workload.models import load_model

    model, system, override = args
    cfg = load_system_config(system, None, _expand(override))
    ctx = SimContext(load_model(model), cfg, 1, RunOptions())
    return make_system(cfg.system).plan_params(ctx)


class Evaluator:
    """Full-run tokens/s and prefill share of cells under an override set (memoised); the
    Hermes-family placement is fixed to :meth:`replan`'s plan."""

    def __init__(self, jobs: int | None = None) -> None:
        self.jobs = max(1, jobs or os.cpu_count() or 1)
        self.placement: dict[tuple[str, str], object] = {}
        self.memo: dict = {}

    def replan(self, values: dict[str, float]) -> None:
        """Solve the Hermes-family placement (with feedback) under ``values``."""
        from hermes_hw.systems.base import make_system
        from hermes_hw.systems.config import load_system_config

        ovr = overrides_for(values)
        self.placement.clear()
        self.memo.clear()
        cells = [(m, s, ovr.get(s)) for (m, s) in PAPER_CELLS
                 if hasattr(make_system(load_system_config(s).system), "plan_params")]
        if self.jobs > 1:
            with ProcessPoolExecutor(max_workers=self.jobs) as pool:
                plans = list(pool.map(_plan, cells))
        else:
            plans = [_plan(c) for c in cells]
        for (m, s, _o), plan in zip(cells, plans, strict=True):
            self.placement[(m, s)] = plan

    def cells(self, cells: list[tuple[str, str]], ovr: dict) -> dict:
        import json

        todo = [(m, s) for m, s in cells
                if (m, s, json.dumps(ovr.get(s), sort_keys=True)) not in self.memo]
        args = [(m, s, ovr.get(s), self.placement.get((m, s))) for m, s in todo]
        if self.jobs > 1 and len(args) > 1:
            with ProcessPoolExecutor(max_workers=self.jobs) as pool:
                res = list(pool.map(_cell, args))
        else:
            res = [_cell(a) for a in args]
        for (m, s), r in zip(todo, res, strict=True):
            self.memo[(m, s, json.dumps(ovr.get(s), sort_keys=True))] = r
        return {(m, s): self.memo[(m, s, json.dumps(ovr.get(s), sort_keys=True))]
                for m, s in cells}


def _expand(override: dict | None) -> dict | None:
    """Turn the ``cpu_profile`` pseudo-section into a CPU profile file the config can name."""
    if not override or "cpu_profile" not in override:
        return override
    import tempfile
    from pathlib import Path

    import yaml

    from hermes_hw.systems.config import load_cpu_profile

    override = dict(override)
    fields = override.pop("cpu_profile")
    cpu = load_cpu_profile("i9-13900k").model_copy(update=fields)
    path = Path(tempfile.gettempdir()) / (
        "hermes-cpu-" + "-".join(f"{k}{v:.6g}" for k, v in sorted(fields.items())) + ".yaml")
    path.write_text(yaml.safe_dump(cpu.model_dump()))
    override["cpu"] = str(path)
    return override


def fit(*, outer: int = 2, iters: int = 10, log: Callable[[str], None] = print,
        evaluator: Evaluator | None = None, start: dict[str, float] | None = None,
        bracket: float | None = None, loss: str = "huber", huber_delta: float = HUBER_DELTA,
        only: tuple[str, ...] | None = None, tolerance_weight: float = TOLERANCE_WEIGHT,
        tolerance: float = TOLERANCE) -> tuple[dict[str, float], dict]:
    """Fit every parameter; returns (values, {"model/system": (tokens/s, prefill share)}).

    ``outer`` iterations of (re-solve the placement, one coordinate-descent sweep);
    ``bracket`` (e.g. 1.5) searches each parameter within [v / bracket, v * bracket] of its
    start (clipped to its bounds) instead of the whole range; ``loss`` picks the per-cell
    penalty (:data:`LOSSES`); ``only`` fits just the named parameters (the others keep their
    start values); ``tolerance_weight`` and ``tolerance`` add the hinge of
    :func:`cell_penalty`."""
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r} (choices: {', '.join(LOSSES)})")
    names = {p.name for p in PARAMETERS}
    unknown = sorted(set(only or ()) - names)
    if unknown:
        raise ValueError(f"unknown parameter(s) {', '.join(unknown)} (choices: "
                         f"{', '.join(sorted(names))})")
    ev = evaluator or Evaluator()
    values = {p.name: p.start for p in PARAMETERS}
    values.update(start or {})

    def cells_of(systems):
        return [(m, s) for (m, s) in PAPER_CELLS if s in systems]

    def objective(systems, vals) -> float:
        ovr = overrides_for(vals)
        cells = cells_of(systems)
        res = ev.cells(cells, ovr)
        total = sum(cell_penalty(math.log(res[c][0] / PAPER_CELLS[c]), loss, huber_delta,
                                 tolerance_weight, tolerance) for c in cells)
        hermes = [res[c][1] for c in cells if c[1] == "hermes"]
        if hermes:
            from hermes_hw.systems.paper import PAPER_PREFILL_SHARE_HERMES

            share = sum(hermes) / len(hermes)
            total += PREFILL_SHARE_WEIGHT * cell_penalty(
                math.log(share / PAPER_PREFILL_SHARE_HERMES), loss, huber_delta)
        return total

    fitted = [p for p in PARAMETERS if only is None or p.name in only]
    needs_plan = any(set(p.systems) & set(HERMES_FAMILY) for p in fitted)
    for it in range(outer):
        if needs_plan or it == 0:
            ev.replan(values)
        for p in fitted:
            def f(x, p=p):
                return objective(p.systems, {**values, p.name: x})
            lo, hi = p.lo, p.hi
            if bracket:
                lo, hi = max(p.lo, values[p.name] / bracket), min(p.hi, values[p.name] * bracket)
            values[p.name] = _golden(f, lo, hi, iters)
            log(f"iteration {it + 1}: {p.name} = {values[p.name]:.4g} {p.unit} "
                f"(loss over {', '.join(p.systems)}: {f(values[p.name]):.4f})")
    if needs_plan:
        ev.replan(values)
    ovr = overrides_for(values)
    res = ev.cells(list(PAPER_CELLS), ovr)
    return values, {f"{m}/{s}": res[(m, s)] for (m, s) in PAPER_CELLS}
