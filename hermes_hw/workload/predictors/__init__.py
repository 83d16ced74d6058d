"""Predictors (which neurons will fire): Hermes, oracle, Deja Vu and PowerInfer cost models."""

from hermes_hw.workload.predictors import noisy, oracle  # noqa: F401  (registration)
from hermes_hw.workload.predictors.base import (
    PREDICTORS,
    PredictionMetrics,
    Predictor,
    PredictorContext,
    make_predictor,
    register_predictor,
)
from hermes_hw.workload.predictors.correlation import build_correlation_table
from hermes_hw.workload.predictors.hermes import (
    HermesPredictor,
    correlation_table_bytes,
    hermes_state_table_bytes,
    initial_state,
)

__all__ = [
    "PREDICTORS",
    "HermesPredictor",
    "PredictionMetrics",
    "Predictor",
    "PredictorContext",
    "build_correlation_table",
    "correlation_table_bytes",
    "hermes_state_table_bytes",
    "initial_state",
    "make_predictor",
    "register_predictor",
]
