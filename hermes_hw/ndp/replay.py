"""Cycle-level replay of one DIMM's NDP trace through the DRAM engine (NDP access mode).

The request stream is expanded from segments in numpy chunks, fed to the engine's C replay loop
with per-request arrival cycles (the NDP unit's buffer limit and compute pacing, see
:mod:`hermes_hw.ndp.unit`), and the data-return cycles come back as completions; a vectorised
scan then gives the NDP pipeline's consume times (docs/ndp.md). With ``unit.write_fence`` an op
with a cross-DIMM barrier (``reduce``) also waits until every write accepted before it is in DRAM
(its WR command issued + tCWL + tBL), observed from the engine's issued-WR count.
"""

from __future__ import annotations

import functools
import json
import time

import numpy as np

from hermes_hw.dram.config import DramConfig, parse_config
from hermes_hw.dram.memory_system import MemorySystem
from hermes_hw.dram.resolve import ResolvedDram, resolve
from hermes_hw.errors import InputError
from hermes_hw.lowering.ops import OP_KIND_ID, READ_OPS
from hermes_hw.lowering.trace import TraceDir, expand_segments, split_segments
from hermes_hw.ndp.config import parse_system
from hermes_hw.ndp.unit import NdpTiming

CHUNK_REQUESTS = 1 << 16
_READ_KIND_IDS = np.array(sorted(OP_KIND_ID[k] for k in READ_OPS))


class _ReplayState:
    """The NDP core's issue/consume loop around the DRAM engine, exact to the buffer limit.

    Request ``i`` (global order) arrives at the engine at ``ceil(f_{i-N})`` for a read (line
    ``i - N`` consumed, so the buffer has room) and at ``ceil(S_i + g_{i-1})`` for a write
    (posted once everything before it was consumed), never before the request ahead of it;
    ``f_i = S_i + g_i`` with ``g_i = max(g_{i-1}, d_i + t_i - S_i)`` (``d_i`` data return).
    Requests are therefore fed to the engine only once those consume times are known: up to
    ``N`` requests past the scanned prefix, and a write only after every read before it
    returned. When nothing can be fed, the engine is ticked cycle by cycle until a read returns
    (safe: every unfed request arrives after the data it waits for). Write fences
    (:meth:`set_fences`) sit between two requests: nothing past one is fed or scanned until
    everything before it is, then the engine is ticked until every accepted write has its WR
    issued; the fenced op's data wait ``g`` becomes ``max(g, W - S)`` (``W`` the last write's
    data in DRAM) and carries to the requests after it, which arrive no earlier than the
    fenced op starts. Results do not depend on how the stream is cut into expansion blocks
    (``block`` requests each).

    Per-request state lives in flat arrays indexed ``global - base``; fully consumed requests
    are folded into the per-op results and dropped when the arrays are compacted.
    """

    def __init__(self, n_ops: int, buffer_lines: int, block: int,
                 requests: int | None = None) -> None:
        self.N = N = buffer_lines
        self.block = block
        self.cap = 4 * (N + block)  # arrays grow in _compact if a stream needs more
        if requests is not None:  # a short stream: no larger than it needs
            self.cap = min(self.cap, N + int(requests) + 1)
        self.cap = max(self.cap, 1 << 14)
        self.addr = np.zeros(self.cap, np.uint64)
        self.w = np.zeros(self.cap, np.uint8)
        self.t = np.zeros(self.cap)
        self.S = np.zeros(self.cap)
        self.g = np.zeros(self.cap)
        self.d = np.full(self.cap, -np.inf)
        self.a = np.zeros(self.cap, np.int64)
        # N virtual requests before the first one (S = g = 0: the buffer starts empty)
        self.base = -N          # global index of array position 0
        self.hi = N             # expanded up to here (array positions)
        self.fed = N
        self.scanned = N        # g known for positions < scanned
        self.folded = N         # positions < folded are already in the per-op results
        self.expanded = 0       # real requests expanded so far
        self.wpos = np.zeros(0, np.int64)  # array positions of writes in [scanned, hi)
        self.last_arrival = 0
        self.prev_d = -np.inf
        self.g_end = np.full(n_ops, np.nan)
        self.a_first = np.full(n_ops, np.nan)
        self.mem_active = np.zeros(n_ops)
        self.total = 0
        # write fences (none unless set_fences): global request index p of each fence (it
        # sits between requests p - 1 and p), its op and stall-free start S
        self.f_pos = np.zeros(0, np.int64)
        self.f_op = np.zeros(0, np.int64)
        self.f_S = np.zeros(0)
        self.fi = 0               # next unresolved fence
        self.write_done_lat = 0   # WR issue to the write data in DRAM (tCWL + tBL), cycles
        self.w_done = -np.inf     # when the last write seen issued is in DRAM
        self.carry_pos = -1       # global index of the request after the last resolved fence
        self.carry_g = -np.inf    # the data wait g at that fence
        self.fence_g = np.full(n_ops, np.nan)

    def set_fences(self, pos: np.ndarray, ops: np.ndarray, S: np.ndarray,
                   write_done_lat: int) -> None:
        """Write fences before requests ``pos`` (global index, non-decreasing) at ops ``ops``
        whose stall-free start is ``S``: the op starts, and no later request arrives, before
        every write accepted so far is in DRAM (its WR issued + ``write_done_lat``)."""
        self.f_pos, self.f_op, self.f_S = pos, ops, S
        self.write_done_lat = int(write_done_lat)

    # -- buffer management ---------------------------------------------------------------
    def op_bounds(self, ops: np.ndarray, start: np.ndarray, end: np.ndarray) -> None:
        """The ops with requests and their request ranges [start, end) in the stream."""
        self.b_ops, self.b_start, self.b_end = ops, start, end

    def _fold(self, upto: int) -> None:
        """Per-op reductions over the consumed positions [folded, upto)."""
        lo = self.folded
        if upto <= lo:
            return
        g0, g1 = self.base + lo, self.base + upto
        k0 = int(np.searchsorted(self.b_end, g0, side="right"))
        k1 = int(np.searchsorted(self.b_start, g1, side="left"))
        o = self.b_ops[k0:k1]
        starts = np.maximum(self.b_start[k0:k1], g0) - g0
        ends = np.minimum(self.b_end[k0:k1], g1) - g0 - 1
        self.g_end[o] = self.g[lo:upto][ends]
        a = self.a[lo:upto]
        first = np.isnan(self.a_first[o])
        self.a_first[o[first]] = a[starts[first]]
        d = self.d[lo:upto]
        # DRAM time spent delivering each op's data: d_i - max(previous return, arrival)
        prev = np.empty_like(d)
        prev[0] = self.prev_d
        np.maximum.accumulate(d[:-1], out=prev[1:])
        np.maximum(prev[1:], self.prev_d, out=prev[1:])
        self.prev_d = float(max(prev[-1], d[-1]))
        np.maximum(prev, a, out=prev)
        np.subtract(d, prev, out=prev)
        np.maximum(prev, 0.0, out=prev)  # writes (d = -inf) give 0
        self.mem_active[o] += np.add.reduceat(prev, starts)
        self.folded = upto

    def _compact(self, need: int) -> None:
        keep = max(0, min(self.scanned, self.fed - self.N - 1))  # >= 0 before N are fed
        self._fold(keep)
        live = self.hi - keep
        if live + need > self.cap:
            self.cap = 2 * (live + need)
        for name in ("addr", "w", "t", "S", "g", "d", "a"):
            old = getattr(self, name)
            new = old if len(old) == self.cap else np.empty(self.cap, old.dtype)
            new[:live] = old[keep:self.hi]
            setattr(self, name, new)
        self.base += keep
        self.hi -= keep
        self.fed -= keep
        self.scanned -= keep
        self.folded -= keep
        self.wpos = self.wpos - keep

    def _append(self, item: tuple) -> None:
        addr, is_write, t, S = item
        n = len(addr)
        if self.hi + n > self.cap:
            self._compact(n)
        sl = slice(self.hi, self.hi + n)
        self.addr[sl] = addr
        self.w[sl] = is_write
        self.t[sl] = t
        self.S[sl] = S
        self.d[sl] = np.nan
        wp = np.flatnonzero(is_write)
        if len(wp):
            self.d[self.hi + wp] = -np.inf
            self.wpos = np.concatenate([self.wpos, wp + self.hi])
        self.hi += n
        self.expanded += n

    # -- the loop --------------------------------------------------------------------------
    def _feed(self, backend, hi: int) -> None:
        lo, N = self.fed, self.N
        rd = self.w[lo:hi] == 0
        with np.errstate(invalid="ignore"):  # the branch not taken may read unscanned slots
            ready = np.where(rd, self.S[lo - N:hi - N] + self.g[lo - N:hi - N],
                             self.S[lo:hi] + self.g[lo - 1:hi - 1])
        c = self.carry_pos - self.base
        if lo <= c < hi and not rd[c - lo]:  # a write right after a fence: after its op
            ready[c - lo] = max(ready[c - lo], self.S[c] + self.carry_g)
        a = np.ceil(ready).astype(np.int64)
        a[0] = max(a[0], self.last_arrival)
        np.maximum.accumulate(a, out=a)
        self.a[lo:hi] = a
        self.last_arrival = int(a[-1])
        n = hi - lo
        accepted = backend.run_trace(self.addr[lo:hi], self.w[lo:hi], a,
                                     base_tag=self.base + lo)
        if accepted != n:
            raise RuntimeError(f"DRAM engine accepted {accepted} of {n} requests")
        self.fed = hi

    def _collect(self, backend) -> int:
        tags, cyc = backend.pop_completions()
        if len(tags):
            self.d[tags - self.base] = cyc
        return len(tags)

    def _scan(self) -> bool:
        lo = self.scanned
        hi = min(self.hi, self.fed + 4096)
        if self.fi < len(self.f_pos):  # not past an unresolved fence (writes are "known")
            hi = min(hi, int(self.f_pos[self.fi]) - self.base)
        if hi <= lo:
            return False
        unknown = np.isnan(self.d[lo:hi])
        k = int(unknown.argmax()) if unknown[0] or unknown.any() else hi - lo
        if k == 0:
            return False
        sl = slice(lo, lo + k)
        g = self.d[sl] + self.t[sl] - self.S[sl]
        g[0] = max(g[0], self.g[lo - 1])
        if lo == self.carry_pos - self.base:
            g[0] = max(g[0], self.carry_g)
        np.maximum.accumulate(g, out=g)
        self.g[sl] = g
        self.scanned = lo + k
        return True

    def _fence(self, backend) -> bool:
        """Resolve the fences before the next request once everything before them is fed and
        scanned: tick the engine until no accepted write waits for its WR command (safe:
        every unfed request arrives after the fence), then the fenced op's data wait is
        ``g = max(g_prev, W - S)`` with ``W`` the last write's data in DRAM."""
        p = self.scanned + self.base
        if self.fi >= len(self.f_pos) or self.f_pos[self.fi] != p or self.fed != self.scanned:
            return False
        if backend.writes_outstanding() > 0:
            while True:
                backend.tick(1)
                if backend.writes_outstanding() == 0:
                    break
            self.w_done = max(self.w_done, backend.cycle + self.write_done_lat)
        g = self.g[self.scanned - 1] if self.carry_pos != p else max(
            self.g[self.scanned - 1], self.carry_g)
        while self.fi < len(self.f_pos) and self.f_pos[self.fi] == p:
            S = float(self.f_S[self.fi])
            g = max(g, self.w_done - S)
            self.fence_g[self.f_op[self.fi]] = g
            # later requests arrive once the fenced op may start
            self.last_arrival = max(self.last_arrival, int(np.ceil(S + g)))
            self.fi += 1
        self.carry_pos, self.carry_g = p, g
        return True

    def _wait(self, backend, lim: int) -> None:
        """Tick the engine one cycle at a time until the data the next request waits for has
        returned: every read before a write (lim = the write), else one more read."""
        if self.fed <= self.scanned:
            raise RuntimeError("NDP replay stalled with nothing in flight")
        at_write = lim == self.fed and lim < self.scanned + self.N
        pending = int(np.isnan(self.d[self.scanned:self.fed]).sum()) if at_write else 1
        until = getattr(backend, "tick_until_completions", None)
        if until is not None:  # the same cycle-by-cycle loop, in C
            until(pending, 1 << 62)
            self._collect(backend)
            return
        while pending > 0:
            backend.tick(1)
            tags, cyc = backend.pop_completions()
            if len(tags):
                self.d[tags - self.base] = cyc
                pending -= len(tags) if at_write else pending

    def run(self, backend, items) -> None:
        items = iter(items)
        exhausted = False
        N = self.N
        while True:
            while not exhausted and self.hi < self.scanned + N + 1:
                item = next(items, None)
                if item is None:
                    exhausted = True
                else:
                    self._append(item)
            if self.wpos.size and self.wpos[0] < self.scanned:
                self.wpos = self.wpos[np.searchsorted(self.wpos, self.scanned):]
            lim = min(self.scanned + N, self.hi)
            k = np.searchsorted(self.wpos, self.scanned, side="right")
            if k < self.wpos.size:
                lim = min(lim, int(self.wpos[k]))
            if self.fi < len(self.f_pos):
                lim = min(lim, int(self.f_pos[self.fi]) - self.base)
            progressed = False
            if lim > self.fed:
                self._feed(backend, lim)
                progressed = True
            self._collect(backend)
            progressed |= self._scan()
            progressed |= self._fence(backend)
            if exhausted and self.scanned == self.hi == self.fed and \
                    self.fi >= len(self.f_pos):
                break
            if not progressed:
                self._wait(backend, lim)
        self._fold(self.hi)
        self.total = self.expanded


def expand_requests(part: np.ndarray, i0: int, tline: np.ndarray, c0_read: np.ndarray,
                    s_before: np.ndarray) -> tuple:
    """Requests of a slice of segments starting at stream index ``i0``: byte addresses,
    is_write (uint8), compute per request ``t`` and stall-free consume time ``S`` (DRAM
    cycles). Segments not interleaved take a fast path (one ``repeat`` per array); the values
    are the same either way."""
    lines = part["lines"].astype(np.int64)
    n = int(lines.sum())
    op = part["op"].astype(np.int64)
    gidx = np.arange(i0, i0 + n, dtype=np.float64)
    if (part["width"] <= 1).all():
        w = part["write"].astype(bool)
        tseg = np.where(w, 0.0, tline[op])
        c0 = np.where(w, s_before[op], c0_read[op])
        t = np.repeat(tseg, lines)
        S = np.repeat(c0, lines)
        S += gidx * t
        first = np.cumsum(lines) - lines
        stride = part["stride"].astype(np.uint64)
        start = part["addr"] - first.astype(np.uint64) * stride  # wraps; the sum below does not
        addr = np.repeat(start, lines)
        if len(stride) and (stride == stride[0]).all():
            addr += np.arange(n, dtype=np.uint64) * stride[0]
        else:
            addr += np.arange(n, dtype=np.uint64) * np.repeat(stride, lines)
        return addr, np.repeat(part["write"], lines), t, S
    addr, is_write, op_r = expand_segments(part)
    op_r = op_r.astype(np.int64)
    t = np.where(is_write, 0.0, tline[op_r])
    S = np.where(is_write, s_before[op_r], c0_read[op_r])
    S += gidx * t
    return addr, is_write.view(np.uint8), t, S


def fence_ops(ops: np.ndarray, sel: np.ndarray, write_fence: bool) -> np.ndarray:
    """Indices of the ops that fence the writes before them (``unit.write_fence``): the ops
    with a cross-DIMM barrier (``reduce``), whose partial results written before them must be
    in DRAM for the other DIMMs to read them over DIMM-Link."""
    if not write_fence:
        return np.zeros(0, np.int64)
    return np.flatnonzero(sel & (ops["barrier"] >= 0))


@functools.lru_cache(maxsize=8)
def _dram_config(mapping_json: str) -> tuple[DramConfig, ResolvedDram]:
    """The parsed and resolved DRAM config of one DIMM, once per process and config (every DIMM
    of a trace shares it; both are only read)."""
    cfg = parse_config(json.loads(mapping_json), "<dict>")
    return cfg, resolve(cfg)


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
    cfg, resolved = _dram_config(json.dumps(system.dram_mapping(), sort_keys=True))
    ms = MemorySystem(cfg, resolved=resolved, record_completions=True)
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
    rs = _ReplayState(n_ops, N, max(int(chunk_requests), 1), requests=int(lines.sum()))
    backend = ms.backend

    # S_i = c0[op] + i * t[op] for the i-th request of the stream (reads; t = 0 for writes)
    c0_read = s_before + (1.0 - op_req_start) * tline
    nz = np.flatnonzero(lines > 0)
    rs.op_bounds(nz, op_req_start[nz], op_req_start[nz] + lines[nz])
    fenced = fence_ops(ops, sel, system.unit.write_fence)
    if len(fenced):
        if not hasattr(ms.backend, "writes_outstanding"):
            raise InputError("unit.write_fence needs the built-in DRAM engine (it observes "
                             "when writes are issued)", source=f"{path}/manifest.json:system")
        t = ms.resolved.timings
        rs.set_fences(op_req_start[fenced], fenced, s_before[fenced],
                      int(t["nCWL"]) + int(t["nBL"]))

    def parts():
        for segs in td.iter_segments(j):
            if layers is not None:
                segs = segs[sel[segs["op"]]]
            yield from split_segments(segs, rs.block)

    def expand(part: np.ndarray) -> tuple:
        return expand_requests(part, rs.expanded, tline, c0_read, s_before)

    rs.run(backend, map(expand, parts()))
    g_end, a_first, mem_active, base = rs.g_end, rs.a_first, rs.mem_active, rs.total
    ms.drain()

    # op frontier: F_o = S_after[o] + g at the op's end (forward-filled over request-less ops)
    g_ff = g_end.copy()
    g_ff[fenced] = rs.fence_g[fenced]
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
