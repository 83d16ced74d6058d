"""Model shapes: built-in YAML models, Hugging Face config.json import, derived neuron groups."""

from hermes_hw.workload.models.loader import builtin_model_ids, load_model, load_model_config
from hermes_hw.workload.models.spec import (
    NEURON_KINDS,
    ActivityProfile,
    ArchitectureConfig,
    ModelConfig,
    ModelSpec,
    NeuronGroup,
    NeuronKind,
)

__all__ = [
    "NEURON_KINDS",
    "ActivityProfile",
    "ArchitectureConfig",
    "ModelConfig",
    "ModelSpec",
    "NeuronGroup",
    "NeuronKind",
    "builtin_model_ids",
    "load_model",
    "load_model_config",
]
