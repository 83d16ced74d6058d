"""``workload``: one point = one workload run (activations -> predictor -> placement ->
adjustment/remapping, no timing), as `hermes workload`. Writes the point's
``workload_result.json`` (format ``hermes-workload-result/1``, see hermes_hw.plot.workload_result)
for the load-balance and predictor figures.

Point config: model, prompt_tokens (128), decode_tokens (128), batch (1), seed (0), predictor
(hermes), placement (ilp), adjust (true), remap (true), window (5 tokens), n_dimms (8).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from hermes_hw.errors import InputError, closest_match_hint
from hermes_hw.sweep.runners.base import PointRunner, Scalar, check_flat_fields, register_runner

FIELDS: dict[str, type] = {
    "model": str, "prompt_tokens": int, "decode_tokens": int, "batch": int, "seed": int,
    "predictor": str, "placement": str, "adjust": bool, "remap": bool, "window": int,
    "n_dimms": int,
}
DEFAULTS: dict[str, Any] = {
    "prompt_tokens": 128, "decode_tokens": 128, "batch": 1, "seed": 0, "predictor": "hermes",
    "placement": "ilp", "adjust": True, "remap": True, "window": 5, "n_dimms": 8,
}
#: Report totals that are inputs-only (wall-clock ones are left out).
VALUES = ("recall", "precision", "accuracy", "true_sparsity", "predicted_sparsity", "gpu_share",
          "imbalance_no_remap", "imbalance_remap", "imbalance_in_window", "pcie_bytes_per_token",
          "dimm_link_bytes_per_token", "hot_churn")


def _options(cfg: dict[str, Any]):
    from hermes_hw.workload.pipeline import WorkloadOptions
    from hermes_hw.workload.placement import SystemParams

    return WorkloadOptions(
        prompt_tokens=cfg["prompt_tokens"], decode_tokens=cfg["decode_tokens"],
        batch=cfg["batch"], seed=cfg["seed"], predictor=cfg["predictor"],
        placement=cfg["placement"], adjust=cfg["adjust"], remap=cfg["remap"],
        window=cfg["window"], build_worklists=False, system=SystemParams(n_dimms=cfg["n_dimms"]))


@register_runner("workload")
class WorkloadRunner(PointRunner):
    def base_config(self, base_dir: Path) -> dict[str, Any]:
        return {"model": "tiny-llama", **DEFAULTS}

    def resolved(self, config: dict[str, Any], base_dir: Path) -> Any:
        from hermes_hw.workload.models import load_model

        return {"model": load_model(config["model"]).config.model_dump(mode="json")}

    def validate(self, config: dict[str, Any], base_dir: Path) -> None:
        check_flat_fields(config, FIELDS, required=("model",))
        cfg = {**DEFAULTS, **config}
        import hermes_hw.workload.placement  # noqa: F401 - registers the policies
        import hermes_hw.workload.predictors  # noqa: F401 - registers the predictors
        from hermes_hw.workload.models import load_model
        from hermes_hw.workload.placement.base import PLACEMENTS
        from hermes_hw.workload.predictors.base import PREDICTORS

        try:
            load_model(cfg["model"])
        except InputError as err:
            raise InputError(f"model: {err}") from None
        for key, registry in (("predictor", PREDICTORS), ("placement", PLACEMENTS)):
            if cfg[key] not in registry:
                raise InputError(f"{key}: unknown {key} '{cfg[key]}'"
                                 f"{closest_match_hint(cfg[key], registry)}")
        try:
            _options(cfg)
        except InputError as err:
            raise InputError(f"options: {err}") from None

    def run(self, config: dict[str, Any], base_dir: Path, point_dir: Path | None
            ) -> tuple[dict[str, Scalar], dict[str, Any]]:
        from hermes_hw.plot.workload_result import write_workload_result
        from hermes_hw.workload.models import load_model
        from hermes_hw.workload.pipeline import Workload

        cfg = {**DEFAULTS, **config}
        t0 = time.perf_counter()
        report = Workload(load_model(cfg["model"]), _options(cfg)).run_all()
        totals = report.totals()
        values: dict[str, Scalar] = {k: float(totals[k]) for k in VALUES if k in totals}
        if point_dir is not None:
            point_dir.mkdir(parents=True, exist_ok=True)
            write_workload_result(report, point_dir / "workload_result.json", cfg["window"])
        return values, {"wall_seconds": time.perf_counter() - t0}
