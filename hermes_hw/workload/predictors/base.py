"""Predictor interface, registry and metrics.

A predictor sees one token at a time over the flat neuron axis of all blocks (see
:class:`~hermes_hw.workload.activations.base.BlockLayout`). ``predict(truth)`` receives the
token's true mask so that layer-wise predictors can read the *previous* layer's outcome (already
computed when this layer is predicted); a predictor must not read the entries it predicts, except
the oracle. ``update(truth)`` runs after the token. Register a new predictor with
:func:`register_predictor`; it is then available as ``hermes workload --predictor NAME``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import numpy as np

from hermes_hw.registry import Registry
from hermes_hw.workload.activations.base import ActivationTrace


@dataclass
class PredictorContext:
    """What a predictor may know before decoding starts."""

    trace: ActivationTrace
    prefill_frequency: np.ndarray  # flat float32: fraction of prompt tokens each neuron fired
    partners: np.ndarray  # flat (total_bits, 2) int32 previous-layer partners (sentinels >= N)
    valid: np.ndarray  # flat bool: real neurons (False for byte padding)


class Predictor(ABC):
    """Decides per token which neurons will fire."""

    name: str = ""

    @abstractmethod
    def start(self, ctx: PredictorContext) -> None:
        """Initialise from prefill (called once before the first decode token)."""

    @abstractmethod
    def predict(self, truth: np.ndarray) -> np.ndarray:
        """Flat bool prediction for this token."""

    def update(self, truth: np.ndarray) -> None:  # noqa: B027 - optional hook
        """Learn from the token's true mask (after the token)."""

    def hotness(self) -> np.ndarray | None:
        """Flat uint8 0..15 'state' used by the online adjustment, or None (the pipeline then
        keeps a Hermes-style counter itself)."""
        return None

    def cost(self, model) -> dict:
        """Storage and compute cost: ``table_bytes``, ``flops_per_token`` and notes."""
        return {"table_bytes": 0, "flops_per_token": 0}


PREDICTORS: Registry[Predictor] = Registry("predictor")
#: Class decorator registering a predictor by name.
register_predictor = PREDICTORS.register
#: Instantiate a predictor by name (unknown names list the valid ones).
make_predictor = PREDICTORS.create


@dataclass
class PredictionMetrics:
    """Confusion counts per block, accumulated over tokens."""

    blocks: int
    tp: np.ndarray = field(init=False)
    fp: np.ndarray = field(init=False)
    fn: np.ndarray = field(init=False)
    neurons: np.ndarray = field(init=False)
    tokens: int = 0

    def __post_init__(self) -> None:
        self.tp = np.zeros(self.blocks, dtype=np.int64)
        self.fp = np.zeros(self.blocks, dtype=np.int64)
        self.fn = np.zeros(self.blocks, dtype=np.int64)
        self.neurons = np.zeros(self.blocks, dtype=np.int64)

    def add(self, pred_bits: np.ndarray, truth_bits: np.ndarray, byte_offsets: np.ndarray,
            sizes: np.ndarray) -> None:
        """Accumulate one token from packed predicted and true masks."""
        starts = byte_offsets[:-1]
        tp = np.add.reduceat(np.bitwise_count(pred_bits & truth_bits), starts, dtype=np.int64)
        npred = np.add.reduceat(np.bitwise_count(pred_bits), starts, dtype=np.int64)
        ntrue = np.add.reduceat(np.bitwise_count(truth_bits), starts, dtype=np.int64)
        self.tp += tp
        self.fp += npred - tp
        self.fn += ntrue - tp
        self.neurons += sizes
        self.tokens += 1

    def summary(self, select: np.ndarray | slice = slice(None)) -> dict:
        """Recall, precision, accuracy and predicted/true sparsity over the selected blocks."""
        tp, fp, fn = self.tp[select].sum(), self.fp[select].sum(), self.fn[select].sum()
        n = self.neurons[select].sum()
        tn = n - tp - fp - fn
        return {
            "recall": float(tp / max(tp + fn, 1)),
            "precision": float(tp / max(tp + fp, 1)),
            "accuracy": float((tp + tn) / max(n, 1)),
            "true_sparsity": float(1 - (tp + fn) / max(n, 1)),
            "predicted_sparsity": float(1 - (tp + fp) / max(n, 1)),
        }
