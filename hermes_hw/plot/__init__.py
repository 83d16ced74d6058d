"""Figures from result and trace files (matplotlib, Agg backend): ``hermes plot ...``.

Modules: :mod:`~hermes_hw.plot.dram` (command logs, latency histograms), :mod:`~hermes_hw.plot.
workload` (DIMM load balance, predictor quality), :mod:`~hermes_hw.plot.timeline` (Gantt chart
of a Chrome trace-event timeline), :mod:`~hermes_hw.plot.charts` (bar/line charts of tables).
Importing this package does not import matplotlib.
"""
