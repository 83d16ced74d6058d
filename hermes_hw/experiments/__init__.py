"""The paper's experiment set (configs/experiments/*.yaml) and `hermes reproduce`."""

from hermes_hw.experiments.reproduce import Outcome, reproduce
from hermes_hw.experiments.spec import ExperimentSpec, load_experiment, load_experiments

__all__ = ["ExperimentSpec", "Outcome", "load_experiment", "load_experiments", "reproduce"]
