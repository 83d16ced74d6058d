"""Lower one token's work list to per-DIMM NDP ops and memory-request segments.

Dataflow per layer on DIMM ``j`` (paper Fig. 6a; see docs/ndp.md for the choices marked [O]):

attention block: ``gemv`` over the cold W_QKV rows homed on ``j`` -> ``write_partial`` (the
partial q/k/v for the batch) -> ``reduce`` (barrier: sums the partials of the other DIMMs and the
GPU for the outputs this DIMM needs) -> ``kv_append`` -> ``attn_score`` (reads K) ->
``softmax`` -> ``attn_value`` (reads V; the result goes to the GPU's output projection) ->
``promote_read`` (neurons promoted to the GPU during the projection, read on their home DIMM).
mlp block: ``gemv`` over the cold neurons (FC1/gate row and FC2 column, contiguous) ->
``write_partial`` -> ``reduce`` (barrier: the layer output, reduce-scattered across DIMMs).
After the last layer: ``remap_out`` / ``remap_in`` for window remapping, then the layout moves.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hermes_hw.errors import InputError
from hermes_hw.layout.base import SEGMENT_DTYPE
from hermes_hw.layout.model_layout import ModelLayout
from hermes_hw.lowering.ops import OP_DTYPE, OP_KIND_ID
from hermes_hw.lowering.work import TokenInput


@dataclass
class DimmTokenTrace:
    """One DIMM's ops and segments for one token (indices local to the token)."""

    ops: np.ndarray       # OP_DTYPE
    segments: np.ndarray  # SEGMENT_DTYPE, ``op`` = local op index


class _Builder:
    def __init__(self, token: int) -> None:
        self.token = token
        self.ops: list[tuple] = []
        self.segs: list[np.ndarray] = []
        self.nseg = 0

    def add(self, kind: str, layer: int, block: int, *, segs: np.ndarray | None = None,
            barrier: int = -1, neurons: int = 0, read_bytes: int = 0, write_bytes: int = 0,
            macs: int = 0, act_elems: int = 0, link_bytes: int = 0) -> None:
        idx = len(self.ops)
        nseg = 0 if segs is None else len(segs)
        lines = 0
        if nseg:
            segs = segs.copy()
            segs["op"] = idx
            lines = int(segs["lines"].sum(dtype=np.int64))
            self.segs.append(segs)
        self.ops.append((self.token, layer, block, OP_KIND_ID[kind], (0, 0, 0), idx - 1, barrier,
                         neurons, read_bytes, write_bytes, macs, act_elems, link_bytes, self.nseg,
                         nseg, lines))
        self.nseg += nseg

    def build(self) -> DimmTokenTrace:
        ops = np.array(self.ops, dtype=OP_DTYPE)
        segs = np.concatenate(self.segs) if self.segs else np.zeros(0, SEGMENT_DTYPE)
        return DimmTokenTrace(ops, segs)


def lower_token(work: TokenInput, layout: ModelLayout, batch: int,
                element_bytes: int = 2) -> list[DimmTokenTrace]:
    """Ops and segments of every DIMM for one token (then applies the token's remap moves)."""
    model, n = layout.model, layout.n_dimms
    blocks = model.blocks
    if len(work.blocks) != len(blocks):
        raise InputError(f"work list of token {work.token}: {len(work.blocks)} blocks, the model "
                         f"has {len(blocks)}")
    if batch != layout.batch:
        raise InputError(f"batch {batch} differs from the batch the layout was built for "
                         f"({layout.batch})")
    if work.context_tokens > layout.max_context:
        raise InputError(f"token {work.token} attends {work.context_tokens} positions but the KV "
                         f"cache was laid out for {layout.max_context}")
    eb, B = element_bytes, batch
    hd, q_per_kv = model.head_dim, model.q_dim // model.kv_dim
    qkv_out = model.q_dim + 2 * model.kv_dim
    ctx = work.context_tokens
    builders = [_Builder(work.token) for _ in range(n)]
    by_block = {bw.block: bw for bw in work.blocks}
    if sorted(by_block) != list(range(len(blocks))):
        raise InputError(f"work list of token {work.token}: blocks must be 0..{len(blocks) - 1} "
                         "once each")
    barrier_base = work.token * len(blocks)
    for b, g in enumerate(blocks):
        bw = by_block[b]
        if len(bw.dimm_neurons) != n:
            raise InputError(f"work list of token {work.token}, block {b}: "
                             f"{len(bw.dimm_neurons)} DIMM lists for {n} DIMMs")
        for j in range(n):
            ids = bw.dimm_neurons[j]
            if len(ids) and (ids.min() < 0 or ids.max() >= g.count):
                raise InputError(f"work list of token {work.token}, block {b}: neuron id out of "
                                 f"range 0..{g.count - 1}")
            if len(np.unique(ids)) != len(ids):
                raise InputError(f"work list of token {work.token}, block {b}, DIMM {j}: a neuron "
                                 "is listed twice")
            bld = builders[j]
            k = len(ids)
            bld.add("gemv", g.layer, b, segs=layout.neuron_segments(b, j, ids), neurons=k,
                    read_bytes=k * g.bytes_per_neuron, macs=B * k * g.weights_per_neuron,
                    act_elems=B * k if g.kind == "mlp" else 0)
            out = qkv_out if g.kind == "attention" else model.hidden_size
            pbytes = B * out * eb if k else 0
            bld.add("write_partial", g.layer, b, segs=layout.scratch_segments(j, pbytes),
                    write_bytes=pbytes)
            if g.kind == "attention":
                heads = layout.kv_heads_of[j]
                if layout.config.kv_partition == "head":
                    need = len(heads) * hd * (q_per_kv + 2)
                else:
                    owner = (ctx - 1) % n == j
                    need = model.q_dim + (2 * model.kv_dim if owner else 0)
                bld.add("reduce", g.layer, b, barrier=barrier_base + b,
                        act_elems=B * need * n, link_bytes=B * need * n * eb)
                _attention(bld, layout, j, g.layer, b, ctx, B, q_per_kv, hd, eb)
            else:
                share = -(-model.hidden_size // n)
                bld.add("reduce", g.layer, b, barrier=barrier_base + b,
                        act_elems=B * share * n, link_bytes=B * share * n * eb)
        # promotions of this layer's blocks (after the attention block: the projection phase)
        if g.kind == "mlp":
            for pb in (b - 1, b):
                prom = by_block[pb].promoted
                if not len(prom):
                    continue
                home = layout.home[pb][prom]
                gp = blocks[pb]
                for j in range(n):
                    _send_neurons(builders[j], "promote_read", layout, gp, pb, j,
                                  np.sort(prom[home == j]))
    # window remapping after the token
    for b, g in enumerate(blocks):
        bw = by_block[b]
        if not len(bw.remap_neurons):
            continue
        ids, src, dst = bw.remap_neurons, bw.remap_src, bw.remap_dst
        for j in range(n):
            _send_neurons(builders[j], "remap_out", layout, g, b, j, np.sort(ids[src == j]))
        layout.remap(b, ids, src, dst)
        for j in range(n):
            in_ids = np.sort(ids[dst == j])
            if len(in_ids):
                segs = layout.neuron_segments(b, j, in_ids)
                segs["write"] = 1
                builders[j].add("remap_in", g.layer, b, segs=segs, neurons=len(in_ids),
                                write_bytes=len(in_ids) * g.bytes_per_neuron)
    return [bld.build() for bld in builders]


def _send_neurons(bld: _Builder, kind: str, layout: ModelLayout, g, b: int, j: int,
                  ids: np.ndarray) -> None:
    """Read neurons ``ids`` of block ``b`` from DIMM ``j`` and send them off the DIMM (``kind``:
    promote_read to the GPU over PCIe, remap_out to another DIMM over DIMM-Link)."""
    if len(ids):
        nbytes = len(ids) * g.bytes_per_neuron
        bld.add(kind, g.layer, b, segs=layout.neuron_segments(b, j, ids), neurons=len(ids),
                read_bytes=nbytes, link_bytes=nbytes)


def _attention(bld: _Builder, layout: ModelLayout, j: int, layer: int, b: int, ctx: int, B: int,
               q_per_kv: int, hd: int, eb: int) -> None:
    segs, wbytes = layout.kv_append_segments(j, layer, ctx - 1)
    bld.add("kv_append", layer, b, segs=segs, write_bytes=wbytes)
    heads = len(layout.kv_heads_of[j])
    pos = layout.local_positions(j, ctx)
    k_segs, k_bytes = layout.kv_segments(j, layer, ctx, "K")
    macs = B * heads * pos * q_per_kv * hd
    bld.add("attn_score", layer, b, segs=k_segs, read_bytes=k_bytes, macs=macs)
    bld.add("softmax", layer, b, act_elems=B * heads * q_per_kv * pos)
    v_segs, v_bytes = layout.kv_segments(j, layer, ctx, "V")
    bld.add("attn_value", layer, b, segs=v_segs, read_bytes=v_bytes, macs=macs,
            link_bytes=B * heads * q_per_kv * hd * eb if pos else 0)
