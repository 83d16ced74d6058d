"""The Hermes predictor (paper section 5), every open choice a parameter.

* Token-wise state ``s1``: 4-bit saturating counter (0..15) per neuron, initialised from the
  neuron's prefill activation frequency in 16 bands (``band_edges``: 15 increasing edges; a
  frequency above ``k`` edges gives state ``k``; defaults: >90% -> 15, <=2% -> 0, linear between),
  then ``+fire_increment`` when it fired, ``-miss_decrement`` when not (saturating).
* Layer-wise ``s2``: how many of the neuron's 2 most correlated previous-layer neurons fired in
  this token. First-layer neurons have no previous layer: ``first_layer_s2`` stands in.
* Rule: active if ``s1 + layer_weight * s2  > threshold`` (``comparison`` '>' as printed, or
  '>='). Hot (for the online adjustment) if ``s1 > hot_threshold``.
"""

from __future__ import annotations

import numpy as np

from hermes_hw.errors import InputError
from hermes_hw.workload.predictors.base import Predictor, PredictorContext, register_predictor

STATE_BITS = 4
STATE_MAX = 15


def default_band_edges(low: float = 0.02, high: float = 0.90) -> np.ndarray:
    """15 edges, linear from ``low`` (<= -> state 0) to ``high`` (> -> state 15)."""
    return np.linspace(low, high, STATE_MAX)


def initial_state(frequency: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """State 0..15 = number of band edges strictly below the frequency (compared in float64;
    one pass per edge, ~4x faster than a binary search per neuron)."""
    state = np.zeros(len(frequency), dtype=np.uint8)
    for edge in np.asarray(edges, dtype=np.float64):
        state += frequency > edge
    return state


def hermes_state_table_bytes(model) -> int:
    """Bytes of the 4-bit state table (attention + MLP neurons of every layer)."""
    neurons = model.num_layers * (model.hidden_size + model.ffn_size)
    return neurons * STATE_BITS // 8


def correlation_table_bytes(model) -> int:
    """Bytes of the top-2 correlation table: 2 previous-layer indices per neuron, each index
    ``ceil(log2(neurons in the previous layer))`` bits ([O] the paper gives no encoding)."""
    total_bits = 0
    for n in (model.hidden_size, model.ffn_size):
        total_bits += (model.num_layers - 1) * n * 2 * int(np.ceil(np.log2(n)))
    return total_bits // 8


_PAIR_MEMO: list = []  # [(partners array, result)]: the last table seen (read-only tables only)


def _pair_shift_memo(partners: np.ndarray) -> tuple[int, int] | None:
    """:func:`_sibling_pair_shift`, remembered for the last read-only table (the prompt's
    partner table is shared by a run's passes, hermes_hw.workload.pipeline.prefill_statistics)."""
    if partners.flags.writeable:
        return _sibling_pair_shift(partners)
    if _PAIR_MEMO and _PAIR_MEMO[0][0] is partners:
        return _PAIR_MEMO[0][1]
    result = _sibling_pair_shift(partners)
    _PAIR_MEMO[:] = [(partners, result)]
    return result


def _sibling_pair_shift(partners: np.ndarray) -> tuple[int, int] | None:
    """(shift, first) if every neuron ``i >= first`` has partners ``2*((i-shift)//2)`` and
    ``+1`` and the neurons before ``first`` have none (the synthetic source's layout)."""
    has = (partners >= 0).all(axis=1)
    if not has.any():
        return None
    first = int(np.argmax(has))
    if has[:first].any() or not has[first:].all():
        return None
    shift = first - int(partners[first, 0])
    if shift <= 0 or shift % 2:
        return None
    # base = 2 * ((i - shift) // 2) for i >= first, where i - shift >= 0: clear the low bit
    base = np.arange(first - shift, len(partners) - shift, dtype=partners.dtype)
    base &= ~1
    if not (np.array_equal(partners[first:, 0], base)
            and np.array_equal(partners[first:, 1], base + 1)):
        return None
    return shift, first


@register_predictor("hermes")
class HermesPredictor(Predictor):
    def __init__(
        self,
        fire_increment: int = 4,
        miss_decrement: int = 1,
        layer_weight: int = 6,
        threshold: int = 15,
        comparison: str = ">",
        hot_threshold: int = 10,
        first_layer_s2: int = 1,
        band_edges: list[float] | None = None,
        use_token: bool = True,
        use_layer: bool = True,
    ) -> None:
        if comparison not in (">", ">="):
            raise InputError(f"predictor comparison must be '>' or '>=', got '{comparison}'")
        if not 0 <= first_layer_s2 <= 2:
            raise InputError(f"first_layer_s2 must be 0, 1 or 2, got {first_layer_s2}")
        edges = default_band_edges() if band_edges is None else np.asarray(band_edges, float)
        if edges.shape != (STATE_MAX,) or np.any(np.diff(edges) <= 0):
            raise InputError("band_edges must be 15 strictly increasing frequencies")
        self.fire_increment, self.miss_decrement = fire_increment, miss_decrement
        self.layer_weight, self.threshold, self.comparison = layer_weight, threshold, comparison
        self.hot_threshold, self.first_layer_s2, self.edges = hot_threshold, first_layer_s2, edges
        self.use_token, self.use_layer = use_token, use_layer
        if comparison == ">=":  # s >= t  <=>  s > t - 1 on integers
            threshold -= 1
        self._cut = threshold

        self.state = np.zeros(0, dtype=np.uint8)

    def start(self, ctx: PredictorContext) -> None:
        self.state = initial_state(ctx.prefill_frequency, self.edges)
        self.state[~ctx.valid] = 0
        n = len(self.state)
        self._pairs = _pair_shift_memo(ctx.partners)
        if self._pairs is not None:  # sibling-pair tables take the fast path in _s2
            return
        partners = ctx.partners.copy()
        # sentinels: index n reads False, n + 1 reads True (first layer's stand-in s2)
        missing = partners < 0
        first = missing.all(axis=1)
        partners[missing] = n
        partners[first, : self.first_layer_s2] = n + 1
        self._p0 = np.ascontiguousarray(partners[:, 0], dtype=np.intp)
        self._p1 = np.ascontiguousarray(partners[:, 1], dtype=np.intp)
        self._ext = np.zeros(n + 2, dtype=np.uint8)
        self._ext[n + 1] = 1

    def _s2(self, truth: np.ndarray) -> np.ndarray:
        """How many of each neuron's two partners fired (uint8 0..2)."""
        n = len(self.state)
        t8 = truth.view(np.uint8)
        if self._pairs is not None:  # fast path: partners are sibling pairs 'shift' earlier
            shift, first_n = self._pairs
            pair = t8[0::2] + t8[1::2]
            s2 = np.empty(n, dtype=np.uint8)
            s2[:first_n] = self.first_layer_s2
            s2[first_n:] = np.repeat(pair, 2)[first_n - shift: n - shift]
            return s2
        ext = self._ext
        ext[:n] = t8
        s2 = ext.take(self._p0)
        s2 += ext.take(self._p1)
        return s2

    def predict(self, truth: np.ndarray) -> np.ndarray:
        s2 = self._s2(truth) if self.use_layer else np.full(len(self.state), self.first_layer_s2,
                                                             np.uint8)
        score = s2 * np.uint8(self.layer_weight)
        score += self.state if self.use_token else np.uint8(self.hot_threshold)
        return score > self._cut

    def update(self, truth: np.ndarray) -> None:
        st = self.state
        up = np.minimum(st, np.uint8(STATE_MAX - self.fire_increment))
        up += np.uint8(self.fire_increment)
        down = np.maximum(st, np.uint8(self.miss_decrement))
        down -= np.uint8(self.miss_decrement)
        up -= down  # >= 1: up >= 4 > down or up = down + 5
        up *= truth.view(np.uint8)
        down += up
        self.state = down

    def hotness(self) -> np.ndarray:
        return self.state

    def cost(self, model) -> dict:
        state = hermes_state_table_bytes(model)
        corr = correlation_table_bytes(model)
        neurons = model.num_layers * (model.hidden_size + model.ffn_size)
        return {
            "table_bytes": state + corr,
            "state_table_bytes": state,
            "correlation_table_bytes": corr,
            # per neuron: 2 table reads, an add, a multiply-add, a compare, a saturating update
            "ops_per_token": 6 * neurons,
            "flops_per_token": 0,
            "runs_on": "host CPU (tables in the last-level cache)",
        }
