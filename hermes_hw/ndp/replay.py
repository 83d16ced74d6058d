"""Cycle-level replay of one DIMM's NDP trace through the DRAM engine (NDP access mode).

The request stream is expanded from segments in numpy chunks, fed to the engine's C replay loop
with per-request arrival cycles (the NDP unit's buffer limit and compute pacing, see
:mod:`hermes_hw.ndp.unit`), and the data-return cycles come back as completions; a vectorised
scan then gives the NDP pipeline's consume times. Arrival cycles use the accumulated data wait
``g`` known from the chunks scanned so far (a one-chunk feedback delay, docs/ndp.md).
"""

from __future__ import annotations

import json
import time
from collections import deque
from dataclasses import dataclass

import numpy as np

from hermes_hw.dram.memory_system import MemorySystem
from hermes_hw.lowering.ops import OP_KIND_ID, READ_OPS
from hermes_hw.lowering.trace import TraceDir, expand_segments, split_segments
from hermes_hw.ndp.config import parse_system
from hermes_hw.ndp.unit import NdpTiming

CHUNK_REQUESTS = 1 << 20
_READ_KIND_IDS = np.array(sorted(OP_KIND_ID[k] for k in READ_OPS))


@dataclass
class _Chunk:
    base: int            # global request index of the first request
    op: np.ndarray       # op index per request
    is_write: np.ndarray
    S: np.ndarray        # ideal compute time per request (DRAM cycles)
    t: np.ndarray        # compute per request
    a: np.ndarray        # arrival cycles (int64)
    d: np.ndarray        # data-return cycles (float, -inf for writes; nan until known)
    missing: int         # reads not yet completed


def trace_system(td: TraceDir, override: dict | None = None):
    """The trace's NDP system config, with ``override`` (e.g. ``{"unit": {...}}``) merged in."""
    data = json.loads(json.dumps(td.manifest["system"]))
    for key, val in (override or {}).items():
        if isinstance(val, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **val}
        else:
            data[key] = val
    return parse_system(data, source=f"{td.path}/manifest.json:system")


def replay_dimm(path: str, j: int, *, layers: list[int] | None = None,
                chunk_requests: int = CHUNK_REQUESTS, override: dict | None = None) -> dict:
    """Replay DIMM ``j`` of the trace directory ``path`` (optionally only ``layers``).

    Returns plain data: per-op ``start_ns``/``end_ns`` (on the NDP's critical path),
    ``first_issue_ns``, ``busy_ns`` (compute), ``stall_dram_ns`` (compute idle waiting for
    data), ``stall_compute_ns`` (DRAM idle while the op was compute/buffer-bound), and totals.
    """
    t_wall = time.perf_counter()
    td = TraceDir(path)
    system = trace_system(td, override)
    ops = td.ops(j)
    ms = MemorySystem.from_yaml(system.dram_mapping(), record_completions=True)
    timing = NdpTiming(system.unit, ms.tck_ns)
    sel = np.ones(len(ops), bool) if layers is None else np.isin(ops["layer"], layers)
    comp = np.where(sel, timing.compute_cycles(ops), 0.0)
    lines = np.where(sel, ops["lines"], 0).astype(np.int64)
    is_read_op = np.isin(ops["kind"], _READ_KIND_IDS)
    tline = np.where(is_read_op & (lines > 0), comp / np.maximum(lines, 1), 0.0)
    # ops without requests (compute-only, empty reads) advance S by their compute time
    s_after = np.cumsum(comp)
    s_before = s_after - comp
    op_req_start = np.cumsum(lines) - lines
    N = timing.buffer_lines

    n_ops = len(ops)
    g_end = np.full(n_ops, np.nan)         # g at each op's last request
    a_first = np.full(n_ops, np.nan)
    mem_active = np.zeros(n_ops)
    s_hist = np.zeros(N)                   # S of the last N requests (buffer look-back)
    g_known, last_arrival = 0.0, 0
    pending: deque[_Chunk] = deque()
    backend = ms.backend
    base = 0
    prev_d = -np.inf

    def scan_ready(final: bool) -> None:
        nonlocal g_known, prev_d
        while pending and (pending[0].missing == 0 or final):
            c = pending.popleft()
            if final and c.missing:
                raise RuntimeError("DRAM engine lost read completions")
            g = np.maximum.accumulate(np.maximum(c.d + c.t - c.S, g_known))
            # per-op reductions (requests of an op are contiguous)
            cut = np.flatnonzero(np.diff(c.op)) + 1
            starts = np.concatenate([[0], cut])
            ends = np.concatenate([cut, [len(c.op)]]) - 1
            o = c.op[starts]
            g_end[o] = g[ends]
            first = np.isnan(a_first[o])
            a_first[o[first]] = c.a[starts[first]]
            rd = ~c.is_write
            dd = np.where(rd, c.d, -np.inf)
            prev = np.maximum.accumulate(np.concatenate([[prev_d], dd[:-1]]))
            act = np.where(rd, np.maximum(c.d - np.maximum(prev, c.a), 0.0), 0.0)
            mem_active[o] += np.add.reduceat(act, starts)
            prev_d = float(np.maximum(prev_d, dd.max())) if len(dd) else prev_d
            g_known = float(g[-1])

    def collect() -> None:
        tags, cyc = backend.pop_completions()
        if not len(tags):
            return
        for c in pending:
            m = (tags >= c.base) & (tags < c.base + len(c.op))
            if m.any():
                c.d[tags[m] - c.base] = cyc[m]
                c.missing -= int(m.sum())

    for segs in td.iter_segments(j):
        if layers is not None:
            segs = segs[sel[segs["op"]]]
        for part in split_segments(segs, chunk_requests):
            addr, is_write, op = expand_segments(part)
            n = len(addr)
            r = np.arange(base, base + n) - op_req_start[op]
            t = np.where(is_write, 0.0, tline[op])
            S = s_before[op] + (r + 1) * t
            hist = np.concatenate([s_hist, S])  # hist[k] = S of request base - N + k
            ready = np.where(is_write, S, hist[:n]) + g_known
            a = np.maximum.accumulate(np.maximum(np.ceil(ready).astype(np.int64), last_arrival))
            last_arrival = int(a[-1])
            s_hist = hist[-N:]
            d = np.where(is_write, -np.inf, np.nan)
            pending.append(_Chunk(base, op, is_write, S, t, a, d, int((~is_write).sum())))
            accepted = backend.run_trace(addr, is_write, a, base_tag=base)
            if accepted != n:
                raise RuntimeError(f"DRAM engine accepted {accepted} of {n} requests")
            base += n
            collect()
            scan_ready(False)
    ms.drain()
    collect()
    scan_ready(True)

    # op frontier: F_o = S_after[o] + g at the op's end (forward-filled over request-less ops)
    g_ff = g_end.copy()
    g_ff[~sel] = np.nan
    idx = np.where(np.isnan(g_ff), 0, np.arange(n_ops))
    np.maximum.accumulate(idx, out=idx)
    g_fill = np.where(np.isnan(g_ff[idx]), 0.0, g_ff[idx])
    F = s_after + g_fill
    F_prev = np.concatenate([[0.0], F[:-1]])
    tck = ms.tck_ns
    dur = F - F_prev
    st = ms.stats()
    total_cycles = float(F[-1]) if n_ops else 0.0
    res = {
        "dimm": j,
        "op_index": np.flatnonzero(sel),
        "start_ns": (F_prev * tck)[sel],
        "end_ns": (F * tck)[sel],
        "first_issue_ns": (np.where(np.isnan(a_first), F_prev, a_first) * tck)[sel],
        "busy_ns": (comp * tck)[sel],
        "stall_dram_ns": (np.maximum(dur - comp, 0.0) * tck)[sel],
        "stall_compute_ns": (np.maximum(dur - mem_active, 0.0) * tck * is_read_op)[sel],
        "totals": {
            "busy_time_ns": total_cycles * tck,
            "requests": int(base),
            "read_requests": int(st["reads"]),
            "write_requests": int(st["writes"]),
            "dram_cycles": int(st["cycles"]),
            "row_hits": int(st["row_hits"]),
            "row_misses": int(st["row_misses"]),
            "row_conflicts": int(st["row_conflicts"]),
            "avg_read_latency_cycles": float(st["avg_read_latency_cycles"]),
            "read_bandwidth_gbps": (st["reads"] * 64 / (total_cycles * tck)
                                    if total_cycles else 0.0),
            "compute_ns": float(comp.sum() * tck),
            "wall_seconds": time.perf_counter() - t_wall,
        },
    }
    return res
