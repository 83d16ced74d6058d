"""``MemorySystem``: the user-facing DRAM simulator API over a pluggable backend.

    ms = MemorySystem.from_yaml("configs/dram/ddr4_3200_1ch.yaml")
    result = ms.replay("traces/sample_rand_1k.trace")
    print(result.stats["cycles"], result.stats["avg_read_latency_cycles"])
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hermes_hw.dram.backend import DramBackend
from hermes_hw.dram.config import DramConfig, load_config, parse_config
from hermes_hw.dram.resolve import ResolvedDram, resolve
from hermes_hw.errors import InputError, unknown_name


def _builtin(resolved: ResolvedDram, cfg: DramConfig, **kw: Any) -> DramBackend:
    from ramulator_bridge.builtin import BuiltinBackend

    return BuiltinBackend(resolved, cfg, **kw)


def _ramulator2(resolved: ResolvedDram, cfg: DramConfig, **kw: Any) -> DramBackend:
    from ramulator_bridge.ramulator2 import create_backend  # optional backend (issue 7)

    return create_backend(resolved, cfg, **kw)


#: Backends by name: a new backend = one module + one entry here.
BACKENDS: dict[str, Callable[..., DramBackend]] = {"builtin": _builtin, "ramulator2": _ramulator2}


@dataclass
class ReplayResult:
    """Statistics of one trace replay. ``stats`` are totals after draining every request;
    ``at_last_accept`` is the snapshot when the last request was accepted (Ramulator2's view)."""

    stats: dict[str, Any]
    at_last_accept: dict[str, Any]
    requests: int
    wall_seconds: float
    tck_ns: float
    extra: dict[str, Any] = field(default_factory=dict)


class MemorySystem:
    """One simulated memory system (all channels) behind a backend."""

    def __init__(self, cfg: DramConfig, *, backend: str | None = None, command_log: bool = False,
                 record_completions: bool = False, resolved: ResolvedDram | None = None) -> None:
        """``resolved``: ``resolve(cfg)`` if the caller has it already (read only)."""
        self.config = cfg
        self.resolved = resolved if resolved is not None else resolve(cfg)
        name = backend or cfg.MemorySystem.backend
        if name not in BACKENDS:
            raise unknown_name("DRAM backend", name, BACKENDS, source=cfg.source)
        self.backend: DramBackend = BACKENDS[name](
            self.resolved, cfg, command_log=command_log, record_completions=record_completions
        )

    @classmethod
    def from_yaml(cls, source: str | Path | dict, **kw: Any) -> MemorySystem:
        """Build from a YAML file path or an already-parsed mapping."""
        backend = kw.get("backend")
        cfg = (parse_config(source, "<dict>", backend) if isinstance(source, dict)
               else load_config(source, backend))
        return cls(cfg, **kw)

    # -- thin pass-throughs ------------------------------------------------------------------
    @property
    def cycle(self) -> int:
        return self.backend.cycle

    @property
    def tck_ns(self) -> float:
        return self.resolved.tck_ns

    @property
    def capacity_bytes(self) -> int:
        return self.resolved.capacity_bytes

    def send(self, addr: int, is_write: bool = False, tag: int = -1) -> bool:
        if not 0 <= addr < self.capacity_bytes:
            raise InputError(f"address {addr:#x} is beyond the capacity "
                             f"({self.capacity_bytes} bytes)")
        return self.backend.send(addr, is_write, tag)

    def tick(self, cycles: int = 1) -> None:
        self.backend.tick(cycles)

    def run_trace(self, addrs: np.ndarray, is_write: np.ndarray | None = None,
                  arrival_cycles: np.ndarray | None = None) -> int:
        """Replay arrays of byte addresses (in C); returns how many were accepted."""
        addrs = np.asarray(addrs, dtype=np.uint64)
        w = np.zeros(len(addrs), bool) if is_write is None else np.asarray(is_write, bool)
        n = self.backend.run_trace(addrs, w, arrival_cycles)
        if n < 0:
            raise InputError(f"request {-n - 1}: address {int(addrs[-n - 1]):#x} is beyond the "
                             f"capacity ({self.capacity_bytes} bytes)")
        return n

    def drain(self) -> int:
        return self.backend.drain()

    def stats(self) -> dict[str, Any]:
        return self.backend.stats()

    def pop_completions(self) -> tuple[np.ndarray, np.ndarray]:
        return self.backend.pop_completions()

    def _run_vectors(self, vecs: np.ndarray | None, is_write: np.ndarray,
                     arrival: np.ndarray | None, done: int, source: str | None) -> int:
        """Replay a chunk of address vectors (ReadWriteTrace ``R ch,ra,bg,ba,ro,co`` lines)."""
        levels = ("channel", "rank", "bankgroup", "bank", "row", "column")
        if vecs is None or vecs.ndim != 2 or vecs.shape[1] != len(levels):
            got = "none" if vecs is None else vecs.shape[-1]
            raise InputError(f"address vectors need {len(levels)} fields ({', '.join(levels)}), "
                             f"got {got}", source=source)
        run = getattr(self.backend, "run_trace_vectors", None)
        if run is None:
            raise InputError(f"the {self.backend.name} backend cannot replay address vectors",
                             source=source)
        n = run(vecs, is_write, arrival)
        if n < 0:
            r = self.resolved
            limits = (r.org["channel"], r.org["rank"], r.org["bankgroup"], r.org["bank"],
                      r.org["row"], r.transactions_per_row)
            bad = ", ".join(f"{lv}={int(v)}" for lv, v in zip(levels, vecs[-n - 1], strict=True))
            lim = ", ".join(f"{lv}<{m}" for lv, m in zip(levels, limits, strict=True))
            raise InputError(f"request {done - n}: address vector ({bad}) is outside the "
                             f"organisation ({lim})", source=source)
        return n

    # -- whole-trace replay ------------------------------------------------------------------
    def replay(self, chunks: Iterable[Any], *, on_commands: Callable[[np.ndarray], None] | None
               = None, started: float | None = None, source: str | None = None) -> ReplayResult:
        """Replay a stream of TraceChunk, (addr, is_write) pairs or (addr, is_write,
        arrival_cycles) triples (timed: a request is not offered before its arrival cycle) with
        Ramulator2's LoadStoreTrace feeding, then drain. ``on_commands`` receives command-log
        batches."""
        t0 = time.perf_counter() if started is None else started
        total = 0
        take = getattr(self.backend, "take_commands", None)
        for chunk in chunks:
            addr, is_write = chunk[0], chunk[1]
            timed = not hasattr(chunk, "_fields") and len(chunk) == 3
            arrival = np.asarray(chunk[2], dtype=np.int64) if timed else None
            if addr is None:
                n = self._run_vectors(getattr(chunk, "addr_vec", None), is_write, arrival, total,
                                      source)
            else:
                n = self.backend.run_trace(addr, is_write, arrival)
            if n < 0:
                raise InputError(f"request {total - n}: address {int(addr[-n - 1]):#x} is beyond "
                                 f"the capacity ({self.capacity_bytes} bytes)", source=source)
            total += n
            if on_commands and take:
                on_commands(take())
        if total == 0:
            raise InputError("the trace contains no requests")
        self.backend.mark_snapshot()
        at_accept = self.backend.snapshot_stats()
        drain_cycles = self.backend.drain()
        if on_commands and take:
            on_commands(take())
        stats = self.backend.stats()
        stats["drain_cycles"] = drain_cycles
        stats["cycles"] = at_accept["cycles"]
        wall = time.perf_counter() - t0
        return ReplayResult(stats=stats, at_last_accept=at_accept, requests=total,
                            wall_seconds=wall, tck_ns=self.tck_ns)
