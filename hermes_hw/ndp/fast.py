"""Fast mode: an analytical per-op model whose coefficients are fitted to cycle-level runs.

Per read op (``L`` lines in ``s`` segments, ``W`` write lines posted since the previous read op,
compute ``c`` DRAM cycles), its time on the NDP's critical path is

    duration = max(c + lat, a + b * L + g * s + w * W)

(``lat``: pipeline fill; ``a + b L + g s + w W``: DRAM time of a bandwidth-bound op, with ``b``
the streaming cycles per line, ``g`` the cost of starting a segment (row misses), ``w`` the
write traffic). Compute-only ops take exactly their compute time, writes are posted (0). The
coefficients are fitted per op class (weights ``gemv`` / KV ``attn`` / transfers) by least
squares on the ops of a cycle-level replay of a sample of the same trace configuration
(``CALIBRATION_LAYERS`` layers of the first token on DIMM 0), and cached on disk by the hash of
(system config, model, batch, fast-model version).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from hermes_hw.dram.config import parse_config
from hermes_hw.dram.resolve import resolve
from hermes_hw.lowering.ops import OP_KIND_ID, READ_OPS, WRITE_OPS
from hermes_hw.lowering.trace import TraceDir
from hermes_hw.ndp.config import parse_system
from hermes_hw.ndp.unit import NdpTiming

FAST_MODEL_VERSION = 2
CALIBRATION_LAYERS = 12
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


# -- the pipeline model (FAST_MODEL_VERSION 2) ----------------------------------------------
#: per op class: streaming DRAM cycles per 64 B line, extra cycles per segment, first-data latency
PIPELINE_PARAMS = ("b", "g", "lat")
_CLASS_ID = {name: k for k, name in enumerate(CLASSES)}


def _op_table(ops: np.ndarray, comp: np.ndarray) -> list[tuple]:
    """(kind code, class id, lines, segments, compute cycles) per op as plain Python values:
    kind code 0 = compute only, 1 = read op, 2 = posted writes."""
    kind = ops["kind"]
    lines = ops["lines"].astype(np.int64)
    code = np.where(np.isin(kind, _WRITE_IDS) & (lines > 0), 2,
                    np.where(np.isin(kind, _READ_IDS) & (lines > 0), 1, 0))
    cls = np.zeros(len(ops), np.int64)
    for name, kinds in CLASSES.items():
        cls[np.isin(kind, kinds)] = _CLASS_ID[name]
    return list(zip(code.tolist(), cls.tolist(), lines.tolist(),
                    ops["seg_count"].astype(np.int64).tolist(), comp.tolist(), strict=True))


def pipeline_durations(table: list[tuple], params: dict, buffer_lines: int) -> np.ndarray:
    """Per-op critical-path durations (DRAM cycles) of the op-level pipeline model.

    The same pipeline as the cycle-level replay, with the DRAM as a server of fitted rate:
    state = consume frontier ``F`` (previous op done), DRAM frontier ``D`` (every line issued
    so far delivered), the time ``Wt`` the last writes were posted (no read issues before it)
    and the consume history (to know when line ``x - N`` was consumed, i.e. when the buffer
    had room for line ``x``). A read op of ``L`` lines in ``s`` segments with compute ``c``:
    its first line issues at ``i0 = max(Wt, consumed(x0 - N))``, the DRAM delivers its lines
    from ``max(D, i0 + lat)`` taking ``b L + g s``; with ``L <= N`` the last line cannot issue
    before ``consumed(x0 + L - 1 - N)``, with ``L > N`` the last ``L - N`` lines stream only
    after the op starts consuming (``F + lat + (b L + g s)(L - N)/L``). It ends at
    ``max(F + c, d_first + c, d_last + c/L)``.
    Lines of a later op prefetched while this one is compute-bound come out of ``D``. Writes
    occupy the DRAM ``b_w`` cycles per line from their posting time ``F``.
    """
    cp = [[params[name][k] for k in PIPELINE_PARAMS] for name in CLASSES]
    bw = params["write"]["b"]
    N = buffer_lines
    F = D = Wt = 0.0
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

    for i, (code, cls, L, s, c) in enumerate(table):
        if code == 0:
            F += c
            out[i] = c
            continue
        if code == 2:
            Wt = F
            D = max(D, F) + bw * L
            continue
        b, g, lat = cp[cls]
        i0 = max(Wt, consumed(pos - N))
        mem = b * L + g * s
        start = max(D, i0 + lat)
        d_first = start + mem / L
        d_last = start + mem
        if L <= N:
            d_last = max(d_last, max(Wt, consumed(pos + L - 1 - N)) + lat + b)
        else:  # lines past the buffer issue only as this op consumes its first ones
            d_last = max(d_last, max(Wt, F) + lat + mem * (L - N) / L)
        t = c / L
        F_new = max(F + c, d_first + c, d_last + t)
        D = d_last if L <= N else max(d_last, F_new - N * t + lat)
        out[i] = F_new - F
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


def fit_pipeline(samples: list[tuple], buffer_lines: int, rounds: int = 8,
                 start: dict | None = None) -> dict:
    """Fit the pipeline parameters to cycle-level per-layer times.

    ``samples``: (op table, layer id per op, cycle-level per-op durations) per calibration
    DIMM. Start from ``start`` (per class ``b``/``g``: the additive fit's streaming rate and
    segment cost), then coordinate search (multiplicative steps) minimising the mean + max
    relative per-layer error plus the per-op error (relative to the layer time)."""
    params = {name: {"b": max(float((start or {}).get(name, {}).get("b", 1.1)), 0.05),
                     "g": float((start or {}).get(name, {}).get("g", 0.0)), "lat": 40.0}
              for name in CLASSES}
    params["write"] = {"b": 1.0}
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
        return float(e.mean() + 0.5 * e.max() + 0.5 * np.concatenate(op_errs).mean())

    best = loss(params)
    keys = [(n, k) for n in CLASSES for k in PIPELINE_PARAMS] + [("write", "b")]
    for r in range(rounds):
        improved = False
        steps = (0.5, 0.8, 0.93, 1.07, 1.25, 2.0) if r < rounds // 2 else (0.9, 0.97, 1.03, 1.1)
        for n, k in keys:
            base = params[n][k]
            cand = [base * f for f in steps] + ([5.0] if base == 0 else [0.0])
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


def _key(td: TraceDir, override: dict | None) -> str:
    from hermes_hw.ndp.replay import trace_system

    m = td.manifest
    blob = json.dumps({"system": trace_system(td, override).resolved(),
                       "model": m["model_config"], "batch": m["batch"],
                       "weight_bits": m.get("weight_bits"), "v": FAST_MODEL_VERSION},
                      sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def calibration_layers(n_layers: int, k: int = CALIBRATION_LAYERS) -> list[int]:
    return sorted(set(np.linspace(0, n_layers - 1, min(k, n_layers)).round().astype(int).tolist()))


def coefficients(path: str, *, refit: bool = False, override: dict | None = None) -> dict:
    """The fitted coefficients for this trace's configuration (cached; fitted if missing)."""
    from hermes_hw.ndp.replay import replay_dimm, trace_system

    td = TraceDir(path)
    cfile = cache_dir() / f"{_key(td, override)}.json"
    if cfile.is_file() and not refit:
        try:
            return json.loads(cfile.read_text())
        except (json.JSONDecodeError, OSError):
            pass
    n_layers = int(td.manifest["model_config"]["architecture"]["num_layers"])
    layers = calibration_layers(n_layers)
    system = trace_system(td, override)
    tck = _tck_ns(td)
    timing = NdpTiming(system.unit, tck)
    dimms = sorted({0, td.n_dimms // 2})
    samples, first_res = [], None
    for j in dimms:
        res = replay_dimm(str(td.path), j, layers=layers, override=override)
        ops = td.ops(j)[res["op_index"]]
        first_res = first_res or (res, ops)
        layer_of = ops["token"].astype(np.int64) * 100000 + ops["layer"]
        dur = (res["end_ns"] - res["start_ns"]) / tck
        table = _op_table(ops, timing.compute_cycles(ops))
        samples.append((table, layer_of, dur))
    res, ops0 = first_res
    first = ops0["token"] == ops0["token"].min()
    dur = ((res["end_ns"] - res["start_ns"]) / tck)[first]
    comp = (res["busy_ns"] / tck)[first]
    classes = fit(ops0[first], dur, comp, timing.buffer_lines)
    coef = {"version": FAST_MODEL_VERSION, "calibration_layers": layers,
            "calibration_dimms": dimms, "classes": classes,
            "pipeline": fit_pipeline(samples, timing.buffer_lines, start=classes)}
    cfile.parent.mkdir(parents=True, exist_ok=True)
    tmp = cfile.with_suffix(".tmp")
    tmp.write_text(json.dumps(coef, indent=1, sort_keys=True))
    os.replace(tmp, cfile)
    return coef


def _tck_ns(td: TraceDir) -> float:
    system = parse_system(td.manifest["system"])
    return float(resolve(parse_config(system.dram_mapping(), "manifest.json:system.dram")).tck_ns)


def fast_replay_dimm(td: TraceDir, j: int, coef: dict, *, layers: list[int] | None = None,
                     override: dict | None = None) -> dict:
    """The fast model's per-op timeline of DIMM ``j`` (same keys as the cycle-level replay)."""
    from hermes_hw.ndp.replay import trace_system

    system = trace_system(td, override)
    tck = _tck_ns(td)
    timing = NdpTiming(system.unit, tck)
    ops = td.ops(j)
    sel = np.ones(len(ops), bool) if layers is None else np.isin(ops["layer"], layers)
    ops = ops[sel]
    comp = timing.compute_cycles(ops)
    _, mem = durations(ops, comp, coef["classes"], timing.buffer_lines)
    dur = pipeline_durations(_op_table(ops, comp), coef["pipeline"], timing.buffer_lines)
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


def fast_replay_all(path: str, *, layers: list[int] | None = None, jobs: int | None = None,
                    refit: bool = False, override: dict | None = None,
                    dimms: list[int] | None = None) -> list[dict]:
    td = TraceDir(path)
    coef = coefficients(path, refit=refit, override=override)
    dimms = list(range(td.n_dimms)) if dimms is None else dimms
    return [fast_replay_dimm(td, j, coef, layers=layers, override=override) for j in dimms]
