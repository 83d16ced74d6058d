"""hermes-hw: simulate LLM inference on a consumer GPU with near-data-processing DIMMs."""

__version__ = "0.1.0"
