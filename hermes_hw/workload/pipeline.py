"""One workload run: activations -> predictor -> placement -> per-token adjustment/remapping.

``Workload(model, options).run()`` yields a :class:`~hermes_hw.workload.worklist.TokenWork` per
decode token and fills ``workload.report`` (a :class:`WorkloadReport`) as it goes.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from hermes_hw.errors import InputError
from hermes_hw.workload.activations.base import ActivationTrace, make_source
from hermes_hw.workload.models.spec import ModelSpec
from hermes_hw.workload.placement.base import (
    PlacementProblem,
    SystemParams,
    check_capacities,
    make_placement,
    objective,
)
from hermes_hw.workload.predictors.base import PredictionMetrics, PredictorContext, make_predictor
from hermes_hw.workload.predictors.correlation import build_correlation_table
from hermes_hw.workload.predictors.hermes import HermesPredictor
from hermes_hw.workload.scheduling import adjust_block, promotion_budget, remap_block
from hermes_hw.workload.worklist import TokenWork


@dataclass
class WorkloadOptions:
    """Everything a run depends on (same options + seed = identical results)."""

    prompt_tokens: int = 128  # paper: input 128 tokens
    decode_tokens: int = 128  # paper: output 128 tokens
    batch: int = 1
    seed: int = 0
    source: str = "synthetic"
    source_options: dict = field(default_factory=dict)
    predictor: str = "hermes"
    predictor_options: dict = field(default_factory=dict)
    placement: str = "ilp"
    placement_options: dict = field(default_factory=dict)
    placement_frequencies: str = "offline"  # offline profile, or 'prefill' counts
    adjust: bool = True
    remap: bool = True
    window: int = 5  # paper: remap every 5 tokens
    hot_threshold: int = 10  # paper: hot if state > 10
    promotion_bytes_per_block: int | None = None  # None: derived (see scheduling.py)
    build_worklists: bool = True
    system: SystemParams = field(default_factory=SystemParams)

    def __post_init__(self) -> None:
        if self.prompt_tokens < 1 or self.decode_tokens < 1:
            raise InputError("prompt and decode tokens must be at least 1")
        if self.window < 1:
            raise InputError(f"remap window must be at least 1 token, got {self.window}")
        if self.placement_frequencies not in ("offline", "prefill"):
            raise InputError("placement_frequencies must be 'offline' or 'prefill'")


def _nanmean(values: np.ndarray) -> float:
    """Mean over finite entries (NaN = an idle block); NaN when there are none."""
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if finite.size else float("nan")


@dataclass
class WorkloadReport:
    """Per-block accumulators; :meth:`groups` summarises them per layer group."""

    model: ModelSpec
    metrics: PredictionMetrics
    gpu_active: np.ndarray  # per block: predicted-active neurons computed on the GPU
    pred_active: np.ndarray  # per block: predicted-active neurons
    imbalance_static: list[np.ndarray] = field(default_factory=list)  # per window, per block
    imbalance_remap: list[np.ndarray] = field(default_factory=list)
    imbalance_in_window: list[np.ndarray] = field(default_factory=list)  # after remap, same window
    pcie_bytes: np.ndarray | None = None  # per block
    dimm_link_bytes: np.ndarray | None = None
    placement_objective_s: float = 0.0
    placement_seconds: float = 0.0
    placement_info: dict = field(default_factory=dict)
    capacities: dict = field(default_factory=dict)
    hot_churn: float = float("nan")
    predictor_cost: dict = field(default_factory=dict)
    timings_s: dict = field(default_factory=dict)
    decode_tokens: int = 0

    def _window_imbalance(self, rows: list[np.ndarray], sel: np.ndarray) -> float:
        # skip the first window (no remapping has happened yet)
        use = rows[1:] if len(rows) > 1 else rows
        if not use:
            return float("nan")
        vals = np.stack(use)[:, sel]
        return _nanmean(vals)

    def groups(self, n_groups: int = 8) -> list[dict]:
        """Rows per (layer group, kind): sparsity, recall, precision, GPU share, imbalance."""
        blocks = self.model.blocks
        layers = self.model.num_layers
        edges = np.linspace(0, layers, min(n_groups, layers) + 1).round().astype(int)
        rows = []
        for lo, hi in zip(edges[:-1], edges[1:], strict=True):
            for kind in ("attention", "mlp"):
                sel = np.array([g.kind == kind and lo <= g.layer < hi for g in blocks])
                m = self.metrics.summary(sel)
                rows.append({
                    "layers": f"{lo}-{hi - 1}",
                    "kind": kind,
                    "sparsity": m["true_sparsity"],
                    "predicted_sparsity": m["predicted_sparsity"],
                    "recall": m["recall"],
                    "precision": m["precision"],
                    "accuracy": m["accuracy"],
                    "gpu_share": float(self.gpu_active[sel].sum() / max(self.pred_active[sel]
                                                                          .sum(), 1)),
                    "imbalance_no_remap": self._window_imbalance(self.imbalance_static, sel),
                    "imbalance_remap": self._window_imbalance(self.imbalance_remap, sel),
                    "imbalance_in_window": _nanmean(np.stack(self.imbalance_in_window)[:, sel])
                    if self.imbalance_in_window else float("nan"),
                })
        return rows

    def totals(self) -> dict:
        allb = np.ones(len(self.model.blocks), dtype=bool)
        m = self.metrics.summary(allb)
        t = max(self.decode_tokens, 1)
        return {
            **m,
            "gpu_share": float(self.gpu_active.sum() / max(self.pred_active.sum(), 1)),
            "imbalance_no_remap": self._window_imbalance(self.imbalance_static, allb),
            "imbalance_remap": self._window_imbalance(self.imbalance_remap, allb),
            "imbalance_in_window": _nanmean(np.stack(self.imbalance_in_window))
            if self.imbalance_in_window else float("nan"),
            "pcie_bytes_per_token": float(self.pcie_bytes.sum() / t),
            "dimm_link_bytes_per_token": float(self.dimm_link_bytes.sum() / t),
            "placement_objective_s": self.placement_objective_s,
            "placement_seconds": self.placement_seconds,
            "hot_churn": self.hot_churn,
        }


PREFILL_MEMO_ENTRIES = 2
"""Prompt statistics kept in memory (a run's placement-feedback and final passes share one)."""
_PREFILL_MEMO: OrderedDict[tuple, tuple] = OrderedDict()
_PREFILL_LOCK = threading.Lock()


def prefill_statistics(trace: ActivationTrace) -> tuple[np.ndarray, np.ndarray]:
    """(per-neuron firing frequency over the prompt (float32), top-2 partner table) of a trace.

    Memoised per trace data in this process (a shorter view of the same trace with the same
    prompt hits), returned read-only."""
    root = trace.bits if trace.bits.base is None else trace.bits.base
    key = (id(root), id(trace.partner_candidates), trace.prompt_tokens, trace.bits.shape[1])
    with _PREFILL_LOCK:
        hit = _PREFILL_MEMO.get(key)
        if hit is not None and hit[0] is root:
            _PREFILL_MEMO.move_to_end(key)
            return hit[2], hit[3]
    prefill_freq = (trace.counts(0, trace.prompt_tokens) / trace.prompt_tokens
                    ).astype(np.float32)
    partners = build_correlation_table(trace, range(trace.prompt_tokens))
    prefill_freq.flags.writeable = False
    partners.flags.writeable = False
    with _PREFILL_LOCK:
        # the trace objects are kept so their ids cannot be reused while the entry lives
        _PREFILL_MEMO[key] = (root, trace.partner_candidates, prefill_freq, partners)
        while len(_PREFILL_MEMO) > PREFILL_MEMO_ENTRIES:
            _PREFILL_MEMO.popitem(last=False)
    return prefill_freq, partners


class Workload:
    def __init__(self, model: ModelSpec, options: WorkloadOptions | None = None,
                 trace: ActivationTrace | None = None) -> None:
        self.model = model
        self.options = options or WorkloadOptions()
        self.trace = trace
        self.report: WorkloadReport | None = None

    def _trace(self) -> ActivationTrace:
        o = self.options
        if self.trace is None:
            src = make_source(o.source, **o.source_options)
            self.trace = src.trace(self.model, prompt_tokens=o.prompt_tokens,
                                   decode_tokens=o.decode_tokens, batch=o.batch, seed=o.seed)
        return self.trace

    def run(self):
        """Yield one :class:`TokenWork` per decode token (``report`` filled at the end)."""
        o, model = self.options, self.model
        timings = {}
        t0 = time.perf_counter()
        trace = self._trace()
        timings["activations"] = time.perf_counter() - t0
        layout = trace.layout
        nb, n = len(model.blocks), layout.total_bits
        valid = layout.valid_flat()
        block_of = layout.block_of_flat()
        starts = layout.bit_offsets[:-1]

        # offline placement: with the offline profile it does not depend on the prompt
        # statistics, so it is solved in a worker thread (PuLP's CBC runs as a subprocess)
        # while they are computed; with the prompt's frequencies it waits for them
        def solve(freq: np.ndarray):
            t2 = time.perf_counter()
            problem = PlacementProblem(model, layout, np.where(valid, freq, 0.0), o.system,
                                       trace.neuron_ids)
            policy = make_placement(o.placement, **o.placement_options)
            placement = policy.place(problem, np.random.default_rng([o.seed, 0x9A]))
            placement.solve_seconds = placement.solve_seconds or (time.perf_counter() - t2)
            timings["placement"] = time.perf_counter() - t2
            return problem, placement

        offline = o.placement_frequencies == "offline" and trace.offline_frequencies is not None
        with ThreadPoolExecutor(1) as pool:
            solving = (pool.submit(solve, trace.offline_frequencies.astype(np.float64))
                       if offline else None)
            # prefill: frequencies, correlation table, predictor state
            t1 = time.perf_counter()
            prefill_freq, partners = prefill_statistics(trace)
            predictor = make_predictor(o.predictor, **o.predictor_options)
            predictor.start(PredictorContext(trace, prefill_freq, partners, valid))
            counter = None
            if predictor.hotness() is None:  # keep a Hermes token-wise counter (adjustment)
                counter = HermesPredictor()
                counter.start(PredictorContext(trace, prefill_freq, partners, valid))
            timings["prefill"] = time.perf_counter() - t1
            problem, placement = (solving.result() if solving is not None
                                  else solve(prefill_freq.astype(np.float64)))
        on_gpu, dimm = placement.on_gpu.copy(), placement.dimm.copy()
        static_dimm = placement.dimm.copy()

        report = WorkloadReport(
            model=model, metrics=PredictionMetrics(nb),
            gpu_active=np.zeros(nb, dtype=np.int64), pred_active=np.zeros(nb, dtype=np.int64),
            pcie_bytes=np.zeros(nb, dtype=np.int64), dimm_link_bytes=np.zeros(nb, dtype=np.int64),
            placement_objective_s=objective(problem, placement),
            placement_seconds=placement.solve_seconds, placement_info=placement.info or {},
            capacities=check_capacities(problem, placement),
            predictor_cost=predictor.cost(model), timings_s=timings,
            decode_tokens=trace.decode_tokens,
        )
        self.report = report
        bpn = np.array([g.bytes_per_neuron for g in model.blocks], dtype=np.int64)
        budget = (o.promotion_bytes_per_block if o.promotion_bytes_per_block is not None
                  else promotion_budget(model, o.system))
        max_swaps = budget // bpn
        ids_flat = np.zeros(n, dtype=np.int32)
        for b in range(nb):
            ids_flat[layout.block_slice(b)] = trace.model_ids(b)
        window_counts = np.zeros(n, dtype=np.uint8 if o.window <= 255 else np.uint16)
        hot0 = (predictor.hotness() if counter is None else counter.hotness()) > o.hot_threshold
        hot0 &= valid
        ever_cold = np.zeros(n, dtype=bool)
        t3 = time.perf_counter()

        for step, t in enumerate(range(trace.prompt_tokens, trace.tokens)):
            truth = trace.token_mask(t)
            pred = predictor.predict(truth)
            pred &= valid
            pred_bits = np.packbits(pred, bitorder="little")
            report.metrics.add(pred_bits, trace.bits[t], layout.byte_offsets, layout.sizes)
            gpu_bits = np.packbits(pred & on_gpu, bitorder="little")
            report.gpu_active += np.add.reduceat(np.bitwise_count(gpu_bits),
                                                 layout.byte_offsets[:-1], dtype=np.int64)
            report.pred_active += np.add.reduceat(np.bitwise_count(pred_bits),
                                                  layout.byte_offsets[:-1], dtype=np.int64)
            off_gpu = ~on_gpu
            cold_work = pred & off_gpu
            window_counts += cold_work
            work = self._worklist(step, pred, on_gpu, dimm, cold_work, truth, ids_flat,
                                  block_of, layout) if o.build_worklists else None

            predictor.update(truth)
            if counter is not None:
                counter.update(truth)
            state = predictor.hotness() if counter is None else counter.hotness()
            ever_cold |= state <= o.hot_threshold
            if o.adjust:
                cand = state > o.hot_threshold
                cand &= off_gpu
                cand &= valid
                best = np.maximum.reduceat(np.where(cand, state, 0), starts)
                worst = np.minimum.reduceat(np.where(on_gpu, state, 255).astype(np.uint8),
                                            starts)
                todo = np.flatnonzero(best > worst)
                cand_flat, res_flat = np.flatnonzero(cand), np.flatnonzero(on_gpu)
                ccut = np.searchsorted(cand_flat, layout.bit_offsets)
                rcut = np.searchsorted(res_flat, layout.bit_offsets)
                for b in todo:
                    base = int(layout.bit_offsets[b])
                    sl = layout.block_slice(int(b))
                    prom, evic = adjust_block(
                        state[sl], on_gpu[sl], cand_flat[ccut[b]:ccut[b + 1]] - base,
                        res_flat[rcut[b]:rcut[b + 1]] - base, int(max_swaps[b]))
                    if len(prom):
                        report.pcie_bytes[b] += len(prom) * bpn[b]
                        if work is not None:
                            work.promoted[int(b)] = (ids_flat[base + prom], ids_flat[base + evic])

            if (step + 1) % o.window == 0:
                self._window(report, window_counts, on_gpu, dimm, static_dimm, block_of, layout,
                             bpn, work, ids_flat)
                window_counts[:] = 0
            if work is not None:
                yield work
        report.hot_churn = float((hot0 & ever_cold).sum() / max(hot0.sum(), 1))
        timings["decode"] = time.perf_counter() - t3
        self.placement = placement

    def _window(self, report, counts, on_gpu, dimm, static_dimm, block_of, layout, bpn, work,
                ids_flat) -> None:
        o = self.options
        d, nb = o.system.n_dimms, len(self.model.blocks)
        cold = ~on_gpu
        sel = np.flatnonzero(counts * cold)
        w = counts[sel]
        key = block_of[sel].astype(np.int64) * d
        def record(rows, dm):
            loads = np.bincount(key + dm[sel], weights=w, minlength=nb * d).reshape(nb, d)
            mean = loads.mean(axis=1)
            with np.errstate(invalid="ignore", divide="ignore"):
                rows.append(np.where(mean > 0, loads.max(axis=1) / mean, np.nan))

        record(report.imbalance_static, static_dimm)
        record(report.imbalance_remap, dimm)
        if not o.remap:
            return
        for b in range(nb):
            sl = layout.block_slice(b)
            moved, src, dst = remap_block(counts[sl], dimm[sl], cold[sl], d)
            if len(moved):
                report.dimm_link_bytes[b] += len(moved) * bpn[b]
                if work is not None:
                    base = int(layout.bit_offsets[b])
                    work.remapped[b] = (ids_flat[base + moved], src, dst)
        record(report.imbalance_in_window, dimm)

    def _worklist(self, step, pred, on_gpu, dimm, cold_work, truth, ids_flat, block_of, layout):
        cold_flat = np.flatnonzero(cold_work)
        return TokenWork(
            token=step, model=self.model, n_dimms=self.options.system.n_dimms,
            bit_offsets=layout.bit_offsets, ids_flat=ids_flat,
            gpu_flat=np.flatnonzero(pred & on_gpu), cold_flat=cold_flat,
            cold_dimm=dimm[cold_flat], missed_flat=np.flatnonzero(truth & ~pred),
        )

    def run_all(self) -> WorkloadReport:
        """Run to the end, discarding the work lists; return the report."""
        for _ in self.run():
            pass
        return self.report
