"""Run a grid: skip finished points, run the rest on an executor, write the table."""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hermes_hw.sweep.executors import DaskExecutor, ProcessExecutor, SerialExecutor
from hermes_hw.sweep.grid import Grid
from hermes_hw.sweep.store import SweepStore


@dataclass
class SweepReport:
    points: int
    skipped: int
    ran: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (id, message)
    tables: list[Path] = field(default_factory=list)
    executor: str = "serial"
    wall_seconds: float = 0.0


def make_executor(workers: int | None, scheduler: Any, pending: int,
                  connect_timeout_s: float = 20.0):
    if scheduler is not None:
        return DaskExecutor(scheduler, connect_timeout_s)
    n = (os.cpu_count() or 1) if workers is None else workers
    n = min(n, pending)
    return ProcessExecutor(n) if n > 1 else SerialExecutor()


def run_sweep(grid: Grid, *, workers: int | None = None, scheduler: Any = None,
              rerun: list[str] | tuple[str, ...] = (), progress: bool | None = None,
              connect_timeout_s: float = 20.0, write_table: bool = True) -> SweepReport:
    """Run every unfinished point of ``grid`` (and the ``rerun`` ids) and write the table.

    ``workers``: local processes (None: one per CPU; 1: in this process). ``scheduler``: a Dask
    scheduler address or ``distributed.Client`` (overrides ``workers``; ``connect_timeout_s`` to
    reach it). ``progress``: tqdm bar on
    stderr (None: only on a terminal). ``write_table``: False leaves the table to the caller."""
    from tqdm import tqdm

    t0 = time.perf_counter()
    store = SweepStore(grid)
    targets = [grid.point(pid) for pid in rerun]  # unknown ids fail before anything changes
    store.prepare()
    for point in targets:
        store.forget(point)
    pending = [p for p in grid.points if not store.is_finished(p)]
    report = SweepReport(points=len(grid.points), skipped=len(grid.points) - len(pending))
    if pending:
        tasks = [(type(grid.runner), p.config, str(grid.base_dir.resolve()),
                  str(store.start_point(p).resolve())) for p in pending]
        executor = make_executor(workers, scheduler, len(pending), connect_timeout_s)
        report.executor = executor.name
        bar = tqdm(total=len(pending), desc=f"sweep {Path(grid.source).name}", unit="point",
                   file=sys.stderr, disable=None if progress is None else not progress)
        try:
            for i, outcome in executor.run(tasks):
                point = pending[i]
                if outcome.error is None:
                    store.save_result(point, outcome.values or {}, outcome.meta or {})
                    report.ran.append(point.id)
                else:
                    store.save_error(point, outcome.error)
                    report.failed.append((point.id, outcome.error.strip().splitlines()[-1]))
                bar.update(1)
        finally:
            bar.close()
            executor.close()
    if write_table:
        report.tables = store.write_table()
    report.wall_seconds = time.perf_counter() - t0
    return report
