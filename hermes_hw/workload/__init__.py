"""Workload side of hermes-hw: what the GPU and each NDP-DIMM must do per token.

Stages (each a small interface with implementations registered by name):

* :mod:`~hermes_hw.workload.models`       model shapes from YAML or a Hugging Face config.json
* :mod:`~hermes_hw.workload.activations`  which neurons fire per token (synthetic or imported)
* :mod:`~hermes_hw.workload.predictors`   which neurons the scheduler predicts will fire
* :mod:`~hermes_hw.workload.placement`    where each neuron lives (offline ILP, greedy, ...) plus
  the online hot/cold adjustment and the window-based DIMM remapping
* :mod:`~hermes_hw.workload.worklist`     the per-token, per-layer work list handed to lowering
* :mod:`~hermes_hw.workload.pipeline`     ties the stages together for one run
"""
