"""Deja Vu adapted to offloading (paper §7): FlexGen-style streaming, but for the MLP only the
neurons the Deja Vu predictor selects cross PCIe (gathered rows, at ``dejavu.gather_efficiency``
of the bulk rate), and the per-layer MLP predictor (Linear(d, 1000) -> Linear(1000, ffn),
resident on the GPU) runs before each MLP. Attention weights stream dense. Which neurons the
predictor selects comes from the workload pipeline with the ``dejavu`` predictor cost model
(recall / false-positive rate, hermes_hw.workload.predictors.noisy). With
``dejavu.mlp_residency: budget`` the MLP weights of the first layers stay on the GPU (as many
whole layers' MLPs as the weight budget holds after the LM head and the predictors); those
layers stream only their attention weights.
"""

from __future__ import annotations

import numpy as np

from hermes_hw.systems.base import SimContext, register_system
from hermes_hw.systems.offload import OffloadSystem
from hermes_hw.systems.work import WorkCounts, work_counts
from hermes_hw.workload.placement.base import SystemParams


@register_system("dejavu")
class DejaVu(OffloadSystem):
    def counts(self, ctx: SimContext) -> WorkCounts:
        w = ctx.config.workload
        steps = max(1, ctx.run.decode_steps)
        sample = steps if w.sample_tokens == 0 else min(w.sample_tokens, steps)
        system = SystemParams(n_dimms=1, gpu_weight_budget_bytes=0,
                              dimm_capacity_bytes=int(ctx.config.host_memory_gib * 2**30))
        return work_counts(ctx.model, batch=ctx.batch, prompt_tokens=ctx.run.input_tokens,
                           sample_tokens=sample, system=system, predictor="dejavu",
                           placement="greedy", adjust=False, remap=False, source=w.source,
                           seed=w.seed)

    @staticmethod
    def predictor_bytes(ctx: SimContext) -> int:
        """GPU bytes of every layer's MLP predictor, Linear(d, hidden) -> Linear(hidden, ffn)
        (no bias, FP16)."""
        m, hidden = ctx.model, ctx.config.dejavu.predictor_hidden
        return m.num_layers * m._bytes(hidden * (m.hidden_size + m.ffn_size))

    @staticmethod
    def mlp_layer_bytes(ctx: SimContext) -> int:
        g = ctx.model.neuron_group("mlp", 0)
        return g.count * g.bytes_per_neuron

    def resident(self, ctx: SimContext) -> np.ndarray:
        """Bytes of each layer on the GPU: its MLP weights under ``mlp_residency: budget``
        (first layers first), else as for FlexGen (``offload.gpu_weight_fraction``)."""
        if ctx.config.dejavu.mlp_residency != "budget":
            return super().resident(ctx)
        per = self.mlp_layer_bytes(ctx)
        budget = ctx.gpu_budget_after_lm_head_bytes - self.predictor_bytes(ctx)
        n = min(ctx.model.num_layers, int(max(0.0, budget) // per))
        out = np.zeros(ctx.model.num_layers)
        out[:n] = per
        return out

    def build(self, ctx: SimContext) -> None:
        self.wc = self.counts(ctx)
        m = ctx.model
        self.attn_bytes = m._bytes((m.q_dim + 2 * m.kv_dim) * m.hidden_size
                                   + m.q_dim * m.hidden_size)
        self.bpn_mlp = m.neuron_group("mlp", 0).bytes_per_neuron
        self.mlp_resident = self.resident(ctx) > 0
        ctx.info["mlp_resident_layers"] = int(self.mlp_resident.sum())
        hidden = ctx.config.dejavu.predictor_hidden
        self.pred_est = ctx.gpu_kernel("gemv", hidden, m.hidden_size, ctx.batch)
        self.pred_est2 = ctx.gpu_kernel("gemv", m.ffn_size, hidden, ctx.batch)
        ctx.info["workload"] = self.wc.totals
        ctx.info["predictor_cost"] = self.wc.predictor_cost
        super().build(ctx)

    def _mlp_neurons(self, step: int, layer: int) -> int:
        s = step % self.wc.samples
        b = 2 * layer + 1
        return int(self.wc.gpu[s, b] + self.wc.dimm[s, b].sum())

    def layer_stream_bytes(self, ctx: SimContext, step: int, layer: int) -> float:
        if self.mlp_resident[layer]:
            return self.attn_bytes
        eff = ctx.config.dejavu.gather_efficiency
        return self.attn_bytes + self._mlp_neurons(step, layer) * self.bpn_mlp / eff

    def extra_layer_events(self, ctx: SimContext, step: int, layer: int, dep: int) -> int:
        return ctx.timeline.add("gpu", self.pred_est.time_ns + self.pred_est2.time_ns,
                                name="MLP predictor", category="predictor", deps=[dep],
                                token=step, layer=layer)

    def layer_fc_ns(self, ctx: SimContext, step: int, layer: int, dense_fc_ns: float) -> float:
        m, B = ctx.model, ctx.batch
        n = self._mlp_neurons(step, layer)
        up = 2 if m.arch.mlp == "gated" else 1
        ns = ctx.gpu_kernel("gemv", m.q_dim + 2 * m.kv_dim, m.hidden_size, B).time_ns
        ns += ctx.gpu_kernel("gemv", m.hidden_size, m.q_dim, B).time_ns
        if n:
            ns += ctx.gpu_kernel("sparse_gemv", n * up, m.hidden_size, B).time_ns
            ns += ctx.gpu_kernel("sparse_gemv", n, m.hidden_size, B).time_ns
        return ns
