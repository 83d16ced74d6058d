"""Lowering: per token, layer and DIMM, the NDP core's memory commands and operations.

* :mod:`~hermes_hw.lowering.work`    the input (typed work lists) and converters from the
  workload pipeline's :class:`~hermes_hw.workload.worklist.TokenWork`
* :mod:`~hermes_hw.lowering.ops`     the op record and op kinds
* :mod:`~hermes_hw.lowering.lower`   work list + layout -> per-DIMM ops and request segments
* :mod:`~hermes_hw.lowering.trace`   the versioned trace directory (writer, reader, exports)
"""
