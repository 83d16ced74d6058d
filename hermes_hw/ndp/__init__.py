"""The NDP unit model and per-DIMM replay.

* :mod:`~hermes_hw.ndp.config`  pydantic configs (unit, layout, system) with paper defaults
* :mod:`~hermes_hw.ndp.unit`    per-op compute cost and the vectorised consume scan
* :mod:`~hermes_hw.ndp.replay`  cycle-level replay of one DIMM through the DRAM engine
* :mod:`~hermes_hw.ndp.run`     all DIMMs in parallel processes, summaries
* :mod:`~hermes_hw.ndp.fast`    the fitted analytical fast mode
"""
