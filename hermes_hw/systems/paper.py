"""The paper's calibration subset (reference hermes_paper.md §8: batch 1, tokens/s) and
`hermes validate paper`: every cell simulated and compared, errors printed per cell."""

from __future__ import annotations

import statistics
from dataclasses import dataclass

# (model, system id) -> tokens/s at batch 1, input 128 / output 128 [F] Hermes paper figures.
PAPER_CELLS: dict[tuple[str, str], float] = {
    ("opt-13b", "accelerate"): 0.16, ("opt-13b", "flexgen"): 0.46,
    ("opt-13b", "dejavu"): 1.37, ("opt-13b", "hermes-host"): 20.39,
    ("opt-13b", "hermes"): 135.64,
    ("opt-30b", "accelerate"): 0.11, ("opt-30b", "flexgen"): 0.20,
    ("opt-30b", "dejavu"): 0.34, ("opt-30b", "hermes-host"): 9.07,
    ("opt-30b", "hermes"): 46.16,
    ("opt-66b", "accelerate"): 0.04, ("opt-66b", "flexgen"): 0.09,
    ("opt-66b", "dejavu"): 0.16, ("opt-66b", "hermes-host"): 4.24,
    ("opt-66b", "hermes"): 20.37,
    ("llama2-13b", "accelerate"): 0.91, ("llama2-13b", "hermes-host"): 11.86,
    ("llama2-13b", "hermes-base"): 30.90, ("llama2-13b", "hermes"): 91.95,
    ("llama2-70b", "accelerate"): 0.04, ("llama2-70b", "hermes-host"): 1.97,
    ("llama2-70b", "hermes-base"): 2.45, ("llama2-70b", "hermes"): 13.75,
    ("falcon-40b", "accelerate"): 0.07, ("falcon-40b", "hermes-host"): 5.58,
    ("falcon-40b", "hermes-base"): 4.34, ("falcon-40b", "hermes"): 30.02,
}
PAPER_PREFILL_SHARE_HERMES = 0.33  # [P] §8: prefill is about 33% of Hermes' time at batch 1


@dataclass
class CellResult:
    model: str
    system: str
    paper_tokens_per_s: float
    sim_tokens_per_s: float
    prefill_share: float
    wall_s: float

    @property
    def error(self) -> float:
        """Signed relative error (simulated - paper) / paper."""
        return self.sim_tokens_per_s / self.paper_tokens_per_s - 1.0


def run_cells(cells=None, *, overrides: dict[str, dict] | None = None,
              config_paths: dict[str, str] | None = None, **kwargs) -> list[CellResult]:
    """Simulate each (model, system) cell at batch 1 (``config_paths[system]``, else
    ``config_paths["*"]``, a partial system YAML, and then ``overrides[system]`` layered on the
    system's config)."""
    from hermes_hw.systems.base import simulate

    paths = config_paths or {}
    out = []
    for (model, system), paper in (cells or PAPER_CELLS).items():
        r = simulate(model, system, 1, config_path=paths.get(system, paths.get("*")),
                     overrides=(overrides or {}).get(system), **kwargs)
        out.append(CellResult(model, system, paper, r.tokens_per_s,
                              r.prefill_ns / r.total_ns, r.wall_s))
    return out


def summary(results: list[CellResult]) -> dict:
    errs = [abs(r.error) for r in results]
    return {"cells": len(errs), "median_abs_error": statistics.median(errs),
            "max_abs_error": max(errs), "within_10pct": sum(e < 0.10 for e in errs),
            "within_25pct": sum(e <= 0.25 for e in errs)}


def format_results(results: list[CellResult], *, markdown: bool = False) -> str:
    head = ("model", "system", "paper tok/s", "simulated tok/s", "error", "prefill share")
    rows = [(r.model, r.system, f"{r.paper_tokens_per_s:g}", f"{r.sim_tokens_per_s:.3f}",
             f"{r.error * 100:+.1f}%", f"{r.prefill_share * 100:.0f}%") for r in results]
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|---|---|---:|---:|---:|---:|"]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
    else:
        widths = [max(len(str(x)) for x in col) for col in zip(head, *rows, strict=True)]
        lines = ["  ".join(str(x).ljust(w) for x, w in zip(head, widths, strict=True))]
        lines += ["  ".join(str(x).ljust(w) for x, w in zip(row, widths, strict=True))
                  for row in rows]
    s = summary(results)
    lines.append("")
    lines.append(f"{s['cells']} cells: median |error| {s['median_abs_error'] * 100:.1f}%, max "
                 f"{s['max_abs_error'] * 100:.1f}%; {s['within_10pct']} within 10%, "
                 f"{s['within_25pct']} within 25% (targets: median < 10%, none > 25%)")
    return "\n".join(lines)
