"""``simulate``: one point = one `hermes simulate` run (model, system, batch, system-config
overrides), through the Python API :func:`hermes_hw.systems.simulate`.

Point config::

    model: llama2-70b          # model id (configs/models) or file
    system: hermes             # system id (configs/systems)
    batch: 1                   # requests per batch
    input_tokens: 128          # prompt tokens (paper: 128)
    output_tokens: 128         # generated tokens (paper: 128)
    overrides: {n_dimms: 4}    # nested system-config overrides (any SystemConfig field)
    dimm_timing: fast          # fast: the system config's DIMM model (default 'bandwidth',
                               # analytical); cycle: dimm_model 'cycle' (cycle-level replay of
                               # the run's lowered trace, docs/simulate.md)
    timeline_tokens: []        # decode tokens to export to the point's timeline.json

Values: tokens_per_s, total_s, prefill_s, decode_s, decode_s_per_token, prefill_share and
``breakdown.<category>`` (seconds on the critical path, summing to total_s).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, get_args

from hermes_hw.errors import InputError
from hermes_hw.sweep.runners.base import PointRunner, Scalar, check_flat_fields, register_runner

FIELDS = {
    "model": str, "system": str, "batch": int, "input_tokens": int, "output_tokens": int,
    "overrides": dict, "dimm_timing": str, "timeline_tokens": list,
}
DEFAULTS: dict[str, Any] = {"system": "hermes", "batch": 1, "input_tokens": 128,
                            "output_tokens": 128, "overrides": {}, "dimm_timing": "fast",
                            "timeline_tokens": []}


def _systems():
    try:
        import hermes_hw.systems as systems
    except ImportError as err:  # the simulate issue's package is absent in this installation
        raise InputError(f"the 'simulate' runner needs hermes_hw.systems ({err})") from None
    return systems


def cycle_level_supported() -> bool:
    """Whether `hermes simulate` can time the DIMMs with the cycle-level DRAM engine (the system
    config's ``dimm_model`` admits 'cycle')."""
    try:
        from hermes_hw.systems.config import SystemConfig
    except ImportError:
        return False
    field = SystemConfig.model_fields.get("dimm_model")
    return field is not None and "cycle" in get_args(field.annotation)


@register_runner("simulate")
class SimulateRunner(PointRunner):
    def base_config(self, base_dir: Path) -> dict[str, Any]:
        return {"model": "llama2-70b", **DEFAULTS}

    def validate(self, config: dict[str, Any], base_dir: Path) -> None:
        check_flat_fields(config, FIELDS, required=("model",))
        cfg = {**DEFAULTS, **config}
        for key in ("batch", "input_tokens", "output_tokens"):
            if cfg[key] < 1:
                raise InputError(f"{key}: must be at least 1, got {cfg[key]}")
        if cfg["dimm_timing"] not in ("fast", "cycle"):
            raise InputError(f"dimm_timing: expected 'fast' or 'cycle', got "
                             f"'{cfg['dimm_timing']}'")
        if cfg["dimm_timing"] == "cycle" and not cycle_level_supported():
            raise InputError("dimm_timing: 'cycle' is not available: hermes simulate does not "
                             "time the DIMMs with the cycle-level engine in this installation")
        model_ov = (cfg["overrides"] or {}).get("dimm_model")
        if cfg["dimm_timing"] == "cycle" and model_ov not in (None, "cycle"):
            raise InputError(f"dimm_timing: 'cycle' contradicts overrides.dimm_model "
                             f"'{model_ov}' (leave one of them out)")
        systems = _systems()
        from hermes_hw.workload.models import load_model

        try:
            load_model(cfg["model"])
        except InputError as err:
            raise InputError(f"model: {err}") from None
        try:
            sc = systems.load_system_config(cfg["system"], None, self._overrides(cfg))
        except InputError as err:
            msg = str(err)
            where = "system" if "unknown system" in msg else "overrides"
            raise InputError(f"{where}: {msg}") from None
        if cfg["batch"] > sc.max_batch:
            raise InputError(f"batch: {cfg['batch']} is above the system's max_batch "
                             f"{sc.max_batch}")

    def resolved(self, config: dict[str, Any], base_dir: Path) -> Any:
        """The resolved system config and model (so edited built-in configs give new ids)."""
        systems = _systems()
        from hermes_hw.workload.models import load_model

        cfg = {**DEFAULTS, **config}
        sc = systems.load_system_config(cfg["system"], None, self._overrides(cfg))
        model = load_model(cfg["model"])
        return {"system": sc.model_dump(mode="json"),
                "model": model.config.model_dump(mode="json")}

    @staticmethod
    def _overrides(cfg: dict[str, Any]) -> dict[str, Any]:
        """System-config overrides: ``dimm_timing: cycle`` -> ``dimm_model: cycle``; ``fast``
        leaves the system config's DIMM model (default 'bandwidth') as it is."""
        ov = dict(cfg["overrides"])
        if cfg["dimm_timing"] == "cycle":
            ov["dimm_model"] = "cycle"
        return ov

    def run(self, config: dict[str, Any], base_dir: Path, point_dir: Path | None
            ) -> tuple[dict[str, Scalar], dict[str, Any]]:
        systems = _systems()
        cfg = {**DEFAULTS, **config}
        t0 = time.perf_counter()
        result = systems.simulate(
            cfg["model"], cfg["system"], cfg["batch"], overrides=self._overrides(cfg) or None,
            run=systems.RunOptions(input_tokens=cfg["input_tokens"],
                                   output_tokens=cfg["output_tokens"]))
        stats = result.stats()
        values: dict[str, Scalar] = {k: float(stats[k]) for k in (
            "tokens_per_s", "total_s", "prefill_s", "decode_s", "decode_s_per_token",
            "prefill_share")}
        for cat, sec in stats["breakdown"].items():
            values[f"breakdown.{cat}"] = float(sec)
        if point_dir is not None:
            point_dir.mkdir(parents=True, exist_ok=True)
            keep = {k: v for k, v in stats.items() if _jsonable(v)}
            (point_dir / "stats.json").write_text(json.dumps(keep, indent=1, default=str) + "\n")
            if cfg["timeline_tokens"]:
                from hermes_hw.timeline import write_chrome_trace

                write_chrome_trace(point_dir / "timeline.json", result.timeline,
                                   tokens=set(cfg["timeline_tokens"]))
        return values, {"wall_seconds": time.perf_counter() - t0}


def _jsonable(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True
