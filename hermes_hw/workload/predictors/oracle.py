"""The oracle: predicts exactly the neurons that fire (an upper bound for ablations)."""

from __future__ import annotations

import numpy as np

from hermes_hw.workload.predictors.base import Predictor, PredictorContext, register_predictor


@register_predictor("oracle")
class OraclePredictor(Predictor):
    def start(self, ctx: PredictorContext) -> None:
        self.valid = ctx.valid

    def predict(self, truth: np.ndarray) -> np.ndarray:
        return truth.copy()
