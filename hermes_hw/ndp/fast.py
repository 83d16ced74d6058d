"""Fast mode: an analytical per-op model whose coefficients are fitted to cycle-level runs.

Two models share the fit (docs/ndp.md, "Fast mode"):

* the op-level pipeline (:func:`pipeline_durations`, fast model v7) that ``hermes replay
  --fast`` runs: consume and DRAM frontiers carried from op to op, buffer-bounded prefetch, no
  prefetch across posted writes, no data delivery in the all-bank refresh windows (every tREFI,
  on the model's own time line; v4); per read op a latency floor (closed-bank read latency, plus
  a precharge where a head bank had another row open, write turnaround after posted writes,
  write recovery where a head bank was written at another row, tRC per further row one head bank
  opens) and a DRAM time ``b L + g s + h A`` (``A``: banks the op's head activates, from the
  segments' addresses and the address mapper, :mod:`hermes_hw.ndp.rowstate`), no earlier
  than the head's last activating line is offered (one line per cycle, v7); with the unit's
  write fence (v7) a fenced op waits for the writes posted since the previous read op to be in
  DRAM (latency, activations, precharges, one term per write line). Parameters start
  at their DRAM-timing values and are fitted (Levenberg-Marquardt, then a coordinate polish) to
  per-layer and per-op times of a cycle-level replay of ``CALIBRATION_LAYERS`` layers of the
  same trace configuration on DIMMs 0 and n/2;
* v1's additive per-op model ``max(c + lat, a + b L + g s + w W)`` per op class, fitted by
  least squares on DIMM 0's ops (``classes``), which the timeline's adapter
  (:mod:`hermes_hw.systems.dimm_fast`) uses.

Both are cached on disk by the hash of (system config, model, batch, fast-model version).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hermes_hw.dram.config import parse_config
from hermes_hw.dram.resolve import resolve
from hermes_hw.layout.base import SEGMENT_DTYPE
from hermes_hw.lowering.ops import OP_KIND_ID, READ_OPS, WRITE_OPS
from hermes_hw.lowering.trace import TraceDir
from hermes_hw.ndp.replay import fence_ops
from hermes_hw.ndp.rowstate import BankMap, row_features
from hermes_hw.ndp.unit import NdpTiming

FAST_MODEL_VERSION = 7
CALIBRATION_LAYERS = 12
#: layers of one DIMM the fit did not see on which its error is checked after fitting
HOLDOUT_LAYERS = 4
#: an op's head (the lines whose banks it must open before its data streams) = its first
#: n_banks lines, or HEAD_BANK_PASSES x n_banks for a short op (at most 2 x that many lines,
#: latency-bound: a row it crosses in that window opens the bank twice in turn). v6; v5 used
#: two passes for every op, v3 and v4 one
HEAD_BANK_PASSES = 2
#: weight of the per-op errors (relative to the layer time) next to the per-layer errors
OP_WEIGHT = 1.0
K = OP_KIND_ID
CLASSES = {"gemv": (K["gemv"],), "attn": (K["attn_score"], K["attn_value"]),
           "transfer": (K["promote_read"], K["remap_out"])}
_READ_IDS = np.array([K[k] for k in READ_OPS])
_WRITE_IDS = np.array([K[k] for k in WRITE_OPS])


def cache_dir() -> Path:
    base = os.environ.get("HERMES_CACHE_DIR") or Path.home() / ".cache" / "hermes-hw"
    return Path(base) / "ndp-fast"


def _features(ops: np.ndarray) -> np.ndarray:
    """Columns [1, lines, segments, write lines posted since the previous read op]."""
    lines = ops["lines"].astype(np.float64)
    is_w = np.isin(ops["kind"], _WRITE_IDS)
    is_r = np.isin(ops["kind"], _READ_IDS) & (lines > 0)
    wl = np.where(is_w, lines, 0.0)
    cw = np.cumsum(wl)
    w_since = cw - _ffill_prev(np.where(is_r, cw, np.nan))
    return np.stack([np.ones(len(ops)), lines, ops["seg_count"].astype(np.float64),
                     np.where(is_r, w_since, 0.0)], axis=1)


def _ffill_prev(marked: np.ndarray) -> np.ndarray:
    """For each position, the last non-nan value strictly before it (0 if none)."""
    prev = np.concatenate([[np.nan], marked[:-1]])
    idx = np.where(np.isnan(prev), 0, np.arange(len(prev)))
    np.maximum.accumulate(idx, out=idx)
    out = prev[idx]
    return np.where(np.isnan(out), 0.0, out)


def _class_masks(ops: np.ndarray) -> dict[str, np.ndarray]:
    has = ops["lines"] > 0
    return {name: np.isin(ops["kind"], kinds) & has for name, kinds in CLASSES.items()}


def _prefetched(ops: np.ndarray, comp: np.ndarray, mem0: np.ndarray, b: np.ndarray,
                lat: np.ndarray, buffer_lines: int) -> np.ndarray:
    """Lines of each read op fetched into the buffer while earlier ops were compute-bound.

    Slack = compute-only ops' time plus compute-bound read ops' excess over their DRAM time,
    accumulated since the previous read op (inclusive); it prefetches up to the buffer size."""
    is_r = np.isin(ops["kind"], _READ_IDS) & (ops["lines"] > 0)
    is_w = np.isin(ops["kind"], _WRITE_IDS)
    slack = np.where(is_r, np.maximum(comp + lat - mem0, 0.0), np.where(is_w, 0.0, comp))
    cs = np.cumsum(slack)
    # cumulative slack just before the previous read op
    before_prev = _ffill_prev(np.where(is_r, cs - slack, np.nan))
    avail = cs - slack - before_prev
    lines = ops["lines"].astype(np.float64)
    p = np.minimum(np.minimum(lines, buffer_lines), avail / np.maximum(b, 1e-9))
    return np.where(is_r, np.maximum(p, 0.0), 0.0)


def _coef_arrays(ops: np.ndarray, coef: dict) -> tuple[np.ndarray, np.ndarray]:
    W = np.zeros((len(ops), 4))
    lat = np.zeros(len(ops))
    for name, m in _class_masks(ops).items():
        c = coef[name]
        W[m] = [c["a"], c["b"], c["g"], c["w"]]
        lat[m] = c["lat"]
    return W, lat


def fit(ops: np.ndarray, duration_cycles: np.ndarray, compute_cycles: np.ndarray,
        buffer_lines: int) -> dict:
    """Fit the coefficients of every op class from cycle-level per-op durations."""
    X = _features(ops)
    masks = _class_masks(ops)
    allread = np.zeros(len(ops), bool)
    for m in masks.values():
        allread |= m
    bwb = allread & (compute_cycles < 0.9 * duration_cycles)  # bandwidth-bound samples
    coef = {n: {"a": 0.0, "b": 1.0, "g": 0.0, "w": 1.0, "lat": 0.0, "samples": 0}
            for n in masks}
    for _ in range(3):  # prefetch credit depends on the fitted stream rate: iterate
        Wc, lat = _coef_arrays(ops, coef)
        mem0 = (X * Wc).sum(axis=1)
        P = _prefetched(ops, compute_cycles, mem0, Wc[:, 1], lat, buffer_lines)
        Xp = X.copy()
        Xp[:, 1] -= P
        for name, m in masks.items():
            src = m & bwb
            if src.sum() < 6:
                src = bwb
            if src.sum() >= 4:
                sol, *_ = _nnls(Xp[src], duration_cycles[src])
            else:  # nothing bandwidth-bound: one line per DRAM cycle
                sol = np.array([0.0, 1.0, 0.0, 1.0])
            cb = m & ~bwb
            lt = float(np.median(duration_cycles[cb] - compute_cycles[cb])) if cb.sum() else 0.0
            coef[name] = {"a": float(sol[0]), "b": float(sol[1]), "g": float(sol[2]),
                          "w": float(sol[3]), "lat": max(lt, 0.0), "samples": int(src.sum())}
    return coef


def _nnls(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray]:
    """Least squares with non-negative coefficients (active-set on 4 columns, exhaustive)."""
    best, best_r = np.zeros(X.shape[1]), np.inf
    cols = X.shape[1]
    for mask in range(1, 1 << cols):
        use = [c for c in range(cols) if mask >> c & 1]
        sol, *_ = np.linalg.lstsq(X[:, use], y, rcond=None)
        if (sol < 0).any():
            continue
        r = float(((X[:, use] @ sol - y) ** 2).sum())
        if r < best_r - 1e-9 * max(r, 1.0):
            full = np.zeros(cols)
            full[use] = sol
            best, best_r = full, r
    return (best,)


def durations(ops: np.ndarray, compute_cycles: np.ndarray, coef: dict,
              buffer_lines: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-op critical-path duration and DRAM time (DRAM cycles) predicted by the fast model."""
    X = _features(ops)
    Wc, lat = _coef_arrays(ops, coef)
    mem0 = (X * Wc).sum(axis=1)
    P = _prefetched(ops, compute_cycles, mem0, Wc[:, 1], lat, buffer_lines)
    mem = np.maximum(mem0 - Wc[:, 1] * P, 0.0)
    is_r = np.isin(ops["kind"], _READ_IDS) & (ops["lines"] > 0)
    is_w = np.isin(ops["kind"], _WRITE_IDS)
    dur = np.where(is_w, 0.0, compute_cycles)
    dur = np.where(is_r, np.maximum(compute_cycles + lat, mem), dur)
    return dur, np.where(is_r, mem, 0.0)


# -- the pipeline model (FAST_MODEL_VERSION 3 to 5) -----------------------------------------
#: per op class: streaming DRAM cycles per 64 B line, extra cycles per segment, first-data
#: latency from closed banks, DRAM cycles per bank the op's head activates
PIPELINE_PARAMS = ("b", "g", "lat", "h")
#: global latency terms: "row" lat (precharge first: a head bank had another row open), rc
#: (per further row one head bank opens after its first: ACT to ACT of a bank), pos (cycles
#: per line before the head's last activating line is offered: the frontend's one line per
#: cycle, v7),
#: "write" b (DRAM cycles per posted write line), lat (write-to-read turnaround when writes
#: were posted since the previous read op), conf (write recovery + precharge when a head bank
#: was last written at another row), chain (activate, write and write recovery of a write
#: drained late on a head bank: ``row_features(defer_writes=True)`` only, else unused);
#: "refresh" len (no data delivery from each multiple of the refresh period)
GLOBAL_PARAMS = (("row", "lat"), ("row", "rc"), ("row", "pos"), ("write", "b"), ("write", "lat"),
                 ("write", "conf"), ("write", "chain"), ("refresh", "len"))
#: write-fence terms (v7; fitted only where the trace's unit has ``write_fence``): the writes
#: posted since the previous read op are in DRAM ``lat`` (WR issue + tCWL + tBL) + ``act`` if
#: they must activate a bank + ``pre`` if one had another row open + ``b`` per further write
#: line after they were posted; ``wtr``: write-to-read turnaround of the first read op after
#: the fence (it replaces ``write.lat``, which is measured from the posting)
FENCE_PARAMS = (("fence", "lat"), ("fence", "act"), ("fence", "pre"), ("fence", "b"),
                ("fence", "wtr"))
_CLASS_ID = {name: k for k, name in enumerate(CLASSES)}


def _op_table(ops: np.ndarray, comp: np.ndarray, rows: np.ndarray | None = None,
              fence: np.ndarray | None = None) -> list[tuple]:
    """(kind code, class id, lines, segments, compute cycles, head activations, head
    conflicts, write conflict, further rows of the busiest head bank, late-drained write on a
    head bank, line index of the head's last activation) per op as plain Python
    values: kind code 0 = compute only, 1 = read op, 2 = posted writes, 3 / 4 = compute only
    / read op behind a write fence (``fence``: bool per op); ``rows``:
    :func:`hermes_hw.ndp.rowstate.row_features` (zeros if None)."""
    kind = ops["kind"]
    lines = ops["lines"].astype(np.int64)
    code = np.where(np.isin(kind, _WRITE_IDS) & (lines > 0), 2,
                    np.where(np.isin(kind, _READ_IDS) & (lines > 0), 1, 0))
    if fence is not None:
        code = np.where(fence & (code == 0), 3, np.where(fence & (code == 1), 4, code))
    cls = np.zeros(len(ops), np.int64)
    for name, kinds in CLASSES.items():
        cls[np.isin(kind, kinds)] = _CLASS_ID[name]
    rows = np.zeros((len(ops), 6)) if rows is None else rows
    last = rows[:, 5] if rows.shape[1] > 5 else np.zeros(len(ops))
    return list(zip(code.tolist(), cls.tolist(), lines.tolist(),
                    ops["seg_count"].astype(np.int64).tolist(), comp.tolist(),
                    rows[:, 0].tolist(), rows[:, 1].tolist(), rows[:, 2].tolist(),
                    np.maximum(rows[:, 3] - 1, 0).tolist(), rows[:, 4].tolist(), last.tolist(),
                    strict=True))


def pipeline_durations(table: list[tuple], params: dict, buffer_lines: int,
                       mem_out: np.ndarray | None = None) -> np.ndarray:
    """Per-op critical-path durations (DRAM cycles) of the op-level pipeline model.

    The same pipeline as the cycle-level replay, with the DRAM as a server of fitted rate:
    state = consume frontier ``F`` (previous op done), DRAM frontier ``D`` (every line issued
    so far delivered), the time ``Wt`` the last writes were posted (no read issues before it)
    and the consume history (to know when line ``x - N`` was consumed, i.e. when the buffer
    had room for line ``x``). A read op of ``L`` lines in ``s`` segments with compute ``c``
    whose head activates ``A`` banks: its first line issues at ``i0 = max(Wt, consumed(x0 -
    N))``, the DRAM delivers its lines from ``max(D, i0 + latency)`` taking ``b L + g s + h A``,
    where latency = ``lat`` (closed bank) + ``row.lat`` if a head bank had another row open +
    ``write.lat`` if writes were posted since the previous read op + ``write.conf`` if a head
    bank was last written at another row (+ ``write.chain`` if it must first finish a late-
    drained write); its last data no earlier than ``i0 + latency + row.pos x last`` (``last``:
    the head's last activating line). No data is delivered in the refresh windows
    (``served``). With ``L <= N``
    the last line cannot issue before ``consumed(x0 + L - 1 - N)``, with ``L > N`` the last ``L
    - N`` lines stream only after the op starts consuming (``F + latency + mem (L - N)/L``). It
    ends at ``max(F + c, d_first + c, d_last + c/L)``. Lines of a later op prefetched while this
    one is compute-bound come out of ``D``. Writes occupy the DRAM ``write.b`` cycles per line
    from their posting time ``F``. A fenced op (code 3) starts at ``max(F, W)``, ``W`` = the
    writes posted since the previous read op in DRAM: ``Wt + fence.lat + fence.act`` (if they
    activate a bank) ``+ fence.pre`` (if one had another row open) ``+ fence.b (lines - 1)``,
    paused by refresh (code 4: a read op behind a fence, which starts there); later requests
    issue from then on, and the next read op pays
    ``fence.wtr`` instead of ``write.lat``. ``mem_out`` (optional) receives each op's DRAM
    time.
    """
    cp = [[float(params[name].get(k, 0.0)) for k in PIPELINE_PARAMS] for name in CLASSES]
    bw = params["write"]["b"]
    w_lat = float(params["write"].get("lat", 0.0))
    w_conf = float(params["write"].get("conf", 0.0))
    w_chain = float(params["write"].get("chain", 0.0))
    r_lat = float(params.get("row", {}).get("lat", 0.0))
    rc = float(params.get("row", {}).get("rc", 0.0))
    q_pos = float(params.get("row", {}).get("pos", 0.0))
    period = float(params.get("refresh", {}).get("period", 0.0))
    r_len = min(float(params.get("refresh", {}).get("len", 0.0)), 0.9 * period)
    fp = params.get("fence", {})
    f_lat, f_act, f_pre, f_b, f_wtr = (float(fp.get(k, 0.0))
                                       for k in ("lat", "act", "pre", "b", "wtr"))

    def served(t: float, work: float) -> tuple[float, float]:
        """(start, end) of ``work`` DRAM cycles of data delivery that may begin at ``t``,
        paused by the all-bank refresh windows [k period, k period + len), k >= 1."""
        if r_len <= 0.0:
            return t, t + work
        k = int(t // period)
        if k >= 1 and t < k * period + r_len:
            t = k * period + r_len
        end = t + work
        nxt = (k + 1) * period
        while nxt < end:
            end += r_len
            nxt += period
        return t, end
    N = buffer_lines
    F = D = Wt = 0.0
    wrote = False                 # writes posted since the previous read op
    fenced = False                # a write fence since the previous read op
    pw_lines = pw_acts = pw_conf = 0.0   # writes posted since the previous read op, their
    #                                   banks to activate and those with another row open
    pos = 0                       # lines consumed by the ops so far (cumulative)
    h_pos: list[int] = [0]        # consume history: (line position, time) points, increasing
    h_t: list[float] = [0.0]
    out = np.zeros(len(table))

    def consumed(x: int) -> float:
        if x <= 0:
            return 0.0
        k = len(h_pos) - 1
        while k > 0 and h_pos[k - 1] >= x:
            k -= 1
        if k == 0:
            return h_t[0]
        p0, p1 = h_pos[k - 1], h_pos[k]
        t0, t1 = h_t[k - 1], h_t[k]
        return t0 + (t1 - t0) * (x - p0) / (p1 - p0) if p1 > p0 else t1

    for i, (code, cls, L, s, c, acts, conf, wconf, chain, wchain, last) in enumerate(table):
        if code == 0:
            F += c
            out[i] = c
            continue
        F0 = F
        if code >= 3:  # the op starts once the writes posted before it are in DRAM
            if pw_lines:
                work = (f_lat + f_act * (pw_acts > 0) + f_pre * (pw_conf > 0)
                        + f_b * (pw_lines - 1))
                W = served(Wt, work)[1]
                D = max(D, W)
                pw_lines = pw_acts = pw_conf = 0.0
                wrote, fenced = False, True
                F = Wt = max(F, W)  # later requests issue once the fence is cleared
            if code == 3:
                F += c
                out[i] = F - F0
                continue
        if code == 2:
            Wt = F
            D = served(max(D, F), bw * L)[1]
            wrote = True
            pw_lines += L
            pw_acts += acts
            pw_conf += conf
            continue
        b, g, lat, h = cp[cls]
        if conf:
            lat += r_lat
        if wrote:  # writes posted since (kv_append after a fence): their turnaround
            lat += w_lat
        elif fenced:
            lat += f_wtr
        wrote = fenced = False
        pw_lines = pw_acts = pw_conf = 0.0
        lat += w_conf * wconf + w_chain * wchain
        if chain:
            lat += rc * chain
        i0 = max(Wt, consumed(pos - N))
        mem = b * L + g * s + h * acts
        if mem_out is not None:
            mem_out[i] = mem
        start = max(D, i0 + lat)
        d_last = start + mem
        d_first = start + mem / L
        if r_len > 0.0:  # served(start, mem), inlined; one line crosses at most one window
            k = start // period
            if k >= 1.0 and start < k * period + r_len:
                start = k * period + r_len
                d_last = start + mem
                d_first = start + mem / L
            nxt = (k + 1.0) * period
            if d_first > nxt:
                d_first += r_len
            while nxt < d_last:
                d_last += r_len
                nxt += period
        if last:  # the frontend offers one line per cycle: the last line to activate a bank
            d_last = max(d_last, i0 + lat + q_pos * last)
        if L <= N:
            d_last = max(d_last, max(Wt, consumed(pos + L - 1 - N)) + lat + b)
        else:  # lines past the buffer issue only as this op consumes its first ones
            d_last = max(d_last, max(Wt, F) + lat + mem * (L - N) / L)
        t = c / L
        F_new = max(F + c, d_first + c, d_last + t)
        D = d_last if L <= N else max(d_last, F_new - N * t + lat)
        out[i] = F_new - F0
        h_pos.append(pos)
        h_t.append(max(F, d_first))
        pos += L
        h_pos.append(pos)
        h_t.append(F_new)
        if len(h_pos) > 64:
            del h_pos[:32], h_t[:32]
        F = F_new
    return out


def _layer_times(table: list[tuple], layer_of: np.ndarray, dur: np.ndarray) -> np.ndarray:
    """Sum of op durations per run of equal layer ids (the per-layer DIMM time)."""
    cut = np.flatnonzero(np.diff(layer_of)) + 1
    return np.add.reduceat(dur, np.concatenate([[0], cut])) if len(dur) else dur


def dram_start(resolved, refresh: bool = True) -> dict:
    """Physical starting values of the latency / activation terms (DRAM cycles) from the
    resolved DRAM timings: a read from a closed bank tRCD + tCL + tBL, activations at the
    tFAW rate (4 per tFAW per rank, ranks in parallel), a precharge tRP first where another row
    is open, tRC per further row a bank opens, write-to-read turnaround tCWL + tBL + tWTR_L
    after posted writes, write recovery tWR + tRP where a written bank must switch rows; the
    streaming rate of the data paths, tBL per 64 B line per rank in NDP mode (ranks in
    parallel), per channel in host mode. All-bank refresh (``refresh``: the controller's
    refresh manager is AllBank, every rank at once every tREFI) pauses data delivery for
    tRP + tRFC + tRCD from each multiple of tREFI (the period is not fitted)."""
    t = resolved.timings
    ranks = int(resolved.org["rank"]) * int(resolved.org["channel"])
    paths = ranks if resolved.access_mode == "ndp" else int(resolved.org["channel"])
    return {"b": float(t["nBL"]) / paths,
            "lat": float(t["nRCD"] + t["nCL"] + t["nBL"]),
            "h": float(t["nFAW"]) / (4.0 * ranks),
            "row_lat": float(t["nRP"]), "row_rc": float(t["nRC"]), "row_pos": 1.0,
            "write_lat": float(t["nCWL"] + t["nBL"] + t.get("nWTRL", t.get("nWTR", 0))),
            "write_conf": float(t.get("nWR", 0) + t["nRP"]),
            "write_chain": float(t["nRCD"] + t["nCWL"] + t["nBL"] + t.get("nWR", 0) + t["nRP"]),
            "fence_lat": float(t["nCWL"] + t["nBL"] + 1), "fence_act": float(t["nRCD"]),
            "fence_pre": float(t["nRP"]),
            "fence_b": float(max(t["nBL"], t.get("nCCDL", t["nBL"]))) / paths,
            "fence_wtr": float(t.get("nWTRL", t.get("nWTR", 0))),
            "refresh_period": float(t.get("nREFI", 0)) if refresh else 0.0,
            "refresh_len": float(t.get("nRP", 0) + t.get("nRFC", 0) + t["nRCD"]) if refresh
            else 0.0}


def fit_pipeline(samples: list[tuple], buffer_lines: int, rounds: int = 8,
                 start: dict | None = None, physical: dict | None = None) -> dict:
    """Fit the pipeline parameters to cycle-level per-layer times.

    ``samples``: (op table, layer id per op, cycle-level per-op durations) per calibration
    DIMM. Start from ``start`` (per class ``b``/``g``: the additive fit's streaming rate and
    segment cost) and ``physical`` (:func:`dram_start`: latencies and activation rate from the
    DRAM timings), then coordinate search (multiplicative steps) minimising the mean + max
    relative per-layer error plus the per-op error (relative to the layer time). The streaming
    rate starts no faster than the data paths allow (``physical["b"]``)."""
    ph = physical or {}
    params = {name: {"b": max(float((start or {}).get(name, {}).get("b", 1.1)),
                              ph.get("b", 0.05)),
                     "g": float((start or {}).get(name, {}).get("g", 0.0)),
                     "lat": ph.get("lat", 40.0), "h": ph.get("h", 0.0)}
              for name in CLASSES}
    params["write"] = {"b": 1.0, "lat": ph.get("write_lat", 0.0),
                       "conf": ph.get("write_conf", 0.0), "chain": ph.get("write_chain", 0.0)}
    params["row"] = {"lat": ph.get("row_lat", 0.0), "rc": ph.get("row_rc", 0.0),
                     "pos": ph.get("row_pos", 0.0)}
    params["refresh"] = {"period": ph.get("refresh_period", 0.0),
                         "len": ph.get("refresh_len", 0.0)}
    fence = any(row[0] == 3 for table, _, _ in samples for row in table)
    if fence:
        params["fence"] = {k: ph.get(f"fence_{k}", 0.0) for _, k in FENCE_PARAMS}
    b_floor = ph.get("b", 0.0)
    prepared = []
    for table, layer_of, want_ops in samples:
        cut = np.concatenate([[0], np.flatnonzero(np.diff(layer_of)) + 1])
        want = np.add.reduceat(want_ops, cut)
        prepared.append((table, cut, want, want_ops, np.repeat(want, np.diff(
            np.concatenate([cut, [len(want_ops)]])))))

    def loss(p: dict) -> float:
        errs, op_errs = [], []
        for table, cut, want, want_ops, layer_t in prepared:
            dur = pipeline_durations(table, p, buffer_lines)
            got = np.add.reduceat(dur, cut)
            errs.append(np.abs(got / np.maximum(want, 1e-9) - 1.0))
            op_errs.append(np.add.reduceat(np.abs(dur - want_ops) / np.maximum(layer_t, 1e-9),
                                           cut))
        e = np.concatenate(errs)
        return float(e.mean() + 0.5 * e.max() + 0.5 * OP_WEIGHT * np.concatenate(op_errs).mean())

    keys = [(n, k) for n in CLASSES for k in PIPELINE_PARAMS] + list(GLOBAL_PARAMS) + \
        (list(FENCE_PARAMS) if fence else [])
    lo = np.array([b_floor if k == "b" and n in CLASSES else 0.0 for n, k in keys])

    def put(x: np.ndarray) -> dict:
        for (n, k), v in zip(keys, x, strict=True):
            params[n][k] = float(v)
        return params

    def resid(x: np.ndarray) -> np.ndarray:
        p = put(x)
        out = []
        for table, cut, want, want_ops, layer_t in prepared:
            dur = pipeline_durations(table, p, buffer_lines)
            out.append(np.add.reduceat(dur, cut) / np.maximum(want, 1e-9) - 1.0)
            out.append(OP_WEIGHT * (dur - want_ops) / np.maximum(layer_t, 1e-9))
        return np.concatenate(out)

    # two Levenberg-Marquardt starts, the better one kept: all parameters free, and the
    # refresh window held at its physical length first (with a time line that drifts at the
    # start, a window lands in the wrong layer and the free fit drops refresh altogether)
    x0 = np.array([params[n][k] for n, k in keys])
    best, best_x = np.inf, x0
    starts = [x0]
    if ("refresh", "len") in keys and params["refresh"]["len"] > 0:
        free = np.array([key != ("refresh", "len") for key in keys])

        def resid_held(xs: np.ndarray) -> np.ndarray:
            x = x0.copy()
            x[free] = xs
            return resid(x)

        xh = x0.copy()
        xh[free] = _least_squares(resid_held, x0[free], lo[free])
        starts.append(xh)
    for xs in starts:
        x = _least_squares(resid, xs, lo)
        val = loss(put(x))
        if val < best:
            best, best_x = val, x
    put(best_x)
    for r in range(rounds):
        improved = False
        steps = (0.5, 0.8, 0.93, 1.07, 1.25, 2.0) if r < rounds // 2 else \
            (0.9, 0.97, 0.99, 1.01, 1.03, 1.1)
        for n, k in keys:
            base = params[n][k]
            cand = [base * f for f in steps] + ([5.0] if base == 0 else [0.0])
            if k == "b" and n in CLASSES:  # no class streams faster than the data paths
                cand = [max(v, b_floor) for v in cand]
            for v in cand:
                params[n][k] = v
                val = loss(params)
                if val < best - 1e-12:
                    best, base, improved = val, v, True
            params[n][k] = base
        if not improved and r >= rounds // 2:
            break
    params["loss"] = best
    return params


def _least_squares(resid, x0: np.ndarray, lo: np.ndarray, iters: int = 60) -> np.ndarray:
    """Levenberg-Marquardt on ``resid(x)`` with the lower bounds ``lo`` (forward-difference
    Jacobian; steps projected onto the bounds)."""
    x = np.maximum(x0.astype(float), lo)
    r = resid(x)
    cost = float(r @ r)
    lam = 1e-2
    for _ in range(iters):
        J = np.empty((len(r), len(x)))
        for k in range(len(x)):
            h = max(1e-4 * abs(x[k]), 1e-3)
            xk = x.copy()
            xk[k] += h
            J[:, k] = (resid(xk) - r) / h
        A = J.T @ J
        gvec = J.T @ r
        improved = False
        for _ in range(8):
            D = np.diag(np.diag(A)) * lam + np.eye(len(x)) * 1e-9
            try:
                step = np.linalg.solve(A + D, -gvec)
            except np.linalg.LinAlgError:
                lam *= 10
                continue
            xn = np.maximum(x + step, lo)
            rn = resid(xn)
            cn = float(rn @ rn)
            if cn < cost:
                x, r, improved = xn, rn, True
                rel = (cost - cn) / max(cost, 1e-30)
                cost = cn
                lam = max(lam / 3, 1e-7)
                break
            lam *= 4
        if not improved or rel < 1e-7:
            break
    return x


def _key(td: TraceDir, override: dict | None) -> str:
    from hermes_hw.ndp.replay import trace_system
    from hermes_hw.source_digest import NDP_CODE, tree_digest
    from ramulator_bridge import engine_digest

    m = td.manifest
    system = trace_system(td, override).resolved()
    system.pop("fast", None)  # how the fit is used, not what it fits
    blob = json.dumps({"system": system,
                       "model": m["model_config"], "batch": m["batch"],
                       "weight_bits": m.get("weight_bits"), "v": FAST_MODEL_VERSION,
                       "engine": engine_digest(), "code": tree_digest(*NDP_CODE)},
                      sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def calibration_layers(n_layers: int, k: int = CALIBRATION_LAYERS) -> list[int]:
    return sorted(set(np.linspace(0, n_layers - 1, min(k, n_layers)).round().astype(int).tolist()))


def calibration_dimms(n_dimms: int, n_layers: int, samples: int = 2 * CALIBRATION_LAYERS
                      ) -> list[int]:
    """DIMMs 0 and n/2, plus evenly spaced ones until the fit has ``samples`` per-layer times
    (models with fewer layers than ``CALIBRATION_LAYERS``: the tiny test models)."""
    k = min(n_dimms, -(-samples // max(n_layers, 1)))
    if k <= 2:
        return sorted({0, n_dimms // 2})
    spread = np.linspace(0, n_dimms - 1, k).round().astype(int).tolist()
    return sorted({0, n_dimms // 2, *spread})


@dataclass(frozen=True)
class _Context:
    """What the fast mode needs of a trace's configuration (resolved once per call)."""

    timing: NdpTiming
    tck: float
    bank_map: BankMap
    resolved: object
    allbank_refresh: bool
    write_fence: bool


def _context(td: TraceDir, override: dict | None) -> _Context:
    from hermes_hw.ndp.replay import trace_system

    system = trace_system(td, override)
    cfg = parse_config(system.dram_mapping(), f"{td.path}/manifest.json:system.dram")
    resolved = resolve(cfg)
    tck = float(resolved.tck_ns)
    refresh = cfg.MemorySystem.Controller.RefreshManager.impl == "AllBank"
    return _Context(NdpTiming(system.unit, tck), tck,
                    BankMap.from_resolved(resolved, cfg.MemorySystem.AddrMapper.impl), resolved,
                    refresh, system.unit.write_fence)


def _segments(td: TraceDir, j: int) -> np.ndarray:
    parts = list(td.iter_segments(j))
    return np.concatenate(parts) if parts else np.zeros(0, SEGMENT_DTYPE)


def _table(td: TraceDir, j: int, ops: np.ndarray, ctx: _Context) -> tuple[list, np.ndarray]:
    comp = ctx.timing.compute_cycles(ops)
    nb = ctx.bank_map.n_banks
    head = np.where(ops["lines"] <= 2 * HEAD_BANK_PASSES * nb, HEAD_BANK_PASSES * nb, nb)
    tail = None
    if ctx.write_fence:  # the fence's writes need each written bank's open row: a short op's
        #                  whole stream is its tail (its first lines may be a bank's last access)
        tail = np.where(ops["lines"] <= 2 * HEAD_BANK_PASSES * nb, ops["lines"], nb)
    rows = row_features(_segments(td, j), ops, ctx.bank_map, head_lines=head,
                        write_heads=ctx.write_fence, tail_lines=tail)
    fence = None
    if ctx.write_fence:
        fence = np.zeros(len(ops), bool)
        fence[fence_ops(ops, np.ones(len(ops), bool), True)] = True
    return _op_table(ops, comp, rows, fence), comp


def coefficients(path: str, *, refit: bool = False, override: dict | None = None) -> dict:
    """The fitted coefficients for this trace's configuration (cached; fitted if missing),
    with the fit's own error on its calibration layers and on a held-out DIMM."""
    td = TraceDir(path)
    cfile = cache_dir() / f"{_key(td, override)}.json"
    if cfile.is_file() and not refit:
        try:
            coef = json.loads(cfile.read_text())
            if coef.get("version") == FAST_MODEL_VERSION:
                return coef
        except (json.JSONDecodeError, OSError):
            pass
    n_layers = int(td.manifest["model_config"]["architecture"]["num_layers"])
    layers = calibration_layers(n_layers)
    ctx = _context(td, override)
    dimms = calibration_dimms(td.n_dimms, len(layers))
    samples, classes = [], None
    for j in dimms:
        res, ops, sample = _cycle_sample(td, j, layers, ctx, override)
        classes = classes or _additive_fit(res, ops, ctx)
        samples.append(sample)
    pipeline = fit_pipeline(samples, ctx.timing.buffer_lines, start=classes,
                            physical=dram_start(ctx.resolved, ctx.allbank_refresh))
    coef = {"version": FAST_MODEL_VERSION, "calibration_layers": layers,
            "calibration_dimms": dimms, "classes": classes, "pipeline": pipeline,
            "calibration_error": calibration_error(samples, pipeline, ctx.timing.buffer_lines)}
    hj, hl = holdout_plan(td.n_dimms, n_layers, dimms, layers)
    if hj is not None:  # the same check on a DIMM (and, where there are any, layers) not fitted
        sample = _cycle_sample(td, hj, hl, ctx, override)[2]
        coef["holdout_error"] = {"dimm": hj, "layer_ids": hl,
                                 **calibration_error([sample], pipeline,
                                                     ctx.timing.buffer_lines)}
    cfile.parent.mkdir(parents=True, exist_ok=True)
    tmp = cfile.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(coef, indent=1, sort_keys=True))
    os.replace(tmp, cfile)
    return coef


def _cycle_sample(td: TraceDir, j: int, layers: list[int], ctx: _Context,
                  override: dict | None) -> tuple[dict, np.ndarray, tuple]:
    """Cycle-level replay of ``layers`` of DIMM ``j``: the result, its ops, and the fit sample
    (op table, layer id per op, per-op durations in DRAM cycles)."""
    from hermes_hw.ndp.replay import replay_dimm

    res = replay_dimm(str(td.path), j, layers=layers, override=override)
    ops = td.ops(j)[res["op_index"]]
    layer_of = ops["token"].astype(np.int64) * 100000 + ops["layer"]
    dur = (res["end_ns"] - res["start_ns"]) / ctx.tck
    return res, ops, (_table(td, j, ops, ctx)[0], layer_of, dur)


def holdout_plan(n_dimms: int, n_layers: int, cal_dimms: list[int], cal_layers: list[int]
                 ) -> tuple[int | None, list[int]]:
    """The DIMM and layers the fit is checked on after fitting: the middle one of the DIMMs it
    did not see (None if it saw them all) and ``HOLDOUT_LAYERS`` evenly spaced layers that are
    not calibration layers (every layer where all are, as on the tiny models)."""
    cand = [j for j in range(n_dimms) if j not in cal_dimms]
    if not cand:
        return None, []
    free = [x for x in range(n_layers) if x not in cal_layers] or list(range(n_layers))
    idx = np.linspace(0, len(free) - 1, min(HOLDOUT_LAYERS, len(free))).round().astype(int)
    return cand[len(cand) // 2], sorted({free[i] for i in idx})


def fit_error(coef: dict) -> float:
    """The larger of the fit's max per-layer errors on its calibration layers and on its
    held-out DIMM (what the fast mode's choice compares with ``fast.tolerance``)."""
    return max(float(coef.get(k, {}).get("max", 0.0))
               for k in ("calibration_error", "holdout_error"))


def calibration_error(samples: list[tuple], pipeline: dict, buffer_lines: int) -> dict:
    """The fitted pipeline's per-layer relative error on its own calibration samples (the
    cycle-level per-layer times it was fitted to): ``max`` and ``mean`` of |fast / cycle - 1|,
    and the number of per-layer times ``layers``."""
    errs = []
    for table, layer_of, want_ops in samples:
        got = _layer_times(table, layer_of, pipeline_durations(table, pipeline, buffer_lines))
        want = _layer_times(table, layer_of, want_ops)
        errs.append(np.abs(got / np.maximum(want, 1e-9) - 1.0))
    e = np.concatenate(errs) if errs else np.zeros(0)
    return {"max": float(e.max()) if e.size else 0.0, "mean": float(e.mean()) if e.size else 0.0,
            "layers": int(e.size)}


def _additive_fit(res: dict, ops: np.ndarray, ctx: _Context) -> dict:
    """v1's additive per-op coefficients (``classes``) from one DIMM's cycle-level replay of the
    calibration layers (its first token's ops)."""
    first = ops["token"] == ops["token"].min()
    dur = ((res["end_ns"] - res["start_ns"]) / ctx.tck)[first]
    comp = (res["busy_ns"] / ctx.tck)[first]
    return fit(ops[first], dur, comp, ctx.timing.buffer_lines)


def additive_coefficients(path: str, *, override: dict | None = None) -> dict:
    """Only the additive per-op coefficients of :func:`coefficients` (the same values: its
    first calibration DIMM's replay of the calibration layers), without the pipeline fit or
    the other calibration DIMMs' replays (what the timeline's ``dimm_model: fast`` uses)."""
    from hermes_hw.ndp.replay import replay_dimm

    td = TraceDir(path)
    n_layers = int(td.manifest["model_config"]["architecture"]["num_layers"])
    layers = calibration_layers(n_layers)
    j = calibration_dimms(td.n_dimms, len(layers))[0]
    res = replay_dimm(str(td.path), j, layers=layers, override=override)
    return _additive_fit(res, td.ops(j)[res["op_index"]], _context(td, override))


def fast_replay_dimm(td: TraceDir, j: int, coef: dict, *, layers: list[int] | None = None,
                     override: dict | None = None, ctx: _Context | None = None) -> dict:
    """The fast model's per-op timeline of DIMM ``j`` (same keys as the cycle-level replay)."""
    ctx = ctx or _context(td, override)
    tck = ctx.tck
    ops = td.ops(j)
    sel = np.ones(len(ops), bool) if layers is None else np.isin(ops["layer"], layers)
    ops = ops[sel]
    table, comp = _table(td, j, ops, ctx)
    mem = np.zeros(len(ops))
    dur = pipeline_durations(table, coef["pipeline"], ctx.timing.buffer_lines, mem_out=mem)
    F = np.cumsum(dur)
    F_prev = F - dur
    is_read = np.isin(ops["kind"], _READ_IDS)
    total = float(F[-1]) if len(F) else 0.0
    read_lines = int(ops["lines"][is_read].sum())
    return {
        "dimm": j, "op_index": np.flatnonzero(sel),
        "start_ns": F_prev * tck, "end_ns": F * tck, "first_issue_ns": F_prev * tck,
        "busy_ns": comp * tck, "stall_dram_ns": np.maximum(dur - comp, 0) * tck,
        "stall_compute_ns": np.where(is_read, np.maximum(dur - mem, 0), 0) * tck,
        "totals": {"busy_time_ns": total * tck, "requests": int(ops["lines"].sum()),
                   "read_requests": read_lines,
                   "write_requests": int(ops["lines"][~is_read].sum()),
                   "read_bandwidth_gbps": read_lines * 64 / (total * tck) if total else 0.0,
                   "compute_ns": float(comp.sum() * tck)},
    }


def requests_per_token(td: TraceDir) -> float:
    """64 B requests per decode token of the trace, all DIMMs together."""
    lines = sum(int(td.ops(j)["lines"].sum()) for j in range(td.n_dimms))
    return lines / max(int(td.manifest.get("tokens", 1) or 1), 1)


def replay_choice(td: TraceDir, coef: dict, override: dict | None = None) -> dict:
    """Which model ``hermes replay --fast`` runs for this trace, and why (plain data).

    ``analytical`` when the fitted model's largest per-layer error (:func:`fit_error`: on its
    calibration layers and on its held-out DIMM) is within the system's ``fast.tolerance``;
    otherwise ``cycle`` (the exact replay) when a token has at most ``fast.exact_max_requests``
    requests, else ``analytical`` with ``warning`` set."""
    from hermes_hw.ndp.replay import trace_system

    opts = trace_system(td, override).fast
    err = fit_error(coef)
    req = requests_per_token(td)
    cal = float(coef.get("calibration_error", {}).get("max", 0.0))
    held = coef.get("holdout_error")
    where = f"{100 * cal:.2f}% on its calibration layers" + (
        f", {100 * held['max']:.2f}% on held-out DIMM {held['dimm']}" if held else "")
    tol = f"{100 * opts.tolerance:g}%"
    out = {"fit_error": err, "calibration_max_error": cal,
           "holdout_max_error": float(held["max"]) if held else None,
           "tolerance": opts.tolerance, "requests_per_token": req,
           "exact_max_requests": opts.exact_max_requests}
    if err <= opts.tolerance:
        return {"model": "analytical", **out, "reason": f"fit within {tol} ({where})"}
    if req <= opts.exact_max_requests:
        return {"model": "cycle", **out,
                "reason": f"fit misses {tol} ({where}) and a token has {req:,.0f} requests "
                          f"(<= {opts.exact_max_requests:,}): replayed cycle-level"}
    return {"model": "analytical", **out,
            "warning": f"the fast mode's fit misses {tol} ({where}); the trace is too large "
                       f"({req:,.0f} requests per token > fast.exact_max_requests) to "
                       "replay cycle-level instead"}


def fast_replay_all(path: str, *, layers: list[int] | None = None, jobs: int | None = None,
                    refit: bool = False, override: dict | None = None,
                    dimms: list[int] | None = None, analytical: bool = False) -> list[dict]:
    """Fast-mode replay of ``dimms`` (default all): the fitted analytical model, or the exact
    cycle-level replay where :func:`replay_choice` says so (``analytical``: always the
    analytical model). Each result's ``fast_model`` says which ran and why."""
    td = TraceDir(path)
    coef = coefficients(path, refit=refit, override=override)
    choice = replay_choice(td, coef, override)
    if analytical and choice["model"] != "analytical":
        tol, err = 100 * choice["tolerance"], 100 * choice["fit_error"]
        choice = {**choice, "model": "analytical",
                  "reason": f"forced; the fit misses {tol:g}% (max {err:.2f}%)"}
    dimms = list(range(td.n_dimms)) if dimms is None else dimms
    if choice["model"] == "cycle":  # small by the rule: one process, no worker start-up
        from hermes_hw.ndp.replay import replay_dimm

        results = [replay_dimm(path, j, layers=layers, override=override) for j in dimms]
    else:
        ctx = _context(td, override)
        results = [fast_replay_dimm(td, j, coef, layers=layers, override=override, ctx=ctx)
                   for j in dimms]
    for r in results:
        r["fast_model"] = choice
    return results
