"""Activation sources: one interface, per block (layer x kind), per token, batch-aware.

A source produces an :class:`ActivationTrace`: for every token, which neurons of every block fired
(the union over the requests of the batch). Sources register by name in :data:`SOURCES`; adding a
source = one module with a class implementing :class:`ActivationSource` + one registry entry.

Neuron indices. Inside a trace, each block's neurons are stored in an *internal order* chosen by
the source (the synthetic source uses its base frequency rank, which keeps the layer-to-layer
partner look-ups cache-friendly). ``neuron_ids[b][i]`` is the model's neuron id (the row of W_QKV
or the FFN intermediate index) of internal index ``i``; imported traces use the identity.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import numpy as np

from hermes_hw.registry import Registry
from hermes_hw.workload.models.spec import ModelSpec


@dataclass
class BlockLayout:
    """Where the blocks' neurons live in the trace's flat (concatenated) neuron axis."""

    sizes: np.ndarray  # neurons per block (int64), model.blocks order
    bit_offsets: np.ndarray  # first flat index of each block; blocks start on a byte boundary

    @classmethod
    def for_model(cls, model: ModelSpec) -> BlockLayout:
        sizes = np.array([g.count for g in model.blocks], dtype=np.int64)
        padded = (sizes + 7) // 8 * 8
        offsets = np.concatenate([[0], np.cumsum(padded)])
        return cls(sizes=sizes, bit_offsets=offsets)

    @property
    def total_bits(self) -> int:
        """Length of the flat neuron axis (blocks padded to whole bytes)."""
        return int(self.bit_offsets[-1])

    @property
    def byte_offsets(self) -> np.ndarray:
        return self.bit_offsets // 8

    def block_slice(self, b: int) -> slice:
        start = int(self.bit_offsets[b])
        return slice(start, start + int(self.sizes[b]))

    def block_of_flat(self) -> np.ndarray:
        """Block index of every flat position (padding positions get their block's index)."""
        return np.repeat(np.arange(len(self.sizes), dtype=np.int16), np.diff(self.bit_offsets))

    def valid_flat(self) -> np.ndarray:
        """True for real neurons, False for padding positions."""
        valid = np.zeros(self.total_bits, dtype=bool)
        for b in range(len(self.sizes)):
            valid[self.block_slice(b)] = True
        return valid


@dataclass
class ActivationTrace:
    """Which neurons fired, per token, for every block of a model (union over the batch).

    ``bits`` is a ``(tokens, total_bits / 8)`` uint8 array: bit ``k`` (little-endian within each
    byte) of a row is flat neuron ``k`` (see :class:`BlockLayout`); 1 = fired in this token.
    Tokens ``[0, prompt_tokens)`` are the prompt (prefill), the rest are decode steps.
    """

    model: ModelSpec
    layout: BlockLayout
    bits: np.ndarray
    prompt_tokens: int
    batch: int = 1
    neuron_ids: list[np.ndarray] | None = None  # internal -> model neuron id, per block
    offline_frequencies: np.ndarray | None = None  # flat float32, a profile sampled offline
    partner_candidates: np.ndarray | None = None  # flat (total_bits, K) int32 hint, -1 = none
    source: str = ""
    meta: dict = field(default_factory=dict)

    @property
    def tokens(self) -> int:
        return int(self.bits.shape[0])

    @property
    def decode_tokens(self) -> int:
        return self.tokens - self.prompt_tokens

    def token_mask(self, t: int) -> np.ndarray:
        """Flat bool mask of token ``t`` (length ``layout.total_bits``)."""
        return np.unpackbits(self.bits[t], bitorder="little").view(bool)

    def block_masks(self, b: int) -> np.ndarray:
        """``(tokens, neurons)`` bool masks of block ``b``."""
        lo, hi = int(self.layout.byte_offsets[b]), int(self.layout.byte_offsets[b + 1])
        unpacked = np.unpackbits(self.bits[:, lo:hi], axis=1, bitorder="little").view(bool)
        return unpacked[:, : int(self.layout.sizes[b])]

    def counts(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Flat per-neuron activation counts over tokens ``[start, stop)`` (int32)."""
        stop = self.tokens if stop is None else stop
        total = np.zeros(self.layout.total_bits, dtype=np.int32)
        part = np.zeros(self.layout.total_bits, dtype=np.uint8)
        for t0 in range(start, stop, 255):  # uint8 partial sums (4x less memory traffic)
            part[:] = 0
            for t in range(t0, min(stop, t0 + 255)):
                part += self.token_mask(t).view(np.uint8)
            total += part
        return total

    def model_ids(self, b: int) -> np.ndarray:
        """Model neuron id of each internal index of block ``b``."""
        if self.neuron_ids is None:
            return np.arange(int(self.layout.sizes[b]), dtype=np.int32)
        return self.neuron_ids[b]


class ActivationSource(ABC):
    """Produces an :class:`ActivationTrace` for a model."""

    name: str = ""

    @abstractmethod
    def trace(
        self, model: ModelSpec, *, prompt_tokens: int, decode_tokens: int, batch: int, seed: int
    ) -> ActivationTrace:
        """Masks for ``prompt_tokens + decode_tokens`` tokens, union over ``batch`` requests."""


SOURCES: Registry[ActivationSource] = Registry("activation source")
#: Class decorator registering a activation source by name.
register_source = SOURCES.register
#: Instantiate a activation source by name (unknown names list the valid ones).
make_source = SOURCES.create
