"""Offloading baselines on the same GPU and host memory: HF Accelerate and FlexGen.

Both keep whole layers on the GPU while they fit (``gpu_weight_budget_gib``, or
``offload.gpu_weight_fraction`` of the weights) and stream every other layer's weights over PCIe
for each forward pass, prefill and every decode step; all compute (dense, no sparsity) and the KV
cache are on the GPU.

* ``accelerate``: device_map offloading with synchronous hooks: copy layer l, then compute it
  (no overlap), at the pageable-copy rate ``offload.h2d_efficiency`` (fitted); which layers stay
  on the GPU follows Accelerate's own ``device_map="auto"`` rule (``offload.residency:
  device_map_auto``, :func:`device_map_auto_layer_budget`).
* ``flexgen``: the same weights moved with double buffering (layer l+1 streams while layer l
  computes), at FlexGen's own achieved rate ``offload.h2d_efficiency`` (fitted; FlexGen reports
  12.89 GB/s CPU->GPU on a T4, peers.md §5).
"""

from __future__ import annotations

import numpy as np

from hermes_hw.systems.base import (
    GIB,
    SimContext,
    System,
    check_batch,
    check_fits,
    check_host_memory,
    dense_decode_kernels,
    lm_head_step,
    prefill_with_streaming,
    register_system,
)


class OffloadSystem(System):
    """Layer-by-layer weight streaming; ``offload.overlap`` picks FlexGen or Accelerate."""

    def check(self, ctx: SimContext) -> None:
        check_batch(ctx)
        cfg = ctx.config
        check_host_memory(ctx, capacity_bytes=cfg.host_memory_gib * GIB,
                          where=f"host memory {cfg.host_memory_gib:g} GiB")
        gpu_bytes = ctx.gpu.profile.memory_capacity_gib.value * GIB
        resident = float(self.resident(ctx).sum())
        check_fits(f"the KV cache of batch {ctx.batch} on the GPU", ctx.kv_total_bytes,
                   gpu_bytes - resident, f"{ctx.gpu.profile.name} memory after "
                   f"{resident / GIB:.1f} GiB of resident weights; lower --batch")

    def resident(self, ctx: SimContext) -> np.ndarray:
        """Bytes of each layer kept on the GPU (whole layers, first layers first)."""
        m, cfg = ctx.model, ctx.config
        per = ctx.layer_weight_bytes
        mode = residency_mode(ctx)
        if cfg.offload.gpu_weight_fraction is not None:
            budget = cfg.offload.gpu_weight_fraction * m.weight_bytes
        elif mode == "layers_offloaded":
            budget = 0.0
        elif mode == "device_map_auto":
            budget = device_map_auto_layer_budget(ctx)
        else:
            budget = ctx.gpu_budget_after_lm_head_bytes
        n = int(max(0.0, budget) // per)
        out = np.zeros(m.num_layers)
        out[: min(n, m.num_layers)] = per
        return out

    def lm_head_stream_bytes(self, ctx: SimContext, resident: np.ndarray) -> float:
        """Bytes of the LM head copied to the GPU every decode step: under ``device_map_auto``
        an untied LM head comes after the layers in module order, so once a layer is offloaded
        (or the head does not fit after them) it is offloaded too; 0 otherwise."""
        m, cfg = ctx.model, ctx.config
        if (cfg.offload.gpu_weight_fraction is not None
                or residency_mode(ctx) != "device_map_auto" or m.arch.tie_word_embeddings):
            return 0.0
        head = sum(m._bytes(x.params) for x in m.global_matrices
                   if x.name in ("final_norm", "project_out", "lm_head"))
        if resident.sum() < m.num_layers * ctx.layer_weight_bytes:
            return float(head)
        left = device_map_auto_layer_budget(ctx) - float(resident.sum())
        return float(head) if head > left else 0.0

    def stream_ns(self, ctx: SimContext, nbytes: float) -> float:
        eff = ctx.config.offload.h2d_efficiency or ctx.pcie.config.h2d_efficiency
        return ctx.pcie.config.latency("h2d") + nbytes / (ctx.pcie.config.raw_gbps * eff)

    def layer_stream_bytes(self, ctx: SimContext, step: int, layer: int) -> float:
        return ctx.layer_weight_bytes

    def extra_layer_events(self, ctx: SimContext, step: int, layer: int, dep: int) -> int:
        return dep

    def build(self, ctx: SimContext) -> None:
        m, tl = ctx.model, ctx.timeline
        resident = self.resident(ctx)
        off = ctx.config.offload
        end = prefill_with_streaming(ctx, resident, h2d_efficiency=off.h2d_efficiency,
                                     overlap=off.overlap, kv_to_host=False)
        ctx.info["gpu_resident_layers"] = int((resident > 0).sum())
        head_bytes = self.lm_head_stream_bytes(ctx, resident)
        ctx.info["lm_head_streamed"] = bool(head_bytes)
        for step in range(ctx.run.decode_steps):
            kv_len = ctx.run.input_tokens + step + 1
            ks = dense_decode_kernels(ctx, kv_len)
            fc_ns = sum(k.time_ns for name in ("qkv", "o_proj", "mlp") for k in ks[name])
            at_ns = ks["attention"][0].time_ns
            computes: list[int] = []
            prev = end
            for layer in range(m.num_layers):
                copy = -1
                if resident[layer] < ctx.layer_weight_bytes:
                    nbytes = self.layer_stream_bytes(ctx, step, layer)
                    deps = [end]
                    if ctx.config.offload.overlap and len(computes) >= 2:
                        deps.append(computes[-2])
                    if not ctx.config.offload.overlap:
                        deps.append(prev)
                    copy = tl.add("pcie.h2d", self.stream_ns(ctx, nbytes), name="stream weights",
                                  category="communication", deps=deps, token=step, layer=layer,
                                  args={"nbytes": int(nbytes)})
                pre = self.extra_layer_events(ctx, step, layer, prev)
                a = tl.add("gpu", at_ns, name="attention", category="attention",
                           deps=[copy, prev, pre], token=step, layer=layer)
                prev = tl.add("gpu", self.layer_fc_ns(ctx, step, layer, fc_ns), name="FC layers",
                              category="fc", deps=[a], token=step, layer=layer)
                computes.append(prev)
            if head_bytes:
                deps = [end] if ctx.config.offload.overlap else [prev]
                copy = tl.add("pcie.h2d", self.stream_ns(ctx, head_bytes), name="stream LM head",
                              category="communication", deps=deps, token=step,
                              args={"nbytes": int(head_bytes)})
                prev = tl.join([prev, copy])
            end = lm_head_step(ctx, prev, step)

    def layer_fc_ns(self, ctx: SimContext, step: int, layer: int, dense_fc_ns: float) -> float:
        return dense_fc_ns


def residency_mode(ctx: SimContext) -> str:
    """The residency rule for this model: ``offload.residency_by_family`` for the model's
    family if named there, else ``offload.residency``."""
    off = ctx.config.offload
    return off.residency_by_family.get(ctx.model.config.family, off.residency)


def device_map_auto_layer_budget(ctx: SimContext) -> float:
    """GPU bytes HF Accelerate's ``device_map="auto"`` leaves for decoder layers on one GPU.

    ``get_balanced_memory`` (one GPU, no ``max_memory`` given) takes ``max_memory_fraction``
    (0.9) of the free memory (capacity less the CUDA context); ``infer_auto_device_map`` then
    reserves the largest no-split module (a decoder layer here) as the buffer offloaded weights
    are loaded into, and fills modules in order: the embeddings first, then whole layers."""
    m, off = ctx.model, ctx.config.offload
    capacity = ctx.gpu.profile.memory_capacity_gib.value
    free = max(0.0, capacity - off.cuda_context_gib) * GIB * off.max_memory_fraction
    globals_ = {x.name: m._bytes(x.params) for x in m.global_matrices}
    largest = max([ctx.layer_weight_bytes, *globals_.values()])
    front = sum(b for name, b in globals_.items()
                if name in ("embed_tokens", "embed_positions", "project_in"))
    return free - largest - front


@register_system("accelerate")
class Accelerate(OffloadSystem):
    """HF Accelerate (configs/systems/accelerate.yaml sets ``offload.overlap: false``)."""


@register_system("flexgen")
class FlexGen(OffloadSystem):
    """FlexGen (configs/systems/flexgen.yaml: ``offload.overlap: true``)."""
