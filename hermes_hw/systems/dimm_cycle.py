"""Cycle-level DIMM timing for the merged timeline (``dimm_model: cycle``).

Every NDP-DIMM event of the Hermes timeline takes its duration from a cycle-level replay
(hermes_hw.ndp.replay: the DRAM engine in NDP access mode plus the NDP unit model) of the memory
commands this very run lowers to:

1. **Work lists**: the workload the run's :class:`~hermes_hw.systems.work.WorkCounts` were reduced
   from (same options, activation trace, placement, predictor, adjustment and remapping:
   :func:`hermes_hw.systems.work.run_workload`), ``S`` sampled decode tokens.
2. **Layout**: :class:`~hermes_hw.layout.model_layout.ModelLayout` with every neuron homed where
   the run's offline placement put it (``Placement.dimm``), KV cache sized for the whole run.
3. **Lowering** (hermes_hw.lowering): decode step ``t`` lowers sample ``t mod S``'s work lists
   (as the timeline reuses them) at step ``t``'s own context length ``input + t + 1`` (KV append
   and attention reads). Remapping moves change the layout as they happen; at the start of each
   period of ``S`` steps the layout returns to the placement's (sample ``s``'s work lists were
   made against the layout of sample ``s``).
4. **Replay**: every DIMM's op stream replayed cycle-level, DIMMs in parallel processes; an op's
   duration is ``end_ns - start_ns`` on its DIMM's stream.
5. **Roles**: each op's duration goes to one timeline event of its (step, layer, DIMM):

   ======================  =================================================================
   role (event name)       lowered ops
   ======================  =================================================================
   ``qkv_cold``            attention block: ``gemv``, ``write_partial``  ("QKV cold")
   ``qkv_merge``           attention block: ``reduce``  ("QKV merge")
   ``attention``           ``kv_append``, ``attn_score``, ``softmax``, ``attn_value``
   ``mlp_cold``            MLP block: ``gemv``, ``write_partial``  ("MLP cold")
   ``merge_reduce``        MLP block: ``reduce``  ("merge + reduce")
   ``promote_remap``       ``promote_read`` (this layer's promotions), ``remap_out`` and
                           ``remap_in`` (this layer's blocks' window remapping)
   ======================  =================================================================

   ``promote_remap`` is an extra event per DIMM that exists only in this mode ("promote +
   remap", category ``communication``): it follows the layer's attention on each DIMM lane, so
   it overlaps the GPU's output projection as in the paper and delays the DIMM's MLP GEMV only
   when it outlasts that gap. The analytical models do not charge these reads to the DIMMs at
   all. The lowered stream puts the remap ops after the token's last layer; the timeline
   charges them to the layer of the block they move, in its projection gap, where the timeline's
   DIMM-Link remap transfers also start. Every replayed op belongs to exactly one event, so the
   DIMM lanes' decode busy time equals the replayed streams' total.

Per-op results are cached in ``$HERMES_CACHE_DIR/dimm-cycle`` (or
``~/.cache/hermes-hw/dimm-cycle``; ``HERMES_CACHE_DIR=off`` disables) under a hash of the model,
the NDP system (DRAM config inlined), batch, token counts, the workload arguments, and the
source of the code they come from (workload, layout, lowering, NDP, DRAM engine).
``HERMES_DIMM_CYCLE_TRACE=DIR`` keeps the lowered trace in DIR (``hermes replay DIR`` replays
it; the cache is then bypassed).
"""

from __future__ import annotations

import hashlib
import json
import math
import multiprocessing as mp
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass, is_dataclass
from pathlib import Path

import numpy as np

from hermes_hw.lowering.ops import OP_KIND_ID
from hermes_hw.source_digest import NDP_CODE, WORK_CODE, tree_digest
from hermes_hw.systems.dimm_time import DIMM_ROLES

CYCLE_ADAPTER_VERSION = 1
ROLES: tuple[str, ...] = DIMM_ROLES
ROLE_INDEX = {r: i for i, r in enumerate(ROLES)}
#: (block kind, op kind) -> role; promote_read / remap_* go to promote_remap for either block
OP_ROLE: dict[tuple[str, str], str] = {
    ("attention", "gemv"): "qkv_cold", ("attention", "write_partial"): "qkv_cold",
    ("attention", "reduce"): "qkv_merge",
    ("attention", "kv_append"): "attention", ("attention", "attn_score"): "attention",
    ("attention", "softmax"): "attention", ("attention", "attn_value"): "attention",
    ("mlp", "gemv"): "mlp_cold", ("mlp", "write_partial"): "mlp_cold",
    ("mlp", "reduce"): "merge_reduce",
    **{(bk, k): "promote_remap" for bk in ("attention", "mlp")
       for k in ("promote_read", "remap_out", "remap_in")},
}
# Start-up estimate of the replay's wall time (one process per DIMM at a time): the engine's
# cost grows with the simulated DRAM cycles, the replay loop's with the ops. Fitted on an idle
# 2-core machine (2026-11-26): tiny-opt, tiny-llama, OPT-13B and LLaMA2-70B decode steps.
EST_S_PER_DRAM_CYCLE = 2.2e-7
EST_S_PER_OP = 4.0e-5
EST_STREAM_GBPS = 94.7  # one Table II DIMM streaming in NDP mode (docs/ndp.md)


def role_of_ops(model, ops: np.ndarray) -> np.ndarray:
    """Role index (into :data:`ROLES`) of every op record (OP_DTYPE) of ``model``'s trace."""
    from hermes_hw.lowering.ops import OP_KINDS

    table = np.full((len(model.blocks), len(OP_KINDS)), -1, np.int64)
    for b, g in enumerate(model.blocks):
        for k, kind in enumerate(OP_KINDS):
            role = OP_ROLE.get((g.kind, kind))
            if role is not None:
                table[b, k] = ROLE_INDEX[role]
    roles = table[ops["block"].astype(np.int64), ops["kind"].astype(np.int64)]
    if (roles < 0).any():  # pragma: no cover (every op kind of every block kind is mapped)
        bad = ops[roles < 0][0]
        raise RuntimeError(f"lowered op kind {OP_KINDS[int(bad['kind'])]} of block "
                           f"{int(bad['block'])} has no timeline role")
    return roles


@dataclass
class CycleReplay:
    """Per-op results of one run's replay: per DIMM, the op records' (token, layer, block,
    kind) and their start/end on the DIMM's stream (ns), plus the trace's totals."""

    ops: list[np.ndarray]      # per DIMM: structured (token, layer, block, kind)
    start_ns: list[np.ndarray]
    end_ns: list[np.ndarray]
    totals: list[dict]         # per DIMM: requests, busy_time_ns, row hits, ...

    def role_table(self, model, steps: int) -> np.ndarray:
        """``[steps, layers, roles, dimms]`` summed op durations (ns)."""
        D = len(self.ops)
        out = np.zeros((steps, model.num_layers, len(ROLES), D))
        for j in range(D):
            ops = self.ops[j]
            dur = self.end_ns[j] - self.start_ns[j]
            roles = role_of_ops(model, ops)
            np.add.at(out, (ops["token"].astype(np.int64), ops["layer"].astype(np.int64),
                            roles, np.full(len(ops), j)), dur)
        return out


_OPS_DTYPE = np.dtype([("token", "<i4"), ("layer", "<i4"), ("block", "<i4"), ("kind", "u1")])


@dataclass
class CycleDimmModel:
    """The timeline's DIMM time model backed by a cycle-level replay (see the module doc).

    ``role_times_ns(role, step, layer)`` gives each DIMM's duration of one timeline event;
    ``op_time_ns`` (the op-level protocol) falls back to ``fallback`` and is not used for the
    Hermes dataflow's DIMM events."""

    table: np.ndarray  # [steps, layers, roles, dimms] ns
    fallback: object
    info: dict

    def op_time_ns(self, dimm: int, op) -> float:
        return self.fallback.op_time_ns(dimm, op)

    def role_times_ns(self, role: str, step: int, layer: int) -> Sequence[float]:
        return self.table[step, layer, ROLE_INDEX[role]].tolist()

    def describe(self) -> dict:
        return self.info


# --- building ---------------------------------------------------------------------------------

def _cache_dir() -> Path | None:
    env = os.environ.get("HERMES_CACHE_DIR")
    if env and env.lower() == "off":
        return None
    return (Path(env) if env else Path.home() / ".cache" / "hermes-hw") / "dimm-cycle"


CYCLE_CODE = (*NDP_CODE, *WORK_CODE, "hermes_hw/systems/dimm_cycle.py", "ramulator_bridge",
              "ramulator_bridge/_engine*")
"""The code per-op cycle-level results come from: the NDP model, lowering, layout, DRAM front
end, the workload that makes the work lists, this adapter, the bridge and the compiled engine."""


def code_digest() -> str:
    """Hash of :data:`CYCLE_CODE` (:func:`hermes_hw.source_digest.tree_digest`), so an edited
    lowering or NDP model or a rebuilt DRAM engine never reads a stale cache entry."""
    return tree_digest(*CYCLE_CODE)


def _jsonable(obj):
    if is_dataclass(obj):
        return asdict(obj)
    return str(obj)


def ndp_system(ndp, dram_config: str, n_dimms: int):
    """The issue-4 NDP system config (hermes_hw.ndp.config) for the system config's values."""
    from hermes_hw.ndp.config import parse_system
    from hermes_hw.paths import configs_dir
    from hermes_hw.systems.dimm_fast import ndp_unit_for

    dram = dram_config if Path(dram_config).is_absolute() else str(configs_dir() / dram_config)
    return parse_system({"dram": dram, "n_dimms": n_dimms, "unit": ndp_unit_for(ndp)},
                        source="system config ndp")


def cycle_key(model, system, *, batch: int, prompt_tokens: int, steps: int,
              work_args: dict) -> str:
    from hermes_hw.systems.work import _file_stamps

    blob = json.dumps({"v": CYCLE_ADAPTER_VERSION, "code": code_digest(),
                       "model": model.config.model_dump(mode="json"), "bits": model.weight_bits,
                       "system": system.resolved(), "batch": batch, "prompt": prompt_tokens,
                       "steps": steps, "work": work_args, "files": _file_stamps(work_args)},
                      sort_keys=True, default=_jsonable)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def _homes(workload) -> list[np.ndarray]:
    """Home DIMM of every neuron (model id order) from the run's offline placement."""
    trace, pl = workload.trace, workload.placement
    out = []
    for b, g in enumerate(workload.model.blocks):
        h = np.full(g.count, -1, np.int8)
        h[trace.model_ids(b)] = pl.dimm[trace.layout.block_slice(b)]
        out.append(h)
    return out


def lower_run(model, system, work_args: dict, *, batch: int, prompt_tokens: int, steps: int,
              out: Path, progress: bool | None = None,
              expect_counts: np.ndarray | None = None) -> dict:
    """Lower ``steps`` decode steps of the run's work lists into the trace directory ``out``
    (see the module doc); returns the manifest. ``expect_counts`` ([S, blocks, DIMMs], the
    run's ``WorkCounts.dimm``): the rebuilt work lists must have exactly these cold neurons per
    DIMM, else the workload was not reproduced (an error, not a silent mismatch)."""
    from tqdm import tqdm

    from hermes_hw.lowering.driver import build_layout
    from hermes_hw.lowering.lower import lower_token
    from hermes_hw.lowering.trace import TraceWriter
    from hermes_hw.lowering.work import TokenInput, from_token_work
    from hermes_hw.systems.work import run_workload

    wl = run_workload(model, **work_args)
    samples = [from_token_work(tw, prompt_tokens) for tw in wl.run()]
    S = len(samples)
    if expect_counts is not None:
        got = np.array([[[len(ids) for ids in bw.dimm_neurons] for bw in tok.blocks]
                        for tok in samples])
        if got.shape != expect_counts.shape or not (got == expect_counts).all():
            raise RuntimeError("the rebuilt workload's work lists differ from the run's work "
                               "counts (a time-limited placement solve?); rerun with "
                               "HERMES_CACHE_DIR=off or clear the work cache")
    homes = _homes(wl)
    remaps = any(len(bw.remap_neurons) for tok in samples for bw in tok.blocks)
    max_ctx = prompt_tokens + steps
    headroom = remap_headroom(homes, samples, system.n_dimms, system.layout.remap_headroom)
    if headroom != system.layout.remap_headroom:
        system = system.model_copy(update={"layout": system.layout.model_copy(
            update={"remap_headroom": headroom})})

    def layout():
        return build_layout(model, system, homes, batch=batch, max_context_tokens=max_ctx)

    writer = TraceWriter(out, system.n_dimms, {
        "created_by": "hermes simulate --dimm-model cycle", "model": model.id,
        "model_config": model.config.model_dump(mode="json"), "weight_bits": model.weight_bits,
        "batch": batch, "prompt_tokens": prompt_tokens, "n_dimms": system.n_dimms,
        "system": system.resolved(), "system_digest": system.digest(),
        "work_samples": S}, force=True)
    lay = layout()
    eb = system.unit.element_bytes
    for t in tqdm(range(steps), desc="lower decode steps", unit="token", file=sys.stderr,
                  disable=not _show(progress), leave=False):
        s = t % S
        if t and s == 0 and remaps:
            lay = layout()  # a new period: sample 0's work lists assume the placement's layout
        tok = samples[s]
        writer.add_token(lower_token(TokenInput(token=t, context_tokens=prompt_tokens + t + 1,
                                                blocks=tok.blocks), lay, batch, eb))
    return writer.close({"layout_used_bytes": lay.used_bytes().tolist()})


def remap_headroom(homes: list[np.ndarray], samples, n_dimms: int, default: float) -> float:
    """The layout's spare-slot share so that one period of the sampled remap moves fits: per
    (block, DIMM) the peak number of neurons homed there (moves into a DIMM counted before the
    same token's moves out) over the placement's count; at least ``default``."""
    from hermes_hw.errors import InputError

    need = default
    for b, h in enumerate(homes):
        count = np.bincount(h[h >= 0], minlength=n_dimms).astype(np.int64)
        peak, cur = count.copy(), count.copy()
        for tok in samples:
            bw = tok.blocks[b]
            if not len(bw.remap_neurons):
                continue
            inflow = np.bincount(bw.remap_dst, minlength=n_dimms)
            np.maximum(peak, cur + inflow, out=peak)
            cur += inflow - np.bincount(bw.remap_src, minlength=n_dimms)
        extra = peak - count
        if (extra[count == 0] > 0).any():
            raise InputError(f"block {b}: remapping moves neurons onto a DIMM the placement left "
                             "empty; the layout has no slot for them")
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where(count > 0, extra / np.maximum(count, 1), 0.0)
        need = max(need, math.ceil(float(share.max()) * 1000) / 1000)
    return need


def _show(progress: bool | None) -> bool | None:
    return None if progress is None else bool(progress)


def _replay_one(args: tuple) -> tuple[int, dict]:
    from hermes_hw.ndp.replay import replay_dimm

    path, j = args
    r = replay_dimm(path, j)
    return j, r


def replay_trace(path: Path, n_dimms: int, *, jobs: int | None = None,
                 progress: bool | None = None) -> CycleReplay:
    """Replay every DIMM of ``path`` cycle-level (``jobs`` processes); per-op results."""
    from tqdm import tqdm

    from hermes_hw.lowering.trace import TraceDir

    jobs = replay_jobs(n_dimms, jobs)
    work = [(str(path), j) for j in range(n_dimms)]
    results: dict[int, dict] = {}
    bar = tqdm(total=n_dimms, desc="replay DIMMs (cycle-level)", unit="DIMM", file=sys.stderr,
               disable=not _show(progress), leave=False)
    try:
        if jobs == 1:
            for w in work:
                j, r = _replay_one(w)
                results[j] = r
                bar.update(1)
        else:
            ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else None
            with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
                todo = {pool.submit(_replay_one, w) for w in work}
                while todo:  # refresh every second so the elapsed time keeps moving
                    done, todo = wait(todo, timeout=1.0, return_when=FIRST_COMPLETED)
                    for fut in done:
                        j, r = fut.result()
                        results[j] = r
                        bar.update(1)
                    bar.refresh()
    finally:
        bar.close()
    td = TraceDir(path)
    ops, starts, ends, totals = [], [], [], []
    for j in range(n_dimms):
        r = results[j]
        rec = td.ops(j)[r["op_index"]]
        o = np.zeros(len(rec), _OPS_DTYPE)
        for name in _OPS_DTYPE.names:
            o[name] = rec[name]
        ops.append(o)
        starts.append(np.asarray(r["start_ns"], np.float64))
        ends.append(np.asarray(r["end_ns"], np.float64))
        totals.append({k: v for k, v in r["totals"].items() if k != "wall_seconds"})
    return CycleReplay(ops, starts, ends, totals)


def replay_jobs(n_dimms: int, jobs: int | None = None) -> int:
    """Processes for the replay: ``jobs``, else ``$HERMES_DIMM_CYCLE_JOBS``, else the usable
    CPUs, at most one per DIMM. Inside a worker process (a sweep or ``hermes reproduce``
    point, which the sweep already runs in parallel; a daemonic Dask worker may not start
    children at all) the default is 1."""
    env = os.environ.get("HERMES_DIMM_CYCLE_JOBS")
    if jobs is None and env:
        try:
            jobs = int(env)
        except ValueError:
            from hermes_hw.errors import InputError

            raise InputError(f"HERMES_DIMM_CYCLE_JOBS: expected an integer, got '{env}'") from None
    if mp.current_process().daemon:
        return 1
    if jobs is None and mp.parent_process() is not None:
        jobs = 1
    if jobs is None:
        try:
            jobs = len(os.sched_getaffinity(0))
        except AttributeError:  # pragma: no cover (not Linux)
            jobs = os.cpu_count() or 1
    return max(1, min(jobs, n_dimms))


def _save(path: Path, rep: CycleReplay) -> None:
    arrays = {}
    for j in range(len(rep.ops)):
        arrays[f"ops{j}"] = rep.ops[j]
        arrays[f"start{j}"] = rep.start_ns[j]
        arrays[f"end{j}"] = rep.end_ns[j]
    arrays["totals"] = np.array(json.dumps(rep.totals, sort_keys=True))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")
    np.savez_compressed(tmp, **arrays)
    os.replace(tmp, path)


def _load(path: Path, n_dimms: int) -> CycleReplay:
    with np.load(path, allow_pickle=False) as z:
        return CycleReplay([z[f"ops{j}"] for j in range(n_dimms)],
                           [z[f"start{j}"] for j in range(n_dimms)],
                           [z[f"end{j}"] for j in range(n_dimms)],
                           json.loads(str(z["totals"])))


def _say(msg: str) -> None:
    print(f"hermes: {msg}", file=sys.stderr, flush=True)


def cycle_replay(model, system, work_args: dict, *, batch: int, prompt_tokens: int, steps: int,
                 jobs: int | None = None, progress: bool | None = None,
                 trace_dir: str | Path | None = None,
                 expect_counts: np.ndarray | None = None,
                 rough_estimate_s: float | None = None) -> tuple[CycleReplay, str]:
    """Per-op replay results of the run (cached); returns them and the cache key."""
    key = cycle_key(model, system, batch=batch, prompt_tokens=prompt_tokens, steps=steps,
                    work_args=work_args)
    trace_dir = trace_dir or os.environ.get("HERMES_DIMM_CYCLE_TRACE") or None
    cache = _cache_dir()
    path = cache / f"{key}.npz" if cache else None
    if path is not None and trace_dir is None and path.is_file():
        try:
            return _load(path, system.n_dimms), key
        except (OSError, ValueError, KeyError):
            pass  # a corrupt entry is recomputed
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="hermes-dimm-cycle-") as tmp:
        out = Path(trace_dir) if trace_dir else Path(tmp) / "trace"
        rough = ("" if rough_estimate_s is None else
                 f"; the replay will take roughly {_fmt_s(rough_estimate_s)} on idle cores")
        _say(f"cycle-level DIMM timing: lowering {steps} decode step(s) of {model.id} "
             f"(batch {batch}) on {system.n_dimms} DIMMs{rough}")
        manifest = lower_run(model, system, work_args, batch=batch, prompt_tokens=prompt_tokens,
                             steps=steps, out=out, progress=progress,
                             expect_counts=expect_counts)
        requests = sum(d["requests"] for d in manifest["dimms"])
        nj = replay_jobs(system.n_dimms, jobs)
        est = estimate_replay_s(out, system, nj)
        _say(f"replaying {requests / 1e6:.1f} M requests ({steps} step(s), {system.n_dimms} "
             f"DIMMs, {nj} process(es)): about {_fmt_s(est)} on idle cores (lowered in "
             f"{time.perf_counter() - t0:.1f} s; cached in "
             f"{path if path is not None else 'nowhere: HERMES_CACHE_DIR=off'})")
        t1 = time.perf_counter()
        rep = replay_trace(out, system.n_dimms, jobs=jobs, progress=progress)
        _say(f"cycle-level replay done in {time.perf_counter() - t1:.1f} s")
    if path is not None:
        try:
            _save(path, rep)
        except OSError:
            pass  # the cache is an optimisation only
    return rep, key


def estimate_replay_s(path: Path, system, jobs: int) -> float:
    """Rough wall time of :func:`replay_trace` (s): per DIMM the DRAM cycles its reads take at
    the streaming rate (promotions at the NDP unit's PCIe share, remap reads at DIMM-Link rate)
    and its op count, at the fitted costs above; DIMMs spread over ``jobs`` processes."""
    from hermes_hw.dram.config import parse_config
    from hermes_hw.dram.resolve import resolve
    from hermes_hw.lowering.trace import TraceDir

    tck = float(resolve(parse_config(system.dram_mapping(), "dram")).tck_ns)
    unit = system.unit
    td = TraceDir(path)
    per_dimm = []
    for j in range(td.n_dimms):
        ops = td.ops(j)
        kind = ops["kind"]
        nbytes = ops["lines"].astype(np.float64) * 64
        ns = np.where(kind == OP_KIND_ID["promote_read"], nbytes / unit.pcie_gbps_per_dimm,
                      np.where(kind == OP_KIND_ID["remap_out"], nbytes / unit.link_gbps,
                               nbytes / EST_STREAM_GBPS))
        per_dimm.append(float(ns.sum()) / tck * EST_S_PER_DRAM_CYCLE + len(ops) * EST_S_PER_OP)
    return max(sum(per_dimm) / max(jobs, 1), max(per_dimm, default=0.0))


def rough_replay_s(model, counts, system, *, batch: int, prompt_tokens: int, steps: int,
                   jobs: int) -> float:
    """:func:`estimate_replay_s` before lowering, from the work counts: cold neuron bytes per
    DIMM, promotions at the PCIe share, KV reads split evenly, ~11 ops per layer and DIMM."""
    from hermes_hw.dram.config import parse_config
    from hermes_hw.dram.resolve import resolve

    tck = float(resolve(parse_config(system.dram_mapping(), "dram")).tck_ns)
    bpn = np.array([g.bytes_per_neuron for g in model.blocks], dtype=np.float64)
    S, D = counts.dimm.shape[0], system.n_dimms
    reps = np.bincount(np.arange(steps) % S, minlength=S).astype(np.float64)  # uses per sample
    cold = np.einsum("s,sbd,b->d", reps, counts.dimm.astype(np.float64), bpn)
    prom = float(np.einsum("s,sb,b->", reps, counts.promoted.astype(np.float64), bpn)) / D
    ctx = prompt_tokens * steps + steps * (steps + 1) / 2  # sum of context lengths
    kv = 2 * batch * ctx * model.num_kv_heads * model.head_dim * 2 * model.num_layers / D
    ns = (cold + kv) / EST_STREAM_GBPS + prom / system.unit.pcie_gbps_per_dimm
    per_dimm = ns / tck * EST_S_PER_DRAM_CYCLE + steps * model.num_layers * 11 * EST_S_PER_OP
    return max(float(per_dimm.sum()) / max(jobs, 1), float(per_dimm.max()))


def _fmt_s(sec: float) -> str:
    if sec < 90:
        return f"{sec:.0f} s" if sec >= 10 else f"{max(sec, 0.1):.1f} s"
    if sec < 5400:
        return f"{sec / 60:.0f} min"
    return f"{sec / 3600:.1f} h"


def cycle_dimm_model(model, *, ndp, dram_config: str, n_dimms: int, batch: int,
                     prompt_tokens: int, steps: int, work_args: dict, fallback,
                     jobs: int | None = None, progress: bool | None = None,
                     counts=None) -> CycleDimmModel:
    """The cycle-level model of one run (see the module doc). ``counts``: the run's
    :class:`~hermes_hw.systems.work.WorkCounts` (checked against the rebuilt work lists, and
    the source of the up-front estimate)."""
    system = ndp_system(ndp, dram_config, n_dimms)
    if steps < 1:  # no decode step: nothing to replay
        return CycleDimmModel(np.zeros((0, model.num_layers, len(ROLES), n_dimms)), fallback,
                              {"model": "cycle", "decode_steps": 0})
    rep, key = cycle_replay(model, system, work_args, batch=batch, prompt_tokens=prompt_tokens,
                            steps=steps, jobs=jobs, progress=progress,
                            expect_counts=None if counts is None else counts.dimm,
                            rough_estimate_s=None if counts is None else
                            rough_replay_s(model, counts, system, batch=batch,
                                           prompt_tokens=prompt_tokens, steps=steps,
                                           jobs=replay_jobs(n_dimms, jobs)))
    table = rep.role_table(model, steps)
    busy = [float(t["busy_time_ns"]) for t in rep.totals]
    info = {"model": "cycle", "cache_key": key, "decode_steps": steps,
            "work_samples": int(work_args["sample_tokens"]),
            "dram": dram_config, "requests": int(sum(t["requests"] for t in rep.totals)),
            "replay_busy_ns_per_dimm": busy,
            "row_hit_rate": _ratio(sum(t["row_hits"] for t in rep.totals),
                                   sum(t["row_hits"] + t["row_misses"] + t["row_conflicts"]
                                       for t in rep.totals)),
            "role_ns": {r: float(table[:, :, i].sum()) for i, r in enumerate(ROLES)}}
    return CycleDimmModel(table, fallback, info)


def _ratio(a: float, b: float) -> float:
    return a / b if b else 0.0
