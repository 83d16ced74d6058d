"""Hermes (paper §1, Fig. 6a): hot neurons on the GPU, cold neurons and decode attention on the
NDP-DIMMs; and the variants that share its dataflow (ablations, Hermes-host).

Per decode token and layer, as timeline events (lanes ``gpu``, ``dimm0..``, ``pcie.h2d``,
``pcie.d2h``, ``dimmlink.a->b``, ``host``):

1. QKV, split: the host predicts the layer's active neurons (``predictor``); the layer input goes
   to the GPU (PCIe h2d); the GPU runs the hot rows (sparse GEMV), every DIMM its cold rows; the
   GPU's partial QKV goes to the DIMMs (PCIe d2h); the host synchronises; the DIMMs exchange
   partial sums for the heads each holds (reduce-scatter over DIMM-Link) and merge them.
2. Attention on the DIMMs: each DIMM holds 1/n of the KV cache (heads, then sequence, evenly
   [O]) and computes its share (KV read, scores, softmax, weighted sum, KV append).
3. Output projection on the GPU only (after a sync and the attention output over PCIe). Hidden
   behind it: the online adjustment's promotions (PCIe h2d) and, on a window's last token, the
   remapping moves (DIMM-Link); both take effect from the next token.
4. MLP, split like QKV (projection output to the DIMMs over PCIe d2h).
5. The GPU's partial MLP output goes to the DIMMs, the host synchronises, the DIMMs all-reduce
   their partial sums over DIMM-Link and merge them: the layer output, on every DIMM.

After the last layer the GPU computes the LM head and returns the token ids. Prefill runs on the
GPU with the non-resident weights streamed over PCIe (FlexGen-style double buffering) and the
prompt's KV cache written to the DIMMs. The work per token (which neurons the GPU and each DIMM
compute, promotions, remaps) comes from the workload pipeline (hermes_hw.workload).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from hermes_hw.errors import InputError
from hermes_hw.systems.base import (
    GIB,
    SimContext,
    System,
    check_batch,
    check_fits,
    check_host_memory,
    lm_head_step,
    prefill_with_streaming,
    register_system,
)
from hermes_hw.systems.dimm_time import (
    BandwidthDimmModel,
    CpuTimeModel,
    DimmOp,
    DimmTimeModel,
    role_hook,
)
from hermes_hw.systems.work import WorkCounts, work_counts
from hermes_hw.timeline.events import CATEGORIES, category_index
from hermes_hw.timeline.program import ParamList, ProgramBuilder, TokenProgram, run_program
from hermes_hw.workload.placement.base import SystemParams


@dataclass(frozen=True)
class MlpPredictorPlan:
    """Per-layer MLP prediction on the GPU (layers < ``gpu_layers``: ``gpu_ns`` per layer,
    ``gpu_args`` event args) or as one operator on the cold unit (``cold_op``)."""

    gpu_layers: int
    gpu_ns: float
    gpu_args: dict
    cold_op: DimmOp


FEEDBACK_SAMPLE_TOKENS = 4
"""Decode tokens the placement-feedback pass samples (its ratio averages over every block)."""


@register_system("hermes")
class Hermes(System):
    """GPU + NDP-DIMMs with activation sparsity (the paper's system)."""

    cold_unit = "dimm"

    # --- configuration ----------------------------------------------------------------------
    def units(self, ctx: SimContext) -> list[str]:
        return [f"dimm{j}" for j in range(ctx.config.n_dimms)]

    def time_model(self, ctx: SimContext) -> DimmTimeModel:
        return dimm_time_model(ctx)

    def cold_capacity_bytes(self, ctx: SimContext) -> float:
        return ctx.config.n_dimms * ctx.config.dimm_capacity_gib * GIB

    def cold_unit_gbps(self, ctx: SimContext) -> float:
        """Per-unit weight streaming rate at this batch (for the placement's cost model)."""
        ndp = ctx.config.ndp
        return min(ndp.streaming_gbps, 2 * ndp.mac_per_ns / ctx.batch)

    def gpu_block_fixed_ns(self, ctx: SimContext) -> float:
        """Fixed cost the GPU's share of a split block pays that the DIMMs' share does not: the
        layer input over PCIe, one sparse-GEMV kernel's launch and memory-pipeline fill (the GPU
        model's time for a one-row kernel), the partial result back over PCIe (ns)."""
        m = ctx.model
        one_row = ctx.gpu_kernel("sparse_gemv", 1, m.hidden_size, ctx.batch).time_ns
        return (one_row + ctx.pcie.duration_ns(ctx.vec_bytes(m.hidden_size), "h2d")
                + ctx.pcie.duration_ns(ctx.vec_bytes(m.hidden_size), "d2h"))

    def check(self, ctx: SimContext) -> None:
        check_batch(ctx)
        check_dimm_model(ctx)
        cfg = ctx.config
        if len(self.units(ctx)) < 1:
            raise InputError(f"system '{cfg.system}' needs at least one NDP-DIMM (n_dimms: "
                             f"{cfg.n_dimms})")
        check_host_memory(ctx, capacity_bytes=self.cold_capacity_bytes(ctx),
                          where=f"{cfg.n_dimms} DIMMs x {cfg.dimm_capacity_gib:g} GiB")
        gpu_gib = ctx.gpu.profile.memory_capacity_gib.value
        if cfg.gpu_weight_budget_gib > gpu_gib:
            raise InputError(f"gpu_weight_budget_gib ({cfg.gpu_weight_budget_gib:g}) exceeds the "
                             f"{ctx.gpu.profile.name} memory ({gpu_gib:g} GiB)")
        if cfg.host.attention != "split" and not isinstance(self, HermesHost):
            raise InputError(f"host.attention: '{cfg.host.attention}' applies to system "
                             f"'hermes-host' only (this config's system: '{cfg.system}'); "
                             "remove it or use 'split'")
        if cfg.host.predictor != "table" and not isinstance(self, HermesHost):
            raise InputError(f"host.predictor: '{cfg.host.predictor}' applies to system "
                             f"'hermes-host' only (this config's system: '{cfg.system}'); "
                             "remove it or use 'table'")
        if cfg.host.predictor_share is not None and cfg.host.predictor != "powerinfer_mlp":
            raise InputError("host.predictor_share applies to host.predictor 'powerinfer_mlp' "
                             f"only (this config's: '{cfg.host.predictor}'); remove it")
        check_fits("the GPU-only dense weights (output projections, LM head)",
                   ctx.model.gpu_dense_bytes, cfg.gpu_weight_budget_gib * GIB,
                   "gpu_weight_budget_gib")

    def system_params(self, ctx: SimContext) -> SystemParams:
        if ctx.placement_params is not None:
            return ctx.placement_params
        cfg = ctx.config
        units = len(self.units(ctx))
        return SystemParams(
            n_dimms=units,
            # the GPU model's streaming rate (its time is affine in bytes: size / rate + a
            # fixed fill, which goes into the fixed term below)
            gpu_bandwidth_gbps=ctx.gpu.achievable_gbps(2**30),
            dimm_bandwidth_gbps=self.cold_unit_gbps(ctx),
            gpu_weight_budget_bytes=int(cfg.gpu_weight_budget_gib * GIB),
            dimm_capacity_bytes=int(self.cold_capacity_bytes(ctx) / units),
            # the objective's GPU term carries 2 T_sync: the host sync plus half the GPU side's
            # fixed per-block cost, so the plan sees the rates the timeline charges
            t_sync_s=(cfg.sync.latency_ns + 0.5 * self.gpu_block_fixed_ns(ctx)) * 1e-9,
            pcie_gbps=ctx.pcie.config.effective_gbps("h2d"),
            dimm_link_gbps=ctx.dimm_link.config.link_gbps,
        )

    def counts(self, ctx: SimContext) -> WorkCounts:
        """Per-token work; with ``workload.placement_feedback`` (ILP only) the placement is
        solved twice: the second plan's cold-unit rate is divided by the ratio of the cold
        units' to the GPU's realised time under the first plan (see :func:`realised_ratio`)."""
        w = ctx.config.workload
        params = self.plan_params(ctx)
        return self._run_counts(ctx, params, w.adjust, w.remap)

    def _sample_tokens(self, ctx: SimContext, max_sample: int | None = None) -> int:
        w = ctx.config.workload
        steps = max(1, ctx.run.decode_steps)
        sample = steps if w.sample_tokens == 0 else min(w.sample_tokens, steps)
        return sample if max_sample is None else min(sample, max_sample)

    def _count_args(self, ctx: SimContext, system: SystemParams, adjust: bool, remap: bool,
                    max_sample: int | None = None) -> dict:
        w = ctx.config.workload
        return dict(
            batch=ctx.batch, prompt_tokens=ctx.run.input_tokens,
            sample_tokens=self._sample_tokens(ctx, max_sample), system=system,
            predictor=w.predictor, predictor_options=w.predictor_options, placement=w.placement,
            placement_options=w.placement_options, adjust=adjust, remap=remap,
            window=w.window_tokens, source=w.source, source_options=w.source_options,
            seed=w.seed)

    def _run_counts(self, ctx: SimContext, system: SystemParams, adjust: bool, remap: bool,
                    max_sample: int | None = None) -> WorkCounts:
        return work_counts(ctx.model, **self._count_args(ctx, system, adjust, remap, max_sample))

    def plan_params(self, ctx: SimContext) -> SystemParams:
        """The SystemParams the placement is solved with (after the feedback step)."""
        w = ctx.config.workload
        params = self.system_params(ctx)

        if w.placement_feedback and w.placement == "ilp" and ctx.placement_params is None:
            # the offline plan is corrected once from the ILP-only run, so every ablation
            # step (+adjust, +remap) starts from the same plan. The activation trace does not
            # depend on the plan: the feedback pass reads the first decode tokens of the final
            # run's trace (generated once, memoised in hermes_hw.systems.work).
            args = self._count_args(ctx, params, False, False, FEEDBACK_SAMPLE_TOKENS)
            first = work_counts(ctx.model, **args,
                                trace_decode_tokens=self._sample_tokens(ctx))
            ratio = realised_ratio(ctx, first, params, self.gpu_block_fixed_ns(ctx))
            ctx.info["placement_feedback_ratio"] = ratio
            params = replace(params, dimm_bandwidth_gbps=params.dimm_bandwidth_gbps / ratio)
        ctx.info["placement_dimm_gbps"] = params.dimm_bandwidth_gbps
        return params

    def dense_attention_gpu_layers(self, ctx: SimContext) -> int | None:
        """Leading layers whose dense attention is on the GPU (Hermes-host's
        ``host.attention: dense_gpu_first``); None: attention split like the MLP (QKV rows
        placed by the ILP, output projection on the GPU)."""
        return None

    def attention_resident_bytes(self, ctx: SimContext) -> np.ndarray:
        """GPU bytes per layer of the attention weights the placement does not choose: the
        output projections (GPU-only, paper §1 step 3)."""
        return np.full(ctx.model.num_layers, float(ctx.o_proj_bytes))

    def gpu_predictor_bytes(self, ctx: SimContext) -> int:
        """GPU bytes of predictor weights (Hermes' table predictor runs on the host: none)."""
        return 0

    def mlp_predictor_plan(self, ctx: SimContext) -> MlpPredictorPlan | None:
        """Where each layer's MLP prediction runs, if not on the host's table predictor."""
        return None

    # --- dataflow ---------------------------------------------------------------------------
    def build(self, ctx: SimContext) -> None:
        wc = self.counts(ctx)
        m = ctx.model
        bpn = np.array([g.bytes_per_neuron for g in m.blocks], dtype=np.int64)
        resident = np.zeros(m.num_layers)
        for b, g in enumerate(m.blocks):
            resident[g.layer] += wc.gpu_resident[b] * bpn[b]
        resident += self.attention_resident_bytes(ctx)
        during = prefill_residency(ctx, reserved_bytes=self.gpu_predictor_bytes(ctx))
        off = ctx.config.offload
        end = prefill_with_streaming(ctx, during, h2d_efficiency=off.h2d_efficiency,
                                     overlap=off.overlap, kv_to_host=True)
        end = load_hot_copies(ctx, resident, during, end)
        ctx.info["workload"] = wc.totals
        ctx.info["predictor_cost"] = wc.predictor_cost
        ctx.info["work_samples"] = wc.samples
        ctx.info["gpu_resident_neuron_bytes"] = int((wc.gpu_resident * bpn).sum())
        if self.gpu_predictor_bytes(ctx):
            ctx.info["gpu_predictor_bytes"] = self.gpu_predictor_bytes(ctx)
        flow = _Flow(ctx, self.units(ctx), self.time_model(ctx), wc, bpn,
                     dense_attention_gpu_layers=self.dense_attention_gpu_layers(ctx),
                     mlp_predictor=self.mlp_predictor_plan(ctx))
        for step in range(ctx.run.decode_steps):
            end = flow.token(step, end)


def dimm_time_model(ctx: SimContext) -> DimmTimeModel:
    """The DIMM op timing the config names (``dimm_model``)."""
    cfg = ctx.config
    if cfg.dimm_model == "bandwidth":
        return BandwidthDimmModel(cfg.ndp)
    if cfg.dimm_model == "fast":
        from hermes_hw.systems.dimm_fast import fast_dimm_model

        tm = fast_dimm_model(ctx.model, ndp=cfg.ndp, dram_config=cfg.dram_config,
                             n_dimms=cfg.n_dimms, batch=ctx.batch,
                             prompt_tokens=ctx.run.input_tokens, seed=cfg.workload.seed)
        ctx.info["dimm_model"] = tm.describe()
        return tm
    if cfg.dimm_model == "cycle":
        return cycle_time_model(ctx)
    check_dimm_model(ctx)
    raise AssertionError(cfg.dimm_model)  # pragma: no cover (the schema admits three ids)


def cycle_time_model(ctx: SimContext) -> DimmTimeModel:
    """Cycle-level replay of this run's lowered work lists (hermes_hw/systems/dimm_cycle.py):
    the same workload arguments :meth:`Hermes.counts` reduced, every decode step."""
    from hermes_hw.systems.base import make_system
    from hermes_hw.systems.dimm_cycle import cycle_dimm_model

    check_dimm_model(ctx)
    cfg, w = ctx.config, ctx.config.workload
    impl = make_system(cfg.system)
    if not isinstance(impl, Hermes):
        raise InputError(f"dimm_model 'cycle': system '{cfg.system}' does not have the Hermes "
                         "dataflow's work lists to lower; use 'fast' or 'bandwidth'")
    params = impl.plan_params(ctx)
    work_args = impl._count_args(ctx, params, w.adjust, w.remap)
    wc = impl._run_counts(ctx, params, w.adjust, w.remap)  # memoised: the run's own counts
    tm = cycle_dimm_model(ctx.model, ndp=cfg.ndp, dram_config=cfg.dram_config,
                          n_dimms=cfg.n_dimms, batch=ctx.batch, prompt_tokens=ctx.run.input_tokens,
                          steps=ctx.run.decode_steps, work_args=work_args,
                          fallback=BandwidthDimmModel(cfg.ndp), counts=wc)
    ctx.info["dimm_model"] = tm.describe()
    return tm


def check_dimm_model(ctx: SimContext) -> None:
    """One-line error for a DIMM timing model the merged timeline cannot use: 'cycle' replays
    the lowered sparse Hermes dataflow, which hermes-base's dense blocks (the output projection
    on the DIMMs among them) do not have."""
    cfg = ctx.config
    if cfg.dimm_model == "cycle" and cfg.system == "hermes-base":
        raise InputError("dimm_model 'cycle': hermes-base runs dense FC blocks (the output "
                         "projection on the DIMMs too), which the lowering (hermes_hw/lowering) "
                         "does not produce; use 'fast' (fitted to cycle-level runs) or "
                         "'bandwidth' for hermes-base")


def realised_ratio(ctx: SimContext, wc: WorkCounts, params: SystemParams,
                   gpu_fixed_ns: float) -> float:
    """(cold units' time) / (GPU time) summed over the split blocks where both sides work,
    under the plan's own rates and the work the plan realised (counts per sampled token).

    The ILP balances the two with profiled frequencies; the predicted-active sets met in decode
    load the two sides differently, so the realised ratio is not 1. Where the GPU's capacity
    binds the ratio measures capacity, not a planning error (docs/calibration.md). Clipped to
    [0.5, 4]."""
    bpn = np.array([g.bytes_per_neuron for g in ctx.model.blocks], dtype=np.float64)
    gpu_ns = wc.gpu * bpn / params.gpu_bandwidth_gbps + gpu_fixed_ns
    cold_ns = wc.dimm.max(axis=2) * bpn / params.dimm_bandwidth_gbps
    both = (wc.gpu > 0) & (wc.dimm.max(axis=2) > 0)
    if not both.any():
        return 1.0
    return float(np.clip(cold_ns[both].sum() / gpu_ns[both].sum(), 0.5, 4.0))


def prefill_residency(ctx: SimContext, reserved_bytes: float = 0.0) -> np.ndarray:
    """Bytes of each layer on the GPU during prefill: conventional offloading (paper §1), the
    GPU weight budget less the LM head (and ``reserved_bytes`` held for the whole run, e.g.
    Hermes-host's PowerInfer predictors) holds whole layers from the first, the rest streams.
    Independent of the decode placement (it is loaded after prefill: :func:`load_hot_copies`)."""
    m = ctx.model
    free = ctx.gpu_budget_after_lm_head_bytes - reserved_bytes
    out = np.zeros(m.num_layers)
    for layer in range(m.num_layers):
        if free <= 0:
            break
        out[layer] = min(free, ctx.layer_weight_bytes)
        free -= out[layer]
    return out


def load_hot_copies(ctx: SimContext, placed: np.ndarray, during: np.ndarray, dep: int) -> int:
    """After prefill the placement's GPU copies (hot neurons, output projections) that were not
    resident during prefill are copied to the GPU (paper §1: "afterwards only the chosen hot
    neurons are loaded"), at the prefill streaming rate; part of the prefill phase."""
    nbytes = float(np.maximum(placed - during, 0.0).sum())
    if nbytes <= 0:
        return dep
    cfg = ctx.pcie.config
    eff = ctx.config.offload.h2d_efficiency or cfg.h2d_efficiency
    return ctx.timeline.add("pcie.h2d", cfg.latency("h2d") + nbytes / (cfg.raw_gbps * eff),
                            name="load hot neurons", category="prefill", deps=[dep],
                            phase="prefill", args={"nbytes": int(nbytes)})


class _Flow:
    """The per-token event builder (kept apart so systems can reuse it).

    ``replay_tokens`` (class attribute, default True): run each work sample's token program
    (:meth:`token`); False builds every token directly (the tests compare the two).

    ~750k events for a LLaMA2-70B run: lane and category indices, op durations, PCIe times and
    event ``args`` are resolved once and reused (the timeline never mutates ``args``).

    DIMM event durations come from the time model's op-level ``op_time_ns``, or, when it has
    the per-event hook (``role_times_ns``, dimm_time.py; the cycle-level model), from that hook
    for every DIMM event, plus one "promote + remap" event per layer and DIMM after attention
    (the promotion and remapping reads the analytical models leave off the DIMM lanes)."""

    replay_tokens = True

    def __init__(self, ctx: SimContext, units: list[str], tm: DimmTimeModel, wc: WorkCounts,
                 bpn: np.ndarray, dense_attention_gpu_layers: int | None = None,
                 mlp_predictor: MlpPredictorPlan | None = None) -> None:
        self.ctx, self.units, self.tm, self.wc, self.bpn = ctx, units, tm, wc, bpn
        self.dense_gpu_layers = dense_attention_gpu_layers
        self.mlp_pred = mlp_predictor  # None: the host's table predictor
        m = ctx.model
        self.U = len(units)
        self.qkv_out = m.q_dim + 2 * m.kv_dim
        self.wpn = [m.attention_weights_per_neuron, m.mlp_weights_per_neuron]
        self.up_factor = 2 if m.arch.mlp == "gated" else 1
        self.sync_ns = ctx.config.sync.latency_ns
        self.pred_ns = ctx.config.workload.predictor_ns_per_neuron
        self.link = ctx.dimm_link
        self.role_ns = role_hook(tm)
        self._memo: dict = {}
        self._unit_lanes: list[int] | None = None  # lane ids, resolved on first use
        self._lanes: dict[str, int] = {}
        self._gemv: dict = {}  # (sample, block) -> (durations per unit, args per unit)
        self._pcie_memo: dict = {}  # (direction, nbytes) -> (duration, args)
        self._ring_memo: dict = {}  # (nbytes, name) -> (duration, [(src lane, dst, args)])
        self._cat = {c: category_index(c) for c in CATEGORIES}
        self._programs: dict[int, TokenProgram] = {}  # work sample -> its token's program
        self.tl = ctx.timeline  # where the builder adds events (a ProgramBuilder while writing)
        # per-token remap moves as (block, src, dst, count), precomputed per sample
        self.moves = []
        self.moves_by_block: list[dict[int, list[tuple[int, int, int]]]] = []
        for s in range(wc.samples):
            nz = np.argwhere(wc.remap[s] > 0)
            moves = {(int(b), int(i), int(j)): int(wc.remap[s][b, i, j]) for b, i, j in nz}
            self.moves.append(moves)
            by_block: dict[int, list[tuple[int, int, int]]] = {}
            for (b, i, j), n in moves.items():
                by_block.setdefault(b, []).append((i, j, n))
            self.moves_by_block.append(by_block)

    def _lane(self, name: str) -> int:
        li = self._lanes.get(name)
        if li is None:
            li = self._lanes[name] = self.ctx.timeline.lane_id(name)
        return li

    def _op_ns(self, j: int, op: DimmOp) -> float:
        key = (j, op)
        t = self._memo.get(key)
        if t is None:
            t = self._memo[key] = self.tm.op_time_ns(j, op)
        return t

    def _op_args(self, op: DimmOp) -> dict | None:
        return {"read_bytes": op.read_bytes, "macs": op.macs} if op.read_bytes else None

    def _unit_ops(self, name: str, ops: list[DimmOp], deps_per_unit, category: str, token: int,
                  layer: int) -> list[int]:
        durations = [self._op_ns(j, op) for j, op in enumerate(ops)]
        return self._unit_events(name, durations, [self._op_args(op) for op in ops],
                                 deps_per_unit, category, token, layer)

    def _role(self, role: str, step: int, layer: int, durations: list[float]) -> list[float]:
        """The DIMM durations of one event: the role hook's if the model has one."""
        return durations if self.role_ns is None else self.role_ns(role, step, layer)

    def _unit_events(self, name: str, durations: list[float], args: list, deps_per_unit,
                     category: str, token: int, layer: int) -> list[int]:
        if self._unit_lanes is None:
            self._unit_lanes = [self._lane(u) for u in self.units]
        return self.tl.add_group(self._unit_lanes, durations, name, self._cat[category],
                                 deps_per_unit, token, layer, args)

    def _gemv_ops(self, s: int, b: int, kind: int, n_per_unit: np.ndarray, B: int
                  ) -> tuple[list[float], list]:
        """Durations and event args of block ``b``'s cold GEMV on every unit (sample ``s``)."""
        key = (s, b)
        hit = self._gemv.get(key)
        if hit is None:
            bp = int(self.bpn[b])
            if kind == 0:
                ops = [DimmOp("gemv", read_bytes=int(n) * bp, macs=int(n) * self.wpn[0] * B,
                              segments=int(n)) for n in n_per_unit]
            else:
                ops = [DimmOp("gemv", read_bytes=int(n) * bp, macs=int(n) * self.wpn[1] * B,
                              vector_ops=int(n) * B, segments=int(n)) for n in n_per_unit]
            hit = self._gemv[key] = ([self._op_ns(j, op) for j, op in enumerate(ops)],
                                     [self._op_args(op) for op in ops])
        return hit

    def _ring(self, nbytes: float, deps: list[int], name: str, token: int, layer: int
              ) -> list[int]:
        """Each unit sends ``nbytes`` to its ring neighbour; returns the arrival event per
        receiving unit (NO_EVENT when there is one unit)."""
        if self.U < 2 or nbytes <= 0:
            return [-1] * self.U
        key = (nbytes, name)
        hit = self._ring_memo.get(key)
        if hit is None:
            cfg = self.link.config
            sends = []
            for j in range(self.U):
                k = (j + 1) % self.U
                sends.append((self._lane(self.link.lane(j, k)), k,
                              {"nbytes": nbytes, "src": f"dimm{j}", "dst": f"dimm{k}"}))
            hit = self._ring_memo[key] = (cfg.hop_latency_ns + nbytes / cfg.link_gbps, sends)
        dur, sends = hit
        add, ci = self.tl.add_on, self._cat["communication"]
        arrivals = [-1] * self.U
        for li, k, args in sends:
            arrivals[k] = add(li, dur, name, ci, deps, 0.0, "decode", token, layer, args)
        return arrivals

    def _pcie(self, direction: str, nbytes: float, deps: list[int], name: str, token: int,
              layer: int) -> int:
        key = (direction, nbytes)
        hit = self._pcie_memo.get(key)
        if hit is None:
            hit = self._pcie_memo[key] = (self._lane(f"pcie.{direction}"),
                                          self.ctx.pcie.duration_ns(int(nbytes), direction),
                                          {"nbytes": int(nbytes)})
        li, dur, args = hit
        return self.tl.add_on(li, dur, name, self._cat["communication"], deps, 0.0,
                              "decode", token, layer, args)

    def _host(self, duration_ns: float, name: str, category: str, deps: list[int], token: int,
              layer: int) -> int:
        return self.tl.add_on(self._lane("host"), duration_ns, name, self._cat[category], deps,
                              0.0, "decode", token, layer)

    def _remap(self, s: int, layer: int, dep: int, token: int) -> None:
        tl, cfg = self.tl, self.link.config
        by_block = self.moves_by_block[s]
        for b in (2 * layer, 2 * layer + 1):
            for i, j, n in by_block.get(b, ()):
                nbytes = n * int(self.bpn[b])
                hops = self.link.route(i, j)
                first = None
                for k, (a, c) in enumerate(hops):
                    nb = tl.add(self.link.lane(a, c), cfg.hop_latency_ns + nbytes / cfg.link_gbps,
                                name="remap", category="communication",
                                deps=[dep] if first is None else [],
                                not_before_ns=0.0 if first is None else
                                tl.start_of(first) + k * cfg.hop_latency_ns,
                                token=token, layer=layer,
                                args={"nbytes": nbytes, "neurons": n, "src": f"dimm{i}",
                                      "dst": f"dimm{j}"})
                    first = nb if first is None else first

    def token(self, step: int, start_dep: int) -> int:
        """Add decode token ``step``'s events after ``start_dep``; returns its last event.

        The builder writes each work sample's token once, as a program
        (hermes_hw/timeline/program.py); every token runs its sample's program with its own
        attention durations and args (the only per-token values). ``replay_tokens = False``
        (or the cycle-level DIMM model, whose durations are per event, or a run whose samples
        are each used once) builds every token directly on the timeline instead; both give the
        same events (tests/systems/test_token_programs.py)."""
        tl = self.ctx.timeline
        s = step % self.wc.samples
        attn_ns, attn_args = self._attention(step)
        if (not self.replay_tokens or self.role_ns is not None
                or self.wc.samples >= self.ctx.run.decode_steps):  # no sample is used twice
            return self._build_token(step, start_dep, attn_ns, attn_args)
        prog = self._programs.get(s)
        if prog is None:
            self.tl = ProgramBuilder(tl, step)
            try:
                result = self._build_token(step, ProgramBuilder.START, attn_ns, attn_args)
                prog = self._programs[s] = self.tl.finish(result)
            finally:
                self.tl = tl
        return run_program(tl, prog, start_dep, step, {"attn": attn_ns, "attn_args": attn_args})

    def _attention(self, step: int) -> tuple[ParamList, ParamList]:
        """Per-unit durations (ns) and args of decode token ``step``'s attention on the DIMMs
        (its KV reads grow with the token's KV length)."""
        ctx, m, U, B = self.ctx, self.ctx.model, self.U, self.ctx.batch
        kv_len = ctx.run.input_tokens + step + 1
        heads, kvh, hd = m.arch.num_attention_heads, m.num_kv_heads, m.head_dim
        attn_op = DimmOp("attention",
                         read_bytes=B * kv_len * 2 * kvh * hd * 2 / U,
                         write_bytes=B * 2 * kvh * hd * 2 / U,
                         macs=2 * B * heads * kv_len * hd / U,
                         vector_ops=3 * B * heads * kv_len / U,
                         segments=2 * B * max(1.0, kvh / U))
        return (ParamList("attn", [self._op_ns(j, attn_op) for j in range(U)]),
                ParamList("attn_args", [self._op_args(attn_op)] * U))

    def _build_token(self, step: int, start_dep: int, attn_ns: list[float], attn_args: list
                     ) -> int:
        ctx, tl, wc, m = self.ctx, self.tl, self.wc, self.ctx.model
        B, U, h = ctx.batch, self.U, m.hidden_size
        s = step % wc.samples
        gpu_n, dimm_n, prom = wc.gpu[s], wc.dimm[s], wc.promoted[s]
        merge = DimmOp("merge", vector_ops=B * self.qkv_out * 2 / U)
        merge_ns, no_args = [self._op_ns(j, merge) for j in range(U)], [None] * U
        red = DimmOp("merge", vector_ops=B * h * 2)
        red_ns = [self._op_ns(j, red) for j in range(U)]
        gpu_li, cat = self._lane("gpu"), self._cat
        qkv_vec, h_vec = ctx.vec_bytes(self.qkv_out), ctx.vec_bytes(h)
        q_vec = ctx.vec_bytes(m.q_dim)
        qkv_ring = ctx.vec_bytes(self.qkv_out) * (U - 1) / U
        h_ring = ctx.vec_bytes(h) * 2 * (U - 1) / U
        pred_qkv_ns, pred_mlp_ns = m.hidden_size * self.pred_ns, m.ffn_size * self.pred_ns
        proj = ctx.gpu_kernel("gemv", h, m.q_dim, B)
        proj_args = {"nbytes": proj.nbytes}
        remap = bool(self.moves[s]) and U > 1
        out = [start_dep] * U
        for layer in range(m.num_layers):
            if self.dense_gpu_layers is not None:
                out = self._dense_attention_layer(step, layer, out, attn_ns, attn_args)
                continue
            ba, bm = 2 * layer, 2 * layer + 1
            ready = tl.join(out)
            # 1. QKV split
            pa = self._host(pred_qkv_ns, "predict QKV", "predictor", [ready], step, layer)
            x = self._pcie("h2d", h_vec, [ready], "layer input", step, layer)
            g = x
            if gpu_n[ba]:
                est = ctx.gpu_kernel("sparse_gemv", int(gpu_n[ba]), self.qkv_out, B)
                g = tl.add_on(gpu_li, est.time_ns, "QKV hot", cat["fc"], [x, pa], 0.0,
                              "decode", step, layer,
                              {"neurons": int(gpu_n[ba]), "nbytes": est.nbytes})
            durs, args = self._gemv_ops(s, ba, 0, dimm_n[ba], B)
            uq = self._unit_events("QKV cold", self._role("qkv_cold", step, layer, durs), args,
                                   [[out[j], pa] for j in range(U)], "fc", step, layer)
            gp = self._pcie("d2h", qkv_vec, [g], "QKV partial", step, layer)
            sy = self._host(self.sync_ns, "sync QKV", "others", [gp, *uq], step, layer)
            rs = self._ring(qkv_ring, [sy], "QKV reduce-scatter", step, layer)
            mq = self._unit_events("QKV merge", self._role("qkv_merge", step, layer, merge_ns),
                                   no_args, [[sy, rs[j]] for j in range(U)], "others", step,
                                   layer)
            # 2. attention on the DIMMs
            at = self._unit_events("attention", self._role("attention", step, layer, attn_ns),
                                   attn_args, [[mq[j]] for j in range(U)], "attention", step,
                                   layer)
            at_end = tl.join(at)
            if self.role_ns is not None:  # DIMM reads of promotions/remaps, during the projection
                pr = self.role_ns("promote_remap", step, layer)
                if any(pr):
                    self._unit_events("promote + remap", pr, no_args, [[at_end]] * U,
                                      "communication", step, layer)
            # 3. output projection on the GPU; promotion and remapping hidden behind it
            so = self._host(self.sync_ns, "sync attention", "others", [at_end], step, layer)
            ao = self._pcie("h2d", q_vec, [so], "attention output", step, layer)
            o = tl.add_on(gpu_li, proj.time_ns, "output projection", cat["fc"], [ao, g], 0.0,
                          "decode", step, layer, proj_args)
            pbytes = int(prom[ba]) * int(self.bpn[ba]) + int(prom[bm]) * int(self.bpn[bm])
            if pbytes:
                self._pcie("h2d", pbytes, [so], "promote hot neurons", step, layer)
            if remap:
                self._remap(s, layer, at_end, step)
            od = self._pcie("d2h", h_vec, [o], "projection output", step, layer)
            # 4. MLP split
            mp = self.mlp_pred
            if mp is None:
                pm = self._host(pred_mlp_ns, "predict MLP", "predictor", [at_end], step, layer)
                pc = pm
            elif layer < mp.gpu_layers:  # PowerInfer's predictor in VRAM; output to the CPU
                pm = tl.add_on(gpu_li, mp.gpu_ns, "predict MLP", cat["predictor"], [o], 0.0,
                               "decode", step, layer, mp.gpu_args)
                pc = self._pcie("d2h", ctx.vec_bytes(m.ffn_size), [pm], "predicted neurons",
                                step, layer)
            else:  # its predictor did not fit in VRAM: on the CPU, output to the GPU
                pc = tl.join(self._unit_ops("predict MLP", [mp.cold_op] * U,
                                            [[od]] * U, "predictor", step, layer))
                pm = self._pcie("h2d", ctx.vec_bytes(m.ffn_size), [pc], "predicted neurons",
                                step, layer)
            gm = o
            if gpu_n[bm]:
                n = int(gpu_n[bm])
                up = ctx.gpu_kernel("sparse_gemv", n * self.up_factor, h, B)
                down = ctx.gpu_kernel("sparse_gemv", n, h, B)
                gm = tl.add_on(gpu_li, up.time_ns + down.time_ns, "MLP hot", cat["fc"], [o, pm],
                               0.0, "decode", step, layer,
                               {"neurons": n, "nbytes": up.nbytes + down.nbytes})
            durs, args = self._gemv_ops(s, bm, 1, dimm_n[bm], B)
            um = self._unit_events("MLP cold", self._role("mlp_cold", step, layer, durs), args,
                                   [[od, pc, at[j]] for j in range(U)], "fc", step, layer)
            # 5. merge GPU + DIMM partial sums, reduce across DIMMs
            gp2 = self._pcie("d2h", h_vec, [gm], "MLP partial", step, layer)
            sm = self._host(self.sync_ns, "sync MLP", "others", [gp2, *um], step, layer)
            ar = self._ring(h_ring, [sm], "all-reduce", step, layer)
            out = self._unit_events("merge + reduce",
                                    self._role("merge_reduce", step, layer, red_ns), no_args,
                                    [[sm, ar[j]] for j in range(U)], "others", step, layer)
        x = self._pcie("h2d", h_vec, [tl.join(out)], "final hidden", step, -1)
        return lm_head_step(ctx, x, step, tl=tl)


    def _dense_attention_layer(self, step: int, layer: int, out: list[int],
                               attn_ns: list[float], attn_args: list) -> list[int]:
        """One decode layer with PowerInfer's attention placement (``host.attention:
        dense_gpu_first``): dense QKV and output projection on the GPU for the leading
        ``dense_gpu_layers`` layers, on the cold unit (the CPU) for the rest; attention scores
        on the cold unit; the MLP split by the placement (GPU hot / CPU cold)."""
        ctx, tl, wc, m = self.ctx, self.tl, self.wc, self.ctx.model
        B, U, h = ctx.batch, self.U, m.hidden_size
        s = step % wc.samples
        ba, bm = 2 * layer, 2 * layer + 1
        gpu_li, cat = self._lane("gpu"), self._cat
        on_gpu = layer < self.dense_gpu_layers
        ready = tl.join(out)
        qkv_bytes = int(self.bpn[ba]) * h
        # 1. QKV, dense
        if on_gpu:
            x = self._pcie("h2d", ctx.vec_bytes(h), [ready], "layer input", step, layer)
            est = ctx.gpu_kernel("gemv", self.qkv_out, h, B)
            g = tl.add_on(gpu_li, est.time_ns, "QKV dense", cat["fc"], [x], 0.0, "decode",
                          step, layer, {"nbytes": est.nbytes})
            gq = self._pcie("d2h", ctx.vec_bytes(self.qkv_out), [g], "QKV output", step, layer)
            qkv_deps = [[gq]] * U
        else:
            op = DimmOp("gemv", read_bytes=qkv_bytes, macs=h * self.qkv_out * B, segments=1)
            q = self._unit_ops("QKV dense", [op] * U, [[out[j]] for j in range(U)], "fc", step,
                               layer)
            qkv_deps = [[q[j]] for j in range(U)]
        # 2. attention on the cold unit (KV cache in host memory)
        at = self._unit_events("attention", self._role("attention", step, layer, attn_ns),
                               attn_args, qkv_deps, "attention", step, layer)
        at_end = tl.join(at)
        # 3. output projection, dense, where the layer's attention weights are
        o = -1
        if on_gpu:
            so = self._host(self.sync_ns, "sync attention", "others", [at_end], step, layer)
            ao = self._pcie("h2d", ctx.vec_bytes(m.q_dim), [so], "attention output", step,
                            layer)
            proj = ctx.gpu_kernel("gemv", h, m.q_dim, B)
            o = tl.add_on(gpu_li, proj.time_ns, "output projection", cat["fc"], [ao], 0.0,
                          "decode", step, layer, {"nbytes": proj.nbytes})
            pbytes = int(wc.promoted[s][bm]) * int(self.bpn[bm])
            if pbytes:
                self._pcie("h2d", pbytes, [so], "promote hot neurons", step, layer)
            od = self._pcie("d2h", ctx.vec_bytes(h), [o], "projection output", step, layer)
        else:
            op = DimmOp("gemv", read_bytes=ctx.o_proj_bytes, macs=m.q_dim * h * B, segments=1)
            oc = self._unit_ops("output projection", [op] * U, [[at[j]] for j in range(U)],
                                "fc", step, layer)
            od = tl.join(oc)
        # 4. MLP split by the placement (no GPU neurons unless every layer's attention fitted)
        pm = self._host(m.ffn_size * self.pred_ns, "predict MLP", "predictor", [at_end], step,
                        layer)
        n = int(wc.gpu[s][bm])
        gm = o
        if n and on_gpu:
            up = ctx.gpu_kernel("sparse_gemv", n * self.up_factor, h, B)
            down = ctx.gpu_kernel("sparse_gemv", n, h, B)
            gm = tl.add_on(gpu_li, up.time_ns + down.time_ns, "MLP hot", cat["fc"], [o, pm],
                           0.0, "decode", step, layer,
                           {"neurons": n, "nbytes": up.nbytes + down.nbytes})
        durs, args = self._gemv_ops(s, bm, 1, wc.dimm[s][bm], B)
        um = self._unit_events("MLP cold", self._role("mlp_cold", step, layer, durs), args,
                               [[od, pm, at[j]] for j in range(U)], "fc", step, layer)
        if not on_gpu:
            return um  # the whole layer ran on the cold unit: nothing to merge
        # 5. merge the GPU's partial MLP output into the layer output on the cold unit
        gp2 = self._pcie("d2h", ctx.vec_bytes(h), [gm], "MLP partial", step, layer)
        sm = self._host(self.sync_ns, "sync MLP", "others", [gp2, *um], step, layer)
        red = DimmOp("merge", vector_ops=B * h * 2)
        return self._unit_ops("merge + reduce", [red] * U, [[sm]] * U, "others", step, layer)


class HermesHost(Hermes):
    """Hermes-host (PowerInfer-style): the cold neurons and attention run on the host CPU."""

    def units(self, ctx: SimContext) -> list[str]:
        return ["cpu"]

    def time_model(self, ctx: SimContext) -> DimmTimeModel:
        from hermes_hw.systems.config import load_cpu_profile

        return CpuTimeModel(load_cpu_profile(ctx.config.cpu))

    def cold_capacity_bytes(self, ctx: SimContext) -> float:
        return ctx.config.host_memory_gib * GIB

    def cold_unit_gbps(self, ctx: SimContext) -> float:
        from hermes_hw.systems.config import load_cpu_profile

        cpu = load_cpu_profile(ctx.config.cpu)
        return cpu.memory_bandwidth_gbps * cpu.bandwidth_efficiency

    # --- PowerInfer's attention placement (host.attention: dense_gpu_first) ----------------
    def _dense(self, ctx: SimContext) -> bool:
        return ctx.config.host.attention == "dense_gpu_first"

    def layer_attention_bytes(self, ctx: SimContext) -> int:
        """Dense attention weights of one layer: QKV (every input row) + output projection."""
        qkv = ctx.model.neuron_group("attention", 0).total_bytes
        return int(qkv + ctx.o_proj_bytes)

    def dense_attention_gpu_layers(self, ctx: SimContext) -> int | None:
        """PowerInfer (llama.cpp ``buffered_tensor_allocator::flush``) offloads the attention
        tensors first, layer by layer from layer 0, and stops at the first that does not fit;
        here the budget is ``gpu_weight_budget_gib`` less the LM head (kept on the GPU as in
        every Hermes-family system)."""
        if not self._dense(ctx):
            return None
        m = ctx.model
        free = ctx.gpu_budget_after_lm_head_bytes
        return int(min(m.num_layers, max(0.0, free) // self.layer_attention_bytes(ctx)))

    def mlp_gpu_budget_bytes(self, ctx: SimContext) -> int:
        """GPU bytes left for hot MLP neurons: what the attention left, and nothing if any
        layer's attention did not fit (PowerInfer disables the FFN split when the dense
        tensors' offload is incomplete: ``llm_load_gpu_split(..., !tensor_offload_complete)``)."""
        m, k = ctx.model, self.dense_attention_gpu_layers(ctx)
        if k is None or k < m.num_layers:
            return 0
        free = ctx.gpu_budget_after_lm_head_bytes - m.num_layers * self.layer_attention_bytes(ctx)
        return int(max(0.0, free))

    def attention_resident_bytes(self, ctx: SimContext) -> np.ndarray:
        k = self.dense_attention_gpu_layers(ctx)
        if k is None:
            return super().attention_resident_bytes(ctx)
        out = np.zeros(ctx.model.num_layers)
        out[:k] = self.layer_attention_bytes(ctx)
        return out

    # --- PowerInfer's MLP predictors (host.predictor: powerinfer_mlp) ----------------------
    def _mlp_predictor(self, ctx: SimContext) -> bool:
        return ctx.config.host.predictor == "powerinfer_mlp"

    def predictor_shape(self, ctx: SimContext):
        """Per-layer predictor shape (hermes_hw/systems/host_predictor.py); None: table."""
        if not self._mlp_predictor(ctx):
            return None
        from hermes_hw.systems.host_predictor import predictor_shape

        return predictor_shape(ctx.model, ctx.config.host.predictor_share)

    def predictor_gpu_layers(self, ctx: SimContext) -> int:
        """Leading layers whose predictor is in VRAM: PowerInfer's allocator gives the budget
        to the dense tensors first (here the GPU-only output projections and LM head), then to
        the predictors layer by layer, then to the hot neurons."""
        shape = self.predictor_shape(ctx)
        if shape is None:
            return 0
        return shape.gpu_layers(ctx.config.gpu_weight_budget_gib * GIB
                                - ctx.model.gpu_dense_bytes)

    def gpu_predictor_bytes(self, ctx: SimContext) -> int:
        shape = self.predictor_shape(ctx)
        return 0 if shape is None else self.predictor_gpu_layers(ctx) * shape.bytes_per_layer

    def mlp_predictor_plan(self, ctx: SimContext) -> MlpPredictorPlan | None:
        """d_model -> hidden and hidden -> n_ffn, dense: on the GPU timing model for the
        layers in VRAM, one CPU operator for the rest."""
        shape = self.predictor_shape(ctx)
        if shape is None:
            return None
        kernels = (ctx.gpu_kernel("gemv", shape.hidden, shape.d_model, ctx.batch),
                   ctx.gpu_kernel("gemv", shape.n_ffn, shape.hidden, ctx.batch))
        cold = DimmOp("gemv", read_bytes=shape.bytes_per_layer,
                      macs=shape.hidden * (shape.d_model + shape.n_ffn) * ctx.batch, segments=1)
        return MlpPredictorPlan(gpu_layers=self.predictor_gpu_layers(ctx),
                                gpu_ns=sum(k.time_ns for k in kernels),
                                gpu_args={"nbytes": sum(k.nbytes for k in kernels)},
                                cold_op=cold)

    def check(self, ctx: SimContext) -> None:
        super().check(ctx)
        cfg = ctx.config
        if self._dense(ctx) and cfg.workload.placement not in ("ilp", "greedy"):
            raise InputError(f"host.attention 'dense_gpu_first' needs workload.placement 'ilp' "
                             f"or 'greedy' (it restricts GPU copies to MLP neurons), not "
                             f"'{cfg.workload.placement}'")
        if self._mlp_predictor(ctx):
            if self._dense(ctx):
                raise InputError("host.predictor 'powerinfer_mlp' is implemented with "
                                 "host.attention 'split' only (not 'dense_gpu_first')")
            self.predictor_shape(ctx)  # one-line error for a model without a cited share

    def system_params(self, ctx: SimContext) -> SystemParams:
        params = super().system_params(ctx)
        if ctx.placement_params is not None:
            return params
        if self._dense(ctx):
            # the placement sees only the MLP's share: its GPU capacity (budget less
            # gpu_dense_bytes, hermes_hw/workload/placement/base.py) is the MLP budget
            return replace(params, gpu_weight_budget_bytes=int(
                self.mlp_gpu_budget_bytes(ctx) + ctx.model.gpu_dense_bytes))
        if self._mlp_predictor(ctx):
            # the predictors sit in VRAM for the whole run: the hot neurons get the rest
            return replace(params, gpu_weight_budget_bytes=int(
                params.gpu_weight_budget_bytes - self.gpu_predictor_bytes(ctx)))
        return params

    def _count_args(self, ctx: SimContext, system: SystemParams, adjust: bool, remap: bool,
                    max_sample: int | None = None) -> dict:
        args = super()._count_args(ctx, system, adjust, remap, max_sample)
        if self._dense(ctx):
            args["placement_options"] = {**(args["placement_options"] or {}),
                                         "gpu_kinds": ["mlp"]}
        return args


register_system("hermes-host")(HermesHost)
