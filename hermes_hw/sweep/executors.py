"""Where sweep points run: in this process, in local worker processes, or on a Dask cluster.

Every executor runs :func:`execute_point` on (runner class, config, base dir, point dir) tuples
and yields ``(task index, outcome)`` as points finish; the driver writes each result itself, so
results and tables never depend on the executor.
"""

from __future__ import annotations

import multiprocessing
import traceback
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hermes_hw.errors import InputError

Task = tuple[type, dict[str, Any], str, str | None]


@dataclass
class Outcome:
    values: dict[str, Any] | None = None
    meta: dict[str, Any] | None = None
    error: str | None = None  # one line for bad input, else a traceback


def execute_point(runner_cls: type, config: dict[str, Any], base_dir: str,
                  point_dir: str | None) -> Outcome:
    """Run one point; never raises (failures come back as ``Outcome.error``)."""
    try:
        runner = runner_cls()
        values, meta = runner.run(config, Path(base_dir), Path(point_dir) if point_dir else None)
        return Outcome(values=values, meta=meta)
    except InputError as err:
        return Outcome(error=str(err))
    except Exception:  # noqa: BLE001 - reported per point, the sweep goes on
        return Outcome(error=traceback.format_exc())


class SerialExecutor:
    name = "serial"

    def run(self, tasks: list[Task]) -> Iterator[tuple[int, Outcome]]:
        for i, task in enumerate(tasks):
            yield i, execute_point(*task)

    def close(self) -> None:
        pass


class ProcessExecutor:
    """Local worker processes (spawned, so each starts clean; the built-in runners and any
    runner defined in an importable module work)."""

    name = "processes"

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.pool = ProcessPoolExecutor(max_workers=workers,
                                        mp_context=multiprocessing.get_context("spawn"))

    def run(self, tasks: list[Task]) -> Iterator[tuple[int, Outcome]]:
        futures = {self.pool.submit(execute_point, *task): i for i, task in enumerate(tasks)}
        pending = set(futures)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in sorted(done, key=futures.__getitem__):
                try:
                    yield futures[fut], fut.result()
                except Exception as err:  # noqa: BLE001 - a worker died (killed, out of memory)
                    yield futures[fut], Outcome(error=f"worker process failed: {err!r}")

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


class DaskExecutor:
    """A dask.distributed cluster: ``scheduler`` is an address (tcp://host:port) or an existing
    ``distributed.Client``. Input files (traces) must be readable at the same paths on the
    workers; results come back to this process."""

    name = "dask"

    def __init__(self, scheduler: Any, connect_timeout_s: float = 20.0) -> None:
        try:
            import distributed
        except ImportError:
            raise InputError("--scheduler needs dask.distributed: pip install "
                             "'hermes-hw[dask]'") from None
        self._distributed = distributed
        if isinstance(scheduler, distributed.Client):
            self.client, self._own = scheduler, False
        else:
            try:
                self.client = distributed.Client(scheduler, timeout=f"{connect_timeout_s}s")
            except OSError as err:
                raise InputError(f"cannot connect to the Dask scheduler ({err})",
                                 source=str(scheduler)) from None
            self._own = True

    def run(self, tasks: list[Task]) -> Iterator[tuple[int, Outcome]]:
        futures = [self.client.submit(execute_point, *task, pure=False) for task in tasks]
        index = {f.key: i for i, f in enumerate(futures)}
        for fut in self._distributed.as_completed(futures):
            try:
                yield index[fut.key], fut.result()
            except Exception as err:  # noqa: BLE001 - worker lost etc.
                yield index[fut.key], Outcome(error=f"dask task failed: {err!r}")

    def close(self) -> None:
        if self._own:
            self.client.close()
