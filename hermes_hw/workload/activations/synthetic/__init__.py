"""Synthetic activation source calibrated per model family."""

from hermes_hw.workload.activations.synthetic.generator import SyntheticSource, block_targets

__all__ = ["SyntheticSource", "block_targets"]
