"""Built-in point runners (importing this package registers them)."""

from hermes_hw.sweep.runners import dram_replay, simulate, workload  # noqa: F401
from hermes_hw.sweep.runners.base import RUNNERS, PointRunner, make_runner, register_runner

__all__ = ["RUNNERS", "PointRunner", "make_runner", "register_runner"]
