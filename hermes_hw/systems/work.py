"""Per-token work counts for the timeline, from the workload pipeline (issue 3), cached.

The timeline needs, per sampled decode token and block (``model.blocks`` order): how many
predicted-active neurons the GPU computes, how many each DIMM computes, how many neurons are
promoted over PCIe, and how many move between each pair of DIMMs (remapping). :func:`work_counts`
runs :class:`hermes_hw.workload.pipeline.Workload` for ``sample_tokens`` decode tokens after the
full prompt and reduces its work lists to these counts. Results are cached in memory and on disk
(``$HERMES_CACHE_DIR`` or ``~/.cache/hermes-hw/work``) under a hash of everything they depend
on, the code that computes them included (:data:`WORK_CODE`: an edited or upgraded workload
never reads an entry an older one wrote), so a repeated run is identical and fast;
``HERMES_CACHE_DIR=off`` disables the disk cache.

The activation trace a run reads depends only on the model, the source, the token counts, the
batch and the seed, not on the placement: a small in-process memo (:func:`activation_trace`)
shares it between runs that differ only in the system (the points of one ``hermes reproduce``,
the ablation steps); a run that samples fewer decode tokens can read the first tokens of a
longer run's trace (``trace_decode_tokens``: the placement-feedback pass reads the final run's
trace, so the prompt's activations are generated once).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections import OrderedDict
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from hermes_hw.source_digest import WORK_CODE, tree_digest
from hermes_hw.workload.models.spec import ModelSpec
from hermes_hw.workload.placement.base import SystemParams

CACHE_VERSION = "work-counts-1"


@dataclass
class WorkCounts:
    """Counts per sampled decode token ``s`` and block ``b`` (int32 arrays)."""

    gpu: np.ndarray  # [S, nb]
    dimm: np.ndarray  # [S, nb, D]
    promoted: np.ndarray  # [S, nb]
    remap: np.ndarray  # [S, nb, D, D] neurons moved src -> dst after token s
    gpu_resident: np.ndarray  # [nb] neurons with a GPU copy after the offline placement
    totals: dict  # the workload report's totals (recall, precision, GPU share, ...)
    predictor_cost: dict

    @property
    def samples(self) -> int:
        return int(self.gpu.shape[0])


_MEMO: dict[str, WorkCounts] = {}

TRACE_MEMO_ENTRIES = 4
"""Activation traces kept in memory (LLaMA2-70B, 144 tokens: ~53 MB each)."""
_TRACES: OrderedDict[str, object] = OrderedDict()
_TRACE_LOCK = threading.Lock()


def _cache_dir() -> Path | None:
    env = os.environ.get("HERMES_CACHE_DIR")
    if env and env.lower() == "off":
        return None
    return Path(env) if env else Path.home() / ".cache" / "hermes-hw" / "work"


def _file_stamps(options: dict) -> dict:
    """Size and mtime of every file an option names (a changed mask file is a new key)."""
    out = {}
    for k, v in (options.get("source_options") or {}).items():
        if isinstance(v, str) and os.path.isfile(v):
            st = os.stat(v)
            out[k] = [st.st_size, st.st_mtime_ns]
    return out


def _key(model: ModelSpec, options: dict, system: SystemParams) -> str:
    blob = json.dumps({"v": CACHE_VERSION, "code": tree_digest(*WORK_CODE),
                       "files": _file_stamps(options),
                       "model": model.config.model_dump(mode="json"),
                       "bits": model.weight_bits, "options": options,
                       "system": asdict(system)}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def _trace_key(model: ModelSpec, *, source: str, source_options: dict, prompt_tokens: int,
               decode_tokens: int, batch: int, seed: int) -> str:
    opts = {"source": source, "source_options": source_options or {}}
    blob = json.dumps({"v": CACHE_VERSION, "files": _file_stamps(opts),
                       "model": model.config.model_dump(mode="json"), "bits": model.weight_bits,
                       "opts": opts, "prompt": prompt_tokens, "decode": decode_tokens,
                       "batch": batch, "seed": seed}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def _make_trace(model: ModelSpec, source: str, source_options: dict, prompt_tokens: int,
                decode_tokens: int, batch: int, seed: int):
    from hermes_hw.workload.activations.base import make_source

    trace = make_source(source, **dict(source_options or {})).trace(
        model, prompt_tokens=prompt_tokens, decode_tokens=decode_tokens, batch=batch, seed=seed)
    trace.bits.flags.writeable = False  # shared between runs: nobody may change it
    return trace


def activation_trace(model: ModelSpec, *, source: str, source_options: dict | None,
                     prompt_tokens: int, decode_tokens: int, batch: int, seed: int):
    """The activation trace of one workload (memoised in this process; see the module doc).

    A failed generation is not memoised; concurrent callers of one key generate it once."""
    kw = {"source": source, "source_options": source_options or {},
          "prompt_tokens": prompt_tokens, "decode_tokens": decode_tokens, "batch": batch,
          "seed": seed}
    key = _trace_key(model, **kw)
    with _TRACE_LOCK:
        trace = _TRACES.get(key)
        if trace is None:
            trace = _TRACES[key] = _make_trace(model, **kw)
            while len(_TRACES) > TRACE_MEMO_ENTRIES:
                _TRACES.popitem(last=False)
        else:
            _TRACES.move_to_end(key)
    return trace


def _options(batch, prompt_tokens, sample_tokens, predictor, predictor_options, placement,
             placement_options, adjust, remap, window, source, source_options, seed) -> dict:
    return {"batch": batch, "prompt_tokens": prompt_tokens, "decode_tokens": sample_tokens,
            "predictor": predictor, "predictor_options": predictor_options or {},
            "placement": placement, "placement_options": placement_options or {},
            "adjust": adjust, "remap": remap, "window": window, "source": source,
            "source_options": source_options or {}, "seed": seed}


def _jsonable(d: dict) -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, np.ndarray):
            v = v.tolist()
        elif isinstance(v, np.generic):
            v = v.item()
        out[k] = v
    return out


def work_counts(model: ModelSpec, *, batch: int, prompt_tokens: int, sample_tokens: int,
                system: SystemParams, predictor: str = "hermes",
                predictor_options: dict | None = None, placement: str = "ilp",
                placement_options: dict | None = None, adjust: bool = True, remap: bool = True,
                window: int = 5, source: str = "synthetic", source_options: dict | None = None,
                seed: int = 0, trace_decode_tokens: int | None = None) -> WorkCounts:
    """Run (or load) the workload and reduce its work lists to :class:`WorkCounts`.

    ``trace_decode_tokens`` (>= ``sample_tokens``): read the first ``sample_tokens`` decode
    tokens of the trace generated for that many (so a shorter run shares a longer run's trace)."""
    options = _options(batch, prompt_tokens, sample_tokens, predictor, predictor_options,
                       placement, placement_options, adjust, remap, window, source,
                       source_options, seed)
    if trace_decode_tokens is not None:
        options["trace_decode_tokens"] = trace_decode_tokens
    key = _key(model, options, system)
    if key in _MEMO:
        return _MEMO[key]
    cache = _cache_dir()
    path = cache / f"{key}.npz" if cache else None
    if path is not None and path.is_file():
        try:
            with np.load(path, allow_pickle=False) as z:
                wc = WorkCounts(z["gpu"], z["dimm"], z["promoted"], z["remap"],
                                z["gpu_resident"], json.loads(str(z["totals"])),
                                json.loads(str(z["predictor_cost"])))
            _MEMO[key] = wc
            return wc
        except (OSError, ValueError, KeyError):
            pass  # a corrupt cache entry is recomputed
    wl = run_workload(model, batch=batch, prompt_tokens=prompt_tokens,
                      sample_tokens=sample_tokens, system=system, predictor=predictor,
                      predictor_options=predictor_options, placement=placement,
                      placement_options=placement_options, adjust=adjust, remap=remap,
                      window=window, source=source, source_options=source_options, seed=seed,
                      trace_decode_tokens=trace_decode_tokens)
    nb, d = len(model.blocks), system.n_dimms
    gpu = np.zeros((sample_tokens, nb), dtype=np.int32)
    dimm = np.zeros((sample_tokens, nb, d), dtype=np.int32)
    promoted = np.zeros((sample_tokens, nb), dtype=np.int32)
    moves = np.zeros((sample_tokens, nb, d, d), dtype=np.int32)
    resident = None
    for s, tw in enumerate(wl.run()):
        offsets = tw.bit_offsets
        gpu[s] = np.diff(np.searchsorted(tw.gpu_flat, offsets))
        # cold_flat is ascending: block b's neurons are one run, so the block of each is a
        # repeat of the run lengths (the search goes the cheap way round: offsets into the ids)
        per_block = np.diff(np.searchsorted(tw.cold_flat, offsets))
        cell = np.repeat(np.arange(nb, dtype=np.int64) * d, per_block) + tw.cold_dimm
        dimm[s] = np.bincount(cell, minlength=nb * d).reshape(nb, d)
        for b, (prom, _ev) in tw.promoted.items():
            promoted[s, b] = len(prom)
        for b, (_ids, src, dst) in tw.remapped.items():
            np.add.at(moves[s, b], (src.astype(np.int64), dst.astype(np.int64)), 1)
        if resident is None:
            resident = np.zeros(nb, dtype=np.int64)
    report = wl.report
    layout = wl.trace.layout
    valid = layout.valid_flat()
    on_gpu = wl.placement.on_gpu & valid if hasattr(wl, "placement") else np.zeros_like(valid)
    resident = np.add.reduceat(on_gpu.astype(np.int64), layout.bit_offsets[:-1])
    totals = _jsonable(report.totals())
    wc = WorkCounts(gpu, dimm, promoted, moves, resident, totals,
                    _jsonable(dict(report.predictor_cost)))
    _MEMO[key] = wc
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")
            np.savez_compressed(tmp, gpu=gpu, dimm=dimm, promoted=promoted, remap=moves,
                                gpu_resident=resident, totals=json.dumps(totals),
                                predictor_cost=json.dumps(wc.predictor_cost, default=str))
            os.replace(tmp, path)
        except OSError:
            pass  # the cache is an optimisation only
    return wc


def run_workload(model: ModelSpec, *, batch: int, prompt_tokens: int, sample_tokens: int,
                 system: SystemParams, predictor: str = "hermes",
                 predictor_options: dict | None = None, placement: str = "ilp",
                 placement_options: dict | None = None, adjust: bool = True, remap: bool = True,
                 window: int = 5, source: str = "synthetic", source_options: dict | None = None,
                 seed: int = 0, trace_decode_tokens: int | None = None):
    """The :class:`~hermes_hw.workload.pipeline.Workload` whose work lists :func:`work_counts`
    reduces (same arguments, same activation trace): iterate ``.run()`` for the per-token
    work lists; ``.placement`` is set once the run is exhausted. The cycle-level DIMM model
    (hermes_hw/systems/dimm_cycle.py) lowers exactly these work lists."""
    from hermes_hw.workload.pipeline import Workload, WorkloadOptions

    wopts = WorkloadOptions(
        prompt_tokens=prompt_tokens, decode_tokens=sample_tokens, batch=batch, seed=seed,
        source=source, source_options=dict(source_options or {}), predictor=predictor,
        predictor_options=dict(predictor_options or {}),
        placement=placement, placement_options=dict(placement_options or {}), adjust=adjust,
        remap=remap, window=window, system=system)
    trace = activation_trace(model, source=source, source_options=source_options,
                             prompt_tokens=prompt_tokens,
                             decode_tokens=trace_decode_tokens or sample_tokens,
                             batch=batch, seed=seed)
    if trace.tokens > prompt_tokens + sample_tokens:
        trace = replace(trace, bits=trace.bits[:prompt_tokens + sample_tokens])
    return Workload(model, wopts, trace=trace)
