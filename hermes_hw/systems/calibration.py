"""Fit the free timing parameters to the paper's calibration subset (batch 1, tokens/s).

Only the parameters listed in :data:`PARAMETERS` are fitted, each to the cells of the systems it
affects (PAPER_CELLS); everything else keeps its cited default. The objective is the sum over
cells of squared log errors, log(simulated / paper)^2, minimised by coordinate descent with a
golden-section search in log(parameter) within the stated bounds (deterministic).

Speed: during the search a cell runs ``quick_output_tokens`` tokens and its 128-token time is
extrapolated (prefill + decode per step x 127; decode steps differ only in KV length), and the
Hermes-family placement is solved once at the starting values (``placement_params``). The
final numbers in docs/calibration.md come from `hermes validate paper`, which runs every cell
in full with the fitted configs (placement re-solved).
"""

from __future__ import annotations

import math
from collections.abc import Callable
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
              0.1, 1.0, 0.8, "fraction of 64 GB/s",
              "achieved share of the paper's stated PCIe 4.0 64 GB/s when prefill streams the "
              "non-resident weights"),
    Parameter("hermes.sync_latency_ns", HERMES_FAMILY, ("sync", "latency_ns"),
              500.0, 200_000.0, 6400.0, "ns", "host synchronisation of GPU and DIMMs/CPU"),
    Parameter("hermes.ndp_cycles_per_op", ("hermes", "hermes-base"), ("ndp", "cycles_per_op"),
              4.0, 256.0, 16.0, "NDP cycles", "cycles per bit-serial multiply of one 128-bit "
              "operand"),
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


class Evaluator:
    """tokens/s of a cell under an override set (quick, extrapolated; memoised)."""

    def __init__(self, quick_output_tokens: int = 9, input_tokens: int = 128,
                 output_tokens: int = 128) -> None:
        from hermes_hw.systems.base import RunOptions

        self.run = RunOptions(input_tokens, quick_output_tokens)
        self.output_tokens = output_tokens
        self.placement: dict[tuple[str, str], object] = {}
        self.memo: dict = {}

    def _placement_params(self, model: str, system: str):
        key = (model, system)
        if key not in self.placement:
            from hermes_hw.systems.base import SimContext, make_system
            from hermes_hw.systems.config import load_system_config
            from hermes_hw.workload.models import load_model

            cfg = load_system_config(system)
            impl = make_system(cfg.system)
            params = None
            if hasattr(impl, "system_params"):
                params = impl.system_params(SimContext(load_model(model), cfg, 1, self.run))
            self.placement[key] = params
        return self.placement[key]

    def tokens_per_s(self, model: str, system: str, override: dict | None) -> float:
        import json

        from hermes_hw.systems.base import simulate

        key = (model, system, json.dumps(override, sort_keys=True))
        if key not in self.memo:
            r = simulate(model, system, 1, overrides=_expand(override), run=self.run,
                         placement_params=self._placement_params(model, system))
            steps = self.run.decode_steps
            total = r.prefill_ns + r.decode_ns / steps * (self.output_tokens - 1)
            self.memo[key] = self.output_tokens / (total * 1e-9)
        return self.memo[key]


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


def fit(*, sweeps: int = 2, iters: int = 14, log: Callable[[str], None] = print,
        evaluator: Evaluator | None = None) -> tuple[dict[str, float], dict]:
    """Fit every parameter; returns (values, {cell: quick tokens/s})."""
    ev = evaluator or Evaluator()
    values = {p.name: p.start for p in PARAMETERS}

    def cells_of(systems):
        return [(m, s) for (m, s) in PAPER_CELLS if s in systems]

    def loss(systems, vals) -> float:
        ovr = overrides_for(vals)
        total = 0.0
        for m, s in cells_of(systems):
            sim = ev.tokens_per_s(m, s, ovr.get(s))
            total += math.log(sim / PAPER_CELLS[(m, s)]) ** 2
        return total

    for sweep in range(sweeps):
        for p in PARAMETERS:
            def f(x, p=p):
                return loss(p.systems, {**values, p.name: x})
            values[p.name] = _golden(f, p.lo, p.hi, iters)
            log(f"sweep {sweep + 1}: {p.name} = {values[p.name]:.4g} {p.unit} "
                f"(loss over {', '.join(p.systems)}: {f(values[p.name]):.4f})")
    ovr = overrides_for(values)
    quick = {f"{m}/{s}": ev.tokens_per_s(m, s, ovr.get(s)) for (m, s) in PAPER_CELLS}
    return values, quick
