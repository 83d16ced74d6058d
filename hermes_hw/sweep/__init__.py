"""Parameter sweeps: grid files, stable point ids, resumable result folders, executors.

    grid = load_grid("grid.yaml")
    report = run_sweep(grid, workers=4)          # or scheduler="tcp://host:8786"
    print(report.tables[0].read_text())
"""

from hermes_hw.sweep.driver import SweepReport, run_sweep
from hermes_hw.sweep.grid import Grid, Point, load_grid
from hermes_hw.sweep.ids import point_id
from hermes_hw.sweep.runners import RUNNERS, PointRunner, make_runner, register_runner
from hermes_hw.sweep.store import SweepStore

__all__ = [
    "RUNNERS", "Grid", "Point", "PointRunner", "SweepReport", "SweepStore", "load_grid",
    "make_runner", "point_id", "register_runner", "run_sweep",
]
