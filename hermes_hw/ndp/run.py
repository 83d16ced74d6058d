"""Replay every DIMM of a trace directory (processes in parallel) and summarise the result."""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from hermes_hw.lowering.ops import OP_KINDS
from hermes_hw.lowering.trace import TraceDir
from hermes_hw.ndp.replay import replay_dimm


def _one(args: tuple) -> dict:
    path, j, layers, override = args
    return replay_dimm(path, j, layers=layers, override=override)


def replay_all(path: str, *, jobs: int | None = None, layers: list[int] | None = None,
               dimms: list[int] | None = None, override: dict | None = None) -> list[dict]:
    """Cycle-level replay of ``dimms`` (default all) with ``jobs`` processes (default: CPUs).
    Results are ordered by DIMM and do not depend on ``jobs``."""
    td = TraceDir(path)
    dimms = list(range(td.n_dimms)) if dimms is None else dimms
    for j in dimms:  # validate every file before starting workers
        td.ops(j)
        for _ in td.iter_segments(j):
            pass
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(dimms)))
    work = [(str(path), j, layers, override) for j in dimms]
    if jobs == 1:
        return [_one(w) for w in work]
    ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else None
    with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
        return list(pool.map(_one, work))


def per_layer(td: TraceDir, result: dict) -> list[dict]:
    """Per (token, layer) timeline of one DIMM: start/end/busy/stall in ns."""
    ops = td.ops(result["dimm"])[result["op_index"]]
    key = ops["token"].astype(np.int64) * 100000 + ops["layer"]
    cut = np.flatnonzero(np.diff(key)) + 1
    starts = np.concatenate([[0], cut])
    rows = []
    for s, e in zip(starts, np.concatenate([cut, [len(key)]]), strict=True):
        rows.append({
            "token": int(ops["token"][s]), "layer": int(ops["layer"][s]),
            "start_ns": float(result["start_ns"][s]), "end_ns": float(result["end_ns"][e - 1]),
            "busy_ns": float(result["busy_ns"][s:e].sum()),
            "stall_dram_ns": float(result["stall_dram_ns"][s:e].sum()),
            "stall_compute_ns": float(result["stall_compute_ns"][s:e].sum()),
            "read_bytes": int(ops["read_bytes"][s:e].sum()),
        })
    return rows


def summarize(path: str, results: list[dict], wall_seconds: float, mode: str,
              with_layers: bool = True, with_ops: bool = False) -> dict:
    td = TraceDir(path)
    m = td.manifest
    out = {"trace": str(path), "model": m["model"], "batch": m["batch"], "tokens": m["tokens"],
           "mode": mode, "wall_seconds": wall_seconds, "dimms": []}
    if results and "fast_model" in results[0]:  # which model the fast mode ran, and why
        out["fast_model"] = results[0]["fast_model"]
    for r in results:
        d = {"dimm": r["dimm"], **{k: (round(v, 3) if isinstance(v, float) else v)
                                   for k, v in r["totals"].items()}}
        if with_layers:
            d["layers"] = per_layer(td, r)
        if with_ops:
            ops = td.ops(r["dimm"])[r["op_index"]]
            d["ops"] = [{"kind": OP_KINDS[int(o["kind"])], "token": int(o["token"]),
                         "layer": int(o["layer"]), "read_bytes": int(o["read_bytes"]),
                         "write_bytes": int(o["write_bytes"]),
                         "start_ns": float(r["start_ns"][i]), "end_ns": float(r["end_ns"][i]),
                         "busy_ns": float(r["busy_ns"][i]),
                         "stall_dram_ns": float(r["stall_dram_ns"][i]),
                         "stall_compute_ns": float(r["stall_compute_ns"][i])}
                        for i, o in enumerate(ops)]
        out["dimms"].append(d)
    busy = [d["busy_time_ns"] for d in out["dimms"]]
    out["max_busy_time_ns"] = max(busy) if busy else 0.0
    out["busy_imbalance"] = max(busy) / (sum(busy) / len(busy)) if busy and sum(busy) else 1.0
    return out


def timed_replay(path: str, *, jobs: int | None = None, fast: bool = False,
                 layers: list[int] | None = None, analytical: bool = False
                 ) -> tuple[list[dict], float]:
    """Replay (cycle-level, or ``fast``; ``analytical``: the fast mode's analytical model even
    where its fit misses the tolerance) and the wall seconds it took."""
    if fast:  # imported before the clock starts: module loading is not replay time
        from hermes_hw.ndp.fast import fast_replay_all
    t0 = time.perf_counter()
    if fast:
        results = fast_replay_all(path, layers=layers, jobs=jobs, analytical=analytical)
    else:
        results = replay_all(path, jobs=jobs, layers=layers)
    return results, time.perf_counter() - t0
