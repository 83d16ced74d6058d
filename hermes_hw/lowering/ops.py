"""NDP operations: the op record written to traces and the op kinds.

Every op belongs to one DIMM, token, layer and block; its memory requests are the segments
``seg_start .. seg_start + seg_count`` of that DIMM's segment stream (``lines`` 64 B requests in
all). Ops of one DIMM execute in order on its NDP core (``dep`` = the op it waits for, normally
the previous one); ``barrier`` >= 0 marks an op that also needs every DIMM's (and the GPU's)
partial result of the same barrier id (handled by the merged timeline, issue 5).
"""

from __future__ import annotations

import numpy as np

OP_KINDS: tuple[str, ...] = (
    "gemv",           # read cold neurons' weights, multiply-accumulate for the batch
    "write_partial",  # store the block's partial result (scratch) for the cross-DIMM reduction
    "reduce",         # sum partial results from the other DIMMs and the GPU (activation unit)
    "kv_append",      # write this token's K and V
    "attn_score",     # read K, q.K for every query head sharing the KV head
    "softmax",        # softmax over the scores (activation unit)
    "attn_value",     # read V, weighted sum
    "promote_read",   # read neurons promoted to the GPU (online adjustment; sent over PCIe)
    "remap_out",      # read neurons moved away by window remapping (sent over DIMM-Link)
    "remap_in",       # write neurons moved here by window remapping
)
OP_KIND_ID = {k: i for i, k in enumerate(OP_KINDS)}
READ_OPS = frozenset({"gemv", "attn_score", "attn_value", "promote_read", "remap_out"})
WRITE_OPS = frozenset({"write_partial", "kv_append", "remap_in"})
COMPUTE_OPS = frozenset({"reduce", "softmax"})

OP_DTYPE = np.dtype([
    ("token", "<i4"),        # decode step (0 = first decode token of the run)
    ("layer", "<i4"),
    ("block", "<i4"),        # index in model.blocks (attention l = 2l, mlp l = 2l + 1)
    ("kind", "u1"),          # OP_KINDS index
    ("pad", "u1", (3,)),
    ("dep", "<i8"),          # op index (same DIMM) this op waits for; -1 = none
    ("barrier", "<i8"),      # cross-DIMM barrier id; -1 = none
    ("neurons", "<i8"),      # neurons processed (gemv, promote, remap)
    ("read_bytes", "<i8"),   # payload bytes read from this DIMM's DRAM
    ("write_bytes", "<i8"),  # payload bytes written to this DIMM's DRAM
    ("macs", "<i8"),         # multiply-accumulates on the GEMV unit
    ("act_elems", "<i8"),    # element operations on the activation unit
    ("link_bytes", "<i8"),   # bytes moved over DIMM-Link / PCIe by this op
    ("seg_start", "<i8"),    # first segment (index in this DIMM's segment stream)
    ("seg_count", "<i8"),
    ("lines", "<i8"),        # 64 B requests of this op
])


def new_ops(n: int) -> np.ndarray:
    ops = np.zeros(n, OP_DTYPE)
    ops["dep"] = -1
    ops["barrier"] = -1
    return ops
