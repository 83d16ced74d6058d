"""Activation sources (which neurons fire per token): synthetic and imported."""

from hermes_hw.workload.activations.base import (
    SOURCES,
    ActivationSource,
    ActivationTrace,
    BlockLayout,
    make_source,
    register_source,
)
from hermes_hw.workload.activations.synthetic import SyntheticSource

__all__ = [
    "SOURCES",
    "ActivationSource",
    "ActivationTrace",
    "BlockLayout",
    "SyntheticSource",
    "make_source",
    "register_source",
]
