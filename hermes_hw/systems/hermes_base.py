"""Hermes-base (paper §7): NDP-DIMMs without activation sparsity.

Every FC block (QKV, output projection, MLP) runs dense: on the GPU if its weights are resident
there (whole blocks in layer order until ``gpu_weight_budget_gib`` is used, after the LM head),
else on the DIMMs, output rows split evenly across them (each DIMM then holds 1/n of the output;
an all-gather over DIMM-Link gives every DIMM the full vector when the next block needs it).
All decode attention runs on the DIMMs (KV cache there). Moving the activation between the GPU and
the DIMMs costs a host sync and a PCIe transfer. Prefill is the Hermes one.
"""

from __future__ import annotations

import numpy as np

from hermes_hw.systems.base import (
    GIB,
    SimContext,
    System,
    check_batch,
    check_host_memory,
    lm_head_step,
    prefill_with_streaming,
    register_system,
)
from hermes_hw.systems.dimm_time import DimmOp
from hermes_hw.systems.hermes import check_dimm_model, dimm_time_model


def dense_blocks(ctx: SimContext) -> list[tuple[str, int, int, list[tuple[str, int, int]]]]:
    """(name, weight bytes, output length, GPU kernels as (kind, rows, cols)) per FC block."""
    m = ctx.model
    h, f = m.hidden_size, m.ffn_size
    qkv = m.q_dim + 2 * m.kv_dim
    up = 2 * f if m.arch.mlp == "gated" else f
    return [("qkv", m._bytes(h * qkv), qkv, [("gemv", qkv, h)]),
            ("o_proj", m._bytes(h * m.q_dim), h, [("gemv", h, m.q_dim)]),
            ("mlp", m._bytes((up + f) * h), h, [("gemv", up, h), ("gemv", h, f)])]


@register_system("hermes-base")
class HermesBase(System):
    def check(self, ctx: SimContext) -> None:
        check_batch(ctx)
        check_dimm_model(ctx)
        cfg = ctx.config
        check_host_memory(ctx, capacity_bytes=cfg.n_dimms * cfg.dimm_capacity_gib * GIB,
                          where=f"{cfg.n_dimms} DIMMs x {cfg.dimm_capacity_gib:g} GiB")

    def residency(self, ctx: SimContext) -> np.ndarray:
        """[layers, 3] bool: which FC blocks are resident on the GPU."""
        m = ctx.model
        budget = ctx.gpu_budget_after_lm_head_bytes
        blocks = dense_blocks(ctx)
        res = np.zeros((m.num_layers, len(blocks)), dtype=bool)
        for layer in range(m.num_layers):
            for k, (_n, nbytes, _o, _ks) in enumerate(blocks):
                if nbytes <= budget:
                    res[layer, k] = True
                    budget -= nbytes
        return res

    def build(self, ctx: SimContext) -> None:
        m, tl = ctx.model, ctx.timeline
        res = self.residency(ctx)
        blocks = dense_blocks(ctx)
        resident = np.array([sum(b[1] for k, b in enumerate(blocks) if res[layer, k])
                             for layer in range(m.num_layers)], dtype=float)
        off = ctx.config.offload
        end = prefill_with_streaming(ctx, resident, h2d_efficiency=off.h2d_efficiency,
                                     overlap=off.overlap, kv_to_host=True)
        ctx.info["gpu_resident_blocks"] = int(res.sum())
        ctx.info["gpu_resident_bytes"] = int(resident.sum())
        U = ctx.config.n_dimms
        units = [f"dimm{j}" for j in range(U)]
        tm = dimm_time_model(ctx)
        link = ctx.dimm_link
        sync = ctx.config.sync.latency_ns
        B, h = ctx.batch, m.hidden_size
        heads, kvh, hd = m.arch.num_attention_heads, m.num_kv_heads, m.head_dim

        def pcie(direction, nbytes, deps, name, step, layer):
            return tl.add(f"pcie.{direction}", ctx.pcie.duration_ns(int(nbytes), direction),
                          name=name, category="communication", deps=deps, token=step,
                          layer=layer, args={"nbytes": int(nbytes)})

        def to_gpu(where, deps, n, step, layer):
            if where == "gpu":
                return deps
            sy = tl.add("host", sync, name="sync", category="others", deps=deps, token=step,
                        layer=layer)
            return [pcie("h2d", ctx.vec_bytes(n), [sy], "activation to GPU", step, layer)]

        def to_dimms(where, deps, n, step, layer):
            if where == "dimm":
                return deps
            return [pcie("d2h", ctx.vec_bytes(n), deps, "activation to DIMMs", step, layer)]

        def all_gather(deps, n, step, layer):
            if U < 2:
                return deps
            cfg = link.config
            nbytes = ctx.vec_bytes(n) * (U - 1) / U
            arr = [tl.add(link.lane(j, (j + 1) % U), cfg.hop_latency_ns + nbytes / cfg.link_gbps,
                          name="all-gather", category="communication", deps=deps, token=step,
                          layer=layer, args={"nbytes": nbytes}) for j in range(U)]
            return [tl.join(arr)]

        for step in range(ctx.run.decode_steps):
            kv_len = ctx.run.input_tokens + step + 1
            attn_op = DimmOp("attention", read_bytes=B * kv_len * 2 * kvh * hd * 2 / U,
                             write_bytes=B * 2 * kvh * hd * 2 / U,
                             macs=2 * B * heads * kv_len * hd / U,
                             vector_ops=3 * B * heads * kv_len / U,
                             segments=2 * B * max(1.0, kvh / U))
            where, deps = "dimm", [end]
            for layer in range(m.num_layers):
                for k, (name, nbytes, out_len, kernels) in enumerate(blocks):
                    in_len = h if name != "o_proj" else m.q_dim
                    if res[layer, k]:
                        deps = to_gpu(where, deps, in_len, step, layer)
                        dur = sum(ctx.gpu_kernel(kind, r, c, B).time_ns for kind, r, c in kernels)
                        deps = [tl.add("gpu", dur, name=name, category="fc", deps=deps,
                                       token=step, layer=layer, args={"nbytes": nbytes})]
                        where = "gpu"
                    else:
                        if where == "dimm":  # each DIMM holds 1/n of the input
                            deps = all_gather(deps, in_len, step, layer)
                        else:  # a PCIe write reaches every DIMM
                            deps = to_dimms(where, deps, in_len, step, layer)
                        op = DimmOp("gemv", read_bytes=nbytes / U, macs=nbytes / 2 * B / U,
                                    segments=1)
                        ev = [tl.add(u, tm.op_time_ns(j, op), name=name, category="fc",
                                     deps=deps, token=step, layer=layer,
                                     args={"read_bytes": op.read_bytes}) for j, u in
                              enumerate(units)]
                        deps, where = [tl.join(ev)], "dimm"
                    if name == "qkv":  # attention on the DIMMs
                        deps = to_dimms(where, deps, out_len, step, layer)
                        ev = [tl.add(u, tm.op_time_ns(j, attn_op), name="attention",
                                     category="attention", deps=deps, token=step, layer=layer)
                              for j, u in enumerate(units)]
                        deps, where = [tl.join(ev)], "dimm"
            deps = to_gpu(where, deps, h, step, -1)
            end = lm_head_step(ctx, tl.join(deps), step)
