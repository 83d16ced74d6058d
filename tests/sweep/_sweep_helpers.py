"""A tiny deterministic point runner for sweep tests (registered as 'test-arith').

Config: {"x": int, "y": int, "sleep_s": float}. Result: product and sum, computed here by hand.
Each run appends "x,y" to the file named by $HERMES_TEST_CALL_LOG (if set), so a test can see
exactly which points ran.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from hermes_hw.errors import InputError
from hermes_hw.sweep import PointRunner, register_runner

REPO = Path(__file__).resolve().parents[2]
SAMPLE_TRACE = REPO / "traces" / "sample_mix_2k.trace"
NDP_CONFIG = REPO / "configs" / "dram" / "hermes_ndp_dimm.yaml"


@register_runner("test-arith")
class ArithRunner(PointRunner):
    def base_config(self, base_dir):
        return {"x": 1, "y": 1, "sleep_s": 0.0}

    def validate(self, config, base_dir):
        for key in config:
            if key not in ("x", "y", "sleep_s"):
                raise InputError(f"{key}: unknown key")
        for key in ("x", "y"):
            if not isinstance(config.get(key), int) or isinstance(config.get(key), bool):
                raise InputError(f"{key}: expected an integer, got {config.get(key)!r}")

    def run(self, config, base_dir, point_dir):
        time.sleep(float(config.get("sleep_s", 0.0)))
        log = os.environ.get("HERMES_TEST_CALL_LOG")
        if log:
            with open(log, "a") as f:
                f.write(f"{config['x']},{config['y']}\n")
        if config["x"] < 0:
            raise RuntimeError("negative x")
        return {"product": config["x"] * config["y"], "sum": config["x"] + config["y"]}, {}


def write_grid(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def dram_grid(tmp_path: Path, axes: str) -> Path:
    """A dram-replay grid on the Table II DIMM config and the sample trace."""
    return write_grid(tmp_path / "grid.yaml", (
        f"runner: dram-replay\nbase: {NDP_CONFIG}\n"
        f"set:\n  Frontend.path: {SAMPLE_TRACE}\n{axes}"
    ))
