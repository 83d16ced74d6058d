"""The per-token, per-layer work list handed to the lowering stage.

For every decode token the pipeline yields one :class:`TokenWork`; ``token.block(b)`` (or
iterating ``token.blocks()``) gives a :class:`LayerWork` per block of ``model.blocks`` (attention
of layer 0, MLP of layer 0, attention of layer 1, ...).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class LayerWork:
    """What one block (one layer's attention-QKV or MLP neurons) must do for one token.

    Attributes (neuron ids are the model's: the W_QKV input row for ``kind == "attention"``, the
    FFN intermediate index for ``kind == "mlp"``; int32 arrays):

    * ``token``, ``layer``, ``kind``: where this is.
    * ``gpu_neurons``: predicted-active neurons computed on the GPU (they have a GPU copy).
    * ``dimm_neurons[j]``: predicted-active neurons computed by the NDP core of DIMM ``j``
      (``j`` in ``range(n_dimms)``; their weights are homed on that DIMM).
    * ``bytes_per_neuron``: weight bytes one neuron reads (so GPU bytes =
      ``len(gpu_neurons) * bytes_per_neuron``, DIMM ``j`` bytes likewise).
    * ``promoted_neurons``: neurons copied DIMM -> GPU over PCIe during this layer's output
      projection (online adjustment); usable from the next token. ``pcie_bytes`` = their bytes.
    * ``evicted_neurons``: GPU copies dropped to make room (no write-back, no bytes).
    * ``remap_neurons``, ``remap_src``, ``remap_dst``: cold neurons moved between DIMMs over
      DIMM-Link after this token (window remapping; only on a window's last token);
      ``dimm_link_bytes`` = their bytes. Effective from the next token.
    * ``missed_neurons``: neurons that fired but were not predicted (not computed: the accuracy
      cost of the predictor; count only is usually enough).
    """

    token: int
    layer: int
    kind: str
    gpu_neurons: np.ndarray
    dimm_neurons: tuple[np.ndarray, ...]
    bytes_per_neuron: int
    promoted_neurons: np.ndarray
    evicted_neurons: np.ndarray
    remap_neurons: np.ndarray
    remap_src: np.ndarray
    remap_dst: np.ndarray
    missed_neurons: np.ndarray

    @property
    def pcie_bytes(self) -> int:
        return len(self.promoted_neurons) * self.bytes_per_neuron

    @property
    def dimm_link_bytes(self) -> int:
        return len(self.remap_neurons) * self.bytes_per_neuron

    @property
    def gpu_bytes(self) -> int:
        return len(self.gpu_neurons) * self.bytes_per_neuron

    @property
    def dimm_bytes(self) -> np.ndarray:
        return np.array([len(x) for x in self.dimm_neurons], dtype=np.int64) * \
            self.bytes_per_neuron


_EMPTY = np.zeros(0, dtype=np.int32)


@dataclass
class TokenWork:
    """All blocks' work for one decode token.

    Holds compact flat snapshots (indices into the trace's flat neuron axis); :meth:`block`
    slices them into a :class:`LayerWork` on demand, so a consumer pays only for what it reads.
    """

    token: int
    model: object
    n_dimms: int
    bit_offsets: np.ndarray  # flat start of each block (+ end)
    ids_flat: np.ndarray  # flat index -> model neuron id
    gpu_flat: np.ndarray  # flat indices computed on the GPU (ascending)
    cold_flat: np.ndarray  # flat indices computed on the DIMMs (ascending)
    cold_dimm: np.ndarray  # their DIMMs
    missed_flat: np.ndarray  # flat indices that fired but were not predicted (ascending)
    promoted: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    remapped: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=dict)

    def _span(self, arr: np.ndarray, b: int) -> np.ndarray:
        lo, hi = np.searchsorted(arr, self.bit_offsets[b: b + 2])
        return arr[lo:hi]

    def block(self, b: int) -> LayerWork:
        g = self.model.blocks[b]
        prom, evic = self.promoted.get(b, (_EMPTY, _EMPTY))
        rid, rsrc, rdst = self.remapped.get(b, (_EMPTY, _EMPTY, _EMPTY))
        lo, hi = np.searchsorted(self.cold_flat, self.bit_offsets[b: b + 2])
        cold, dimm = self.cold_flat[lo:hi], self.cold_dimm[lo:hi]
        order = np.argsort(dimm, kind="stable")
        cuts = np.searchsorted(dimm[order], np.arange(self.n_dimms + 1))
        per_dimm = tuple(self.ids_flat[cold[order[cuts[j]:cuts[j + 1]]]]
                         for j in range(self.n_dimms))
        return LayerWork(
            token=self.token, layer=g.layer, kind=g.kind,
            gpu_neurons=self.ids_flat[self._span(self.gpu_flat, b)],
            dimm_neurons=per_dimm, bytes_per_neuron=g.bytes_per_neuron,
            promoted_neurons=prom, evicted_neurons=evic, remap_neurons=rid, remap_src=rsrc,
            remap_dst=rdst, missed_neurons=self.ids_flat[self._span(self.missed_flat, b)],
        )

    def blocks(self) -> Iterator[LayerWork]:
        for b in range(len(self.model.blocks)):
            yield self.block(b)
