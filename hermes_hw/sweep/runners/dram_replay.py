"""``dram-replay``: one point = one DRAM config (Ramulator2 YAML format, ``Frontend.path`` = the
trace) replayed through the cycle-level engine, as ``hermes dram replay --json``."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from hermes_hw.errors import InputError
from hermes_hw.sweep.runners.base import PointRunner, Scalar, flatten, register_runner

#: Values of `hermes dram replay --json` that depend on the machine, not the inputs.
_NONDETERMINISTIC = ("wall_seconds", "requests_per_second")


def _trace_path(config: dict[str, Any], base_dir: Path) -> Path:
    path = (config.get("Frontend") or {}).get("path")
    if not path:
        raise InputError("Frontend.path: a trace file is required (set it in the base config, "
                         "in 'set' or as an axis)")
    p = Path(path)
    p = p if p.is_absolute() else base_dir / p
    if not p.is_file() and Path(str(p) + ".gz").is_file():
        p = Path(str(p) + ".gz")
    if not p.is_file():
        raise InputError(f"Frontend.path: trace file '{path}' not found (relative paths are "
                         f"resolved from {base_dir})")
    return p


@register_runner("dram-replay")
class DramReplayRunner(PointRunner):
    path_keys = ("Frontend.path",)

    def base_config(self, base_dir: Path) -> dict[str, Any]:
        return {"MemorySystem": {}}

    def validate(self, config: dict[str, Any], base_dir: Path) -> None:
        from hermes_hw.dram.config import parse_config
        from hermes_hw.dram.resolve import resolve

        cfg = parse_config(config, source="")  # schema: unknown keys, types
        try:
            resolve(cfg)  # presets, timing names, organisation consistency
        except InputError as err:
            raise InputError(str(err).removeprefix("<config>: ")) from None
        _trace_path(config, base_dir)

    def run(self, config: dict[str, Any], base_dir: Path, point_dir: Path | None
            ) -> tuple[dict[str, Scalar], dict[str, Any]]:
        from hermes_hw.dram.config import parse_config
        from hermes_hw.dram.memory_system import MemorySystem
        from hermes_hw.dram.replay import ReplayOutput, result_json
        from hermes_hw.dram.traces import open_trace

        t0 = time.perf_counter()
        cfg = parse_config(config, source="<sweep point>")
        ms = MemorySystem(cfg)
        frontend = cfg.Frontend
        fmt = frontend.impl if frontend is not None else "auto"
        reader = open_trace(_trace_path(config, base_dir), fmt, capacity_bytes=ms.capacity_bytes)
        result = ms.replay(reader, started=t0)
        obj = result_json(ReplayOutput(result=result, memory=ms, command_log=None, check=None))
        meta = {k: obj.pop(k) for k in _NONDETERMINISTIC}
        obj.pop("at_last_accept", None)
        return flatten(obj), meta
