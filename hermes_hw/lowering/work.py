"""The lowering's input: typed per-token work lists.

:class:`BlockWork` is what the lowering needs of one block for one token; the workload
pipeline's :class:`~hermes_hw.workload.worklist.LayerWork` converts to it with
:func:`from_layer_work` (and a whole ``TokenWork`` with :func:`from_token_work`). Tests and
users can build it directly (a hand-written work list needs no workload run).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

_EMPTY = np.zeros(0, dtype=np.int64)


@dataclass(frozen=True)
class BlockWork:
    """One block (attention QKV or MLP of one layer) for one token.

    ``dimm_neurons[j]``: model ids of the predicted-active cold neurons DIMM ``j`` computes
    (homed there). ``promoted``: neurons copied DIMM -> GPU during this layer (read on their
    home DIMM). ``remap_*``: neurons moved between DIMMs after this token.
    """

    block: int
    dimm_neurons: tuple[np.ndarray, ...]
    promoted: np.ndarray = field(default_factory=lambda: _EMPTY)
    remap_neurons: np.ndarray = field(default_factory=lambda: _EMPTY)
    remap_src: np.ndarray = field(default_factory=lambda: _EMPTY)
    remap_dst: np.ndarray = field(default_factory=lambda: _EMPTY)


@dataclass(frozen=True)
class TokenInput:
    """All blocks of one decode token; ``context_tokens`` = positions attended (incl. this)."""

    token: int
    context_tokens: int
    blocks: tuple[BlockWork, ...]


def from_layer_work(layer_work, block: int) -> BlockWork:
    """Convert the workload pipeline's ``LayerWork`` of block ``block``."""
    return BlockWork(
        block=block,
        dimm_neurons=tuple(np.asarray(x, dtype=np.int64) for x in layer_work.dimm_neurons),
        promoted=np.asarray(layer_work.promoted_neurons, dtype=np.int64),
        remap_neurons=np.asarray(layer_work.remap_neurons, dtype=np.int64),
        remap_src=np.asarray(layer_work.remap_src, dtype=np.int64),
        remap_dst=np.asarray(layer_work.remap_dst, dtype=np.int64),
    )


def from_token_work(token_work, prompt_tokens: int) -> TokenInput:
    """Convert a pipeline ``TokenWork`` (decode step ``token``) to a :class:`TokenInput`."""
    n_blocks = len(token_work.model.blocks)
    blocks = tuple(from_layer_work(token_work.block(b), b) for b in range(n_blocks))
    return TokenInput(token=token_work.token, context_tokens=prompt_tokens + token_work.token + 1,
                      blocks=blocks)


def collect_homes(tokens: Iterable[TokenInput], block_sizes: list[int]) -> list[np.ndarray]:
    """Home DIMM of every neuron as the work lists reveal it (-1 = never seen).

    A neuron's initial home is the DIMM of its first appearance: in a DIMM's list, or as the
    source of a remap (promoted neurons do not reveal a home). Used when the placement itself
    is not available; neurons never seen are placed by :func:`~hermes_hw.layout.model_layout.
    balance_homes`."""
    homes = [np.full(n, -1, np.int8) for n in block_sizes]
    for tok in tokens:
        for bw in tok.blocks:
            h = homes[bw.block]
            for j, ids in enumerate(bw.dimm_neurons):
                new = ids[h[ids] < 0]
                h[new] = j
            if len(bw.remap_neurons):
                ids = bw.remap_neurons
                new = h[ids] < 0
                h[ids[new]] = bw.remap_src[new]
    return homes
