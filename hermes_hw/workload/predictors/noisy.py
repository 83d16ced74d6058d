"""Learned-predictor cost models (Deja Vu, PowerInfer): accuracy as parameters, cost from shapes.

We do not run the MLPs; we model their *effect* on the work: each truly active neuron is predicted
with probability ``recall``, each inactive one with probability ``false_positive_rate`` (seeded,
deterministic), and their *cost* from the published architectures (peers.md section 2).
"""

from __future__ import annotations

import numpy as np

from hermes_hw.workload.predictors.base import Predictor, PredictorContext, register_predictor

# PowerInfer Table 6 predictor sizes (parameters), used to size the hidden layer per model.
POWERINFER_TABLE6_PARAMS = {
    "opt-13b": 0.88e9,
    "opt-66b": 3.23e9,
    "falcon-40b": 3.63e9,
    "llama2-70b": 5.66e9,
}


class _NoisyPredictor(Predictor):
    def __init__(self, recall: float, false_positive_rate: float, seed: int = 0) -> None:
        self.recall, self.fpr, self.seed = recall, false_positive_rate, seed

    def start(self, ctx: PredictorContext) -> None:
        self.rng = np.random.default_rng([self.seed, 0xD5])
        self.valid = ctx.valid
        self._r = np.uint16(round(self.recall * 65535))
        self._f = np.uint16(round(self.fpr * 65535))

    def predict(self, truth: np.ndarray) -> np.ndarray:
        u = self.rng.integers(0, 65535, size=truth.shape, dtype=np.uint16)
        out = np.where(truth, u < self._r, u < self._f)
        out &= self.valid
        return out


@register_predictor("dejavu")
class DejaVuPredictor(_NoisyPredictor):
    """Deja Vu MLP predictor: per layer Linear(d, 1000) -> Linear(1000, ffn), sigmoid >= 0.5.
    Defaults: recall 0.93 ('at least 93% accuracy'), 5% false positives ([O])."""

    def __init__(self, recall: float = 0.93, false_positive_rate: float = 0.05,
                 hidden: int = 1000, seed: int = 0) -> None:
        super().__init__(recall, false_positive_rate, seed)
        self.hidden = hidden

    def cost(self, model) -> dict:
        params = model.num_layers * self.hidden * (model.hidden_size + model.ffn_size)
        return {"table_bytes": 2 * params, "params": params, "flops_per_token": 2 * params,
                "runs_on": "GPU"}


@register_predictor("powerinfer")
class PowerInferPredictor(_NoisyPredictor):
    """PowerInfer predictor: per layer d -> hidden -> ffn, ReLU, no bias. Defaults from the
    ProSparse-13B measurement: recall 0.911, and false positives that turn a true 88.8% sparsity
    into a predicted 78.3% (rate (0.217 - 0.911 * 0.112) / 0.888 = 0.1295)."""

    def __init__(self, recall: float = 0.911, false_positive_rate: float = 0.1295,
                 hidden: int | None = None, seed: int = 0) -> None:
        super().__init__(recall, false_positive_rate, seed)
        self.hidden = hidden

    def hidden_for(self, model) -> int:
        if self.hidden is not None:
            return self.hidden
        per = model.num_layers * (model.hidden_size + model.ffn_size)
        if model.id in POWERINFER_TABLE6_PARAMS:
            return max(1, round(POWERINFER_TABLE6_PARAMS[model.id] / per))
        return 1024

    def cost(self, model) -> dict:
        hidden = self.hidden_for(model)
        params = model.num_layers * hidden * (model.hidden_size + model.ffn_size)
        return {"table_bytes": 2 * params, "params": params, "hidden": hidden,
                "flops_per_token": 2 * params, "runs_on": "GPU"}
