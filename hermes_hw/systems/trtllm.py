"""TensorRT-LLM on several datacenter GPUs (paper §7: 5x A100-40GB), an analytical reference.

Tensor parallel over ``gpu_count`` GPUs: every GPU holds 1/n of each weight matrix and 1/n of the
heads and runs its shard of every kernel (lanes ``gpu0..``); after the output projection and
after the MLP of each layer the GPUs all-reduce the hidden vector (lane ``nvlink``: latency plus
``2 (n-1)/n`` of the vector at ``multi_gpu.allreduce_gbps``). All weights and the KV cache are
resident; CUDA graphs remove per-launch host costs. Prefill runs the same way over the prompt.
"""

from __future__ import annotations

import math

from hermes_hw.systems.base import GIB, SimContext, System, check_batch, check_fits, register_system


@register_system("trtllm")
class TensorRtLlm(System):
    def check(self, ctx: SimContext) -> None:
        check_batch(ctx)
        n = ctx.config.gpu_count
        cap = n * ctx.gpu.profile.memory_capacity_gib.value * GIB * 0.9
        check_fits(f"{ctx.model.id} weights plus the KV cache on {n} x {ctx.gpu.profile.name}",
                   ctx.model.weight_bytes + ctx.kv_total_bytes, cap,
                   "90% of the GPUs' memory; model larger than all memory")

    def _layer(self, ctx: SimContext, deps: list[int], *, prefill: bool, kv_len: int,
               token: int, layer: int) -> list[int]:
        m, tl, n = ctx.model, ctx.timeline, ctx.config.gpu_count
        B, h, f = ctx.batch, m.hidden_size, m.ffn_size
        up = 2 * f if m.arch.mlp == "gated" else f
        # uneven tensor parallelism (e.g. 64 heads / 8 KV heads on 5 GPUs): the busiest GPU
        # holds ceil(kv / n) KV heads and their whole query groups (GQA), which sets its time
        kvh = max(1, math.ceil(m.num_kv_heads / n))
        group = max(1, m.arch.num_attention_heads // max(1, m.num_kv_heads))
        heads = max(1, min(kvh * group, math.ceil(m.arch.num_attention_heads / n) + group - 1))
        heads = math.ceil(heads / kvh) * kvh
        qkv = math.ceil((m.q_dim + 2 * m.kv_dim) / n)
        phase = "prefill" if prefill else "decode"
        if prefill:
            t = B * ctx.run.input_tokens
            k1 = [ctx.gpu_kernel("prefill_linear", t, qkv, h),
                  ctx.gpu_kernel("prefill_attention", B, heads, ctx.run.input_tokens,
                                 m.head_dim, kvh),
                  ctx.gpu_kernel("prefill_linear", t, h, math.ceil(m.q_dim / n))]
            k2 = [ctx.gpu_kernel("prefill_linear", t, math.ceil(up / n), h),
                  ctx.gpu_kernel("prefill_linear", t, h, math.ceil(f / n))]
        else:
            k1 = [ctx.gpu_kernel("gemv", qkv, h, B),
                  ctx.gpu_kernel("attention_decode", B, heads, kv_len, m.head_dim, kvh),
                  ctx.gpu_kernel("gemv", h, math.ceil(m.q_dim / n), B)]
            k2 = [ctx.gpu_kernel("gemv", math.ceil(up / n), h, B),
                  ctx.gpu_kernel("gemv", h, math.ceil(f / n), B)]
        cat1 = "prefill" if prefill else "attention"
        cat2 = "prefill" if prefill else "fc"
        mg = ctx.config.multi_gpu
        vec = (B * ctx.run.input_tokens if prefill else B) * h * 2
        ar_ns = mg.allreduce_latency_ns + vec * 2 * (n - 1) / n / mg.allreduce_gbps
        for kernels, cat, name in ((k1, cat1, "attention block"), (k2, cat2, "MLP")):
            ends = [tl.add(f"gpu{g}", sum(k.time_ns for k in kernels), name=name, category=cat,
                           deps=deps, phase=phase, token=token, layer=layer)
                    for g in range(n)]
            if n > 1:
                deps = [tl.add("nvlink", ar_ns, name="all-reduce",
                               category="prefill" if prefill else "communication", deps=ends,
                               phase=phase, token=token, layer=layer, args={"nbytes": vec})]
            else:
                deps = ends
        return deps

    def build(self, ctx: SimContext) -> None:
        m, tl = ctx.model, ctx.timeline
        deps: list[int] = []
        for layer in range(m.num_layers):
            deps = self._layer(ctx, deps, prefill=True, kv_len=ctx.run.input_tokens, token=-1,
                               layer=layer)
        n = ctx.config.gpu_count
        head_rows = math.ceil(ctx.lm_head_rows / n)
        deps = [tl.add(f"gpu{g}", ctx.gpu_kernel("gemm", ctx.batch, head_rows,
                                                 m.hidden_size).time_ns,
                       name="LM head", category="prefill", deps=deps, phase="prefill")
                for g in range(n)]
        for step in range(ctx.run.decode_steps):
            kv_len = ctx.run.input_tokens + step + 1
            for layer in range(m.num_layers):
                deps = self._layer(ctx, deps, prefill=False, kv_len=kv_len, token=step,
                                   layer=layer)
            deps = [tl.add(f"gpu{g}", ctx.gpu_kernel("gemv", head_rows, m.hidden_size,
                                                     ctx.batch).time_ns,
                           name="LM head", category="fc", deps=deps, token=step)
                    for g in range(n)]
