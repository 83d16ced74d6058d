"""Replay a trace file through a MemorySystem: the engine of `hermes dram replay`.

Handles the config's Frontend block (trace path relative to the config), the controller plugins
(CommandCounter -> command counts CSV, TraceRecorder -> command log), the optional command log
and the protocol check, and builds the JSON-able result.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hermes_hw.dram.command_log import CommandLog
from hermes_hw.dram.config import load_config
from hermes_hw.dram.memory_system import MemorySystem, ReplayResult
from hermes_hw.dram.traces import open_trace
from hermes_hw.errors import InputError

#: Text read per parser call during a replay (bytes). Smaller than the reader's default: each
#: chunk's arrays stay in cache between the parser and the engine, and are reused by the
#: allocator instead of being faulted in anew (1M-line traces replay ~8% faster than with 4 MiB).
REPLAY_BLOCK_BYTES = 256 << 10


@dataclass
class ReplayOutput:
    result: ReplayResult
    memory: MemorySystem
    command_log: CommandLog | None
    check: Any | None


def command_log_from_records(records: list[np.ndarray]) -> CommandLog:
    rec = np.concatenate(records) if records else np.empty(0, dtype=records_dtype())
    return CommandLog(
        rec["cycle"].astype(np.int64),
        rec["cmd"].astype(np.int64),
        *(
            rec[f].astype(np.int64)
            for f in ("channel", "rank", "bankgroup", "bank", "row", "column")
        ),
    )


def records_dtype() -> np.dtype:
    from ramulator_bridge.builtin import COMMAND_RECORD_DTYPE

    return COMMAND_RECORD_DTYPE


def trace_path_for(config_path: Path, cfg: Any, trace: str | None) -> Path:
    if trace:
        return Path(trace)
    if cfg.Frontend is None or not cfg.Frontend.path:
        raise InputError(
            "no trace given: pass --trace or set Frontend.path in the config",
            source=str(config_path),
        )
    p = Path(cfg.Frontend.path)
    # Ramulator2 resolves the path from its working directory; we also look beside the config
    # and one folder up (configs/ next to traces/), and accept a .gz next to a missing file.
    bases = [Path.cwd(), config_path.parent, config_path.parent.parent]
    for base in [Path("/")] if p.is_absolute() else bases:
        for cand in (base / p, base / (str(p) + ".gz")):
            if cand.is_file():
                return cand
    raise InputError(
        f"Frontend.path: trace '{p}' not found (looked in the current directory, "
        f"{config_path.parent} and {config_path.parent.parent})",
        source=str(config_path),
    )


def _gem5_chunks(path: Path, ms: MemorySystem, gem5_version: str | None, addr_base: int):
    """Timed chunks (addr, is_write, arrival_cycles) of a gem5 packet trace."""
    from hermes_hw.gem5 import read_gem5_trace

    kw = {"gem5_version": gem5_version} if gem5_version else {}
    trace = read_gem5_trace(
        path, transaction_bytes=ms.resolved.tx_bytes, addr_base=addr_base, **kw
    )
    for addr, is_write, arrival in trace.iter_timed(ms.resolved.tck_ps / 1000):
        if len(addr) and int(addr.max()) >= ms.capacity_bytes:
            raise InputError(
                f"address {int(addr.max()):#x} is beyond the capacity "
                f"({ms.capacity_bytes} bytes)",
                source=str(path),
            )
        yield addr, is_write, arrival


def run_replay(
    config: str | Path,
    trace: str | None = None,
    *,
    trace_format: str = "auto",
    backend: str | None = None,
    command_log: bool = False,
    check: bool = False,
    write_plugin_outputs: bool = False,
    gem5_version: str | None = None,
    addr_base: int = 0,
) -> ReplayOutput:
    """Open the config and trace, replay, drain; optionally log and check every command."""
    t0 = time.perf_counter()
    config_path = Path(config)
    cfg = load_config(config_path, backend)
    plugins = [p.ControllerPlugin for p in cfg.MemorySystem.Controller.plugins]
    want_log = (
        command_log
        or check
        or (write_plugin_outputs and any(p.impl == "TraceRecorder" for p in plugins))
    )
    ms = MemorySystem(cfg, backend=backend, command_log=want_log)
    path = trace_path_for(config_path, cfg, trace)
    fmt = trace_format
    if fmt == "auto" and cfg.Frontend is not None and not trace:
        fmt = cfg.Frontend.impl
    if fmt == "gem5":
        reader = _gem5_chunks(path, ms, gem5_version, addr_base)
    else:
        reader = open_trace(path, fmt, capacity_bytes=ms.capacity_bytes,
                            block_bytes=REPLAY_BLOCK_BYTES)
    batches: list[np.ndarray] = []
    result = ms.replay(
        reader, on_commands=batches.append if want_log else None, started=t0, source=str(path)
    )
    log = command_log_from_records(batches) if want_log else None
    report = None
    if check:
        from hermes_hw.dram.checker import check_commands

        r = ms.resolved
        report = check_commands(log, r.standard.name, r.timings, r.org, mode=r.access_mode)
    if write_plugin_outputs:
        _write_plugins(plugins, result, log)
    return ReplayOutput(result=result, memory=ms, command_log=log, check=report)


def _write_plugins(plugins: list[Any], result: ReplayResult, log: CommandLog | None) -> None:
    for p in plugins:
        if not p.path:
            continue
        try:
            if p.impl == "CommandCounter":
                names = p.commands_to_count or list(result.stats["commands"])
                counts = result.stats["commands"]
                Path(p.path).parent.mkdir(parents=True, exist_ok=True)
                Path(p.path).write_text("".join(f"{n}, {counts.get(n, 0)}\n" for n in names))
            elif p.impl == "TraceRecorder" and log is not None:
                Path(p.path).parent.mkdir(parents=True, exist_ok=True)
                log.write_text(f"{p.path}.ch0")
        except OSError as err:
            raise InputError(
                f"cannot write plugin output ({err.strerror})", source=p.path
            ) from None


def result_json(out: ReplayOutput) -> dict[str, Any]:
    """The object printed by `hermes dram replay --json`."""
    res = out.result
    s = res.stats
    tck = res.tck_ns
    hist = (
        out.memory.backend.latency_histogram()
        if hasattr(out.memory.backend, "latency_histogram")
        else None
    )
    obj: dict[str, Any] = {
        "cycles": s["cycles"],
        "drain_cycles": s["drain_cycles"],
        "tck_ns": tck,
        "reads": s["reads"],
        "writes": s["writes"],
        "row_hits": s["row_hits"],
        "row_misses": s["row_misses"],
        "row_conflicts": s["row_conflicts"],
        "avg_read_latency_cycles": s["avg_read_latency_cycles"],
        "avg_read_latency_ns": s["avg_read_latency_cycles"] * tck,
        "max_read_latency_cycles": s["max_read_latency_cycles"],
        "commands": s["commands"],
        "bytes": (s["reads"] + s["writes"]) * out.memory.resolved.tx_bytes,
        "bandwidth_gbps": (s["reads"] + s["writes"])
        * out.memory.resolved.tx_bytes
        / (s["drain_cycles"] * tck)
        if s["drain_cycles"]
        else 0.0,
        "wall_seconds": res.wall_seconds,
        "requests_per_second": res.requests / res.wall_seconds if res.wall_seconds else 0.0,
        "at_last_accept": {
            k: res.at_last_accept[k]
            for k in (
                "cycles",
                "row_hits",
                "row_misses",
                "row_conflicts",
                "read_latency_sum_cycles",
                "commands",
            )
        },
    }
    if hist is not None and hist.sum():
        cdf = np.cumsum(hist) / hist.sum()
        obj["read_latency_p50_cycles"] = int(np.searchsorted(cdf, 0.5))
        obj["read_latency_p99_cycles"] = int(np.searchsorted(cdf, 0.99))
    tx = out.memory.resolved.tx_bytes
    drain = s["drain_cycles"] * tck
    obj["per_channel"] = [
        {
            "channel": c["channel"],
            "rank": c["rank"],
            "reads": c["reads"],
            "writes": c["writes"],
            "row_hits": c["row_hits"],
            "row_misses": c["row_misses"],
            "row_conflicts": c["row_conflicts"],
            "avg_read_latency_cycles": c["avg_read_latency_cycles"],
            "bandwidth_gbps": (c["reads"] + c["writes"]) * tx / drain if drain else 0.0,
            "commands": c["commands"],
        }
        for c in s.get("per_controller", [])
    ]
    if out.check is not None:
        obj["protocol_check"] = {
            "commands": out.check.commands,
            "violations": len(out.check.violations),
            "by_constraint": out.check.by_constraint(),
        }
    return obj
