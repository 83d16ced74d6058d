"""Exports of a native trace directory to request-level formats other tools read.

* ``loadstore``: one Ramulator2 LoadStoreTrace per DIMM (``dimm<j>.trace``, ``LD``/``ST`` lines)
  in issue order; replay each on that DIMM's DRAM config.
* ``gem5``: one gem5 packet trace per DIMM (``dimm<j>.gem5.gz``); packet ticks are the issue
  order at one request per DRAM cycle (the stream's peak rate; the NDP unit's pacing is applied
  only by ``hermes replay``).

Requests are expanded in chunks, so memory stays bounded; the files can be large (about 20
bytes per request as text).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np

from hermes_hw.lowering.trace import TraceDir, expand_segments, split_segments

EXPORT_CHUNK = 1 << 20


def export(path: str | Path, fmt: str, out_dir: str | Path | None = None) -> list[Path]:
    td = TraceDir(path)
    out_dir = Path(out_dir or td.path)
    files = []
    for j in range(td.n_dimms):
        if fmt == "loadstore":
            files.append(_loadstore(td, j, out_dir / f"dimm{j}.trace"))
        elif fmt == "gem5":
            files.append(_gem5(td, j, out_dir / f"dimm{j}.gem5.gz"))
        else:
            raise ValueError(fmt)
    return files


def _chunks(td: TraceDir, j: int):
    for segs in td.iter_segments(j):
        for part in split_segments(segs, EXPORT_CHUNK):
            addr, is_write, _ = expand_segments(part)
            yield addr, is_write


def _loadstore(td: TraceDir, j: int, dest: Path) -> Path:
    from hermes_hw.dram.traces.writer import write_loadstore

    with tempfile.TemporaryDirectory(dir=dest.parent) as tmp, open(dest, "wb") as out:
        part = Path(tmp) / "part.trace"
        for addr, is_write in _chunks(td, j):
            write_loadstore(part, addr, is_write)
            with open(part, "rb") as f:
                shutil.copyfileobj(f, out)
    return dest


def _gem5(td: TraceDir, j: int, dest: Path) -> Path:
    from hermes_hw.gem5.writer import DEFAULT_TICK_FREQ_HZ, Gem5TraceWriter
    from hermes_hw.ndp.fast import _tck_ns

    tck_ps = _tck_ns(td) * 1000.0
    n = 0
    with Gem5TraceWriter(dest, tick_freq=DEFAULT_TICK_FREQ_HZ, obj_id="hermes-ndp") as w:
        for addr, is_write in _chunks(td, j):
            ticks = np.round(np.arange(n, n + len(addr)) * tck_ps).astype(np.int64)
            w.write(ticks, addr.astype(np.int64), is_write, 64)
            n += len(addr)
    return dest
