"""Exports of a native trace directory to request-level formats other tools read.

* ``loadstore``: one Ramulator2 LoadStoreTrace per DIMM (``dimm<j>.trace``, ``LD``/``ST`` lines)
  in issue order; replay each on that DIMM's DRAM config.
* ``gem5``: one gem5 packet trace per DIMM (``dimm<j>.gem5.gz``); each packet's tick is the
  simulated issue time of its request: the cycle at which the DIMM's DRAM engine (its config in
  the trace) accepted it when the stream is replayed back to back, times tCK (1 tick = 1 ps).

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


def export(path: str | Path, fmt: str, out_dir: str | Path | None = None, *,
           dimms: list[int] | None = None, layers: list[int] | None = None) -> list[Path]:
    """Write ``fmt`` ("loadstore" or "gem5") traces of the DIMMs (all by default), optionally
    restricted to some decoder layers; returns the files written."""
    td = TraceDir(path)
    out_dir = Path(out_dir or td.path)
    out_dir.mkdir(parents=True, exist_ok=True)
    files = []
    for j in range(td.n_dimms) if dimms is None else dimms:
        if fmt == "loadstore":
            files.append(_loadstore(td, j, out_dir / f"dimm{j}.trace", layers))
        elif fmt == "gem5":
            files.append(_gem5(td, j, out_dir / f"dimm{j}.gem5.gz", layers))
        else:
            raise ValueError(fmt)
    return files


def _chunks(td: TraceDir, j: int, layers: list[int] | None = None):
    keep = None if layers is None else np.isin(td.ops(j)["layer"], layers)
    for segs in td.iter_segments(j):
        if keep is not None:
            segs = segs[keep[segs["op"]]]
        for part in split_segments(segs, EXPORT_CHUNK):
            addr, is_write, _ = expand_segments(part)
            yield addr, is_write


def _loadstore(td: TraceDir, j: int, dest: Path, layers: list[int] | None = None) -> Path:
    from hermes_hw.dram.traces.writer import write_loadstore

    with tempfile.TemporaryDirectory(dir=dest.parent) as tmp, open(dest, "wb") as out:
        part = Path(tmp) / "part.trace"
        for addr, is_write in _chunks(td, j, layers):
            write_loadstore(part, addr, is_write)
            with open(part, "rb") as f:
                shutil.copyfileobj(f, out)
    return dest


def issue_cycles(td: TraceDir, j: int, layers: list[int] | None = None):
    """(addr, is_write, accepted cycle) chunks of DIMM j: its stream replayed back to back on the
    trace's DRAM config, each request stamped with the memory cycle it was accepted in."""
    from hermes_hw.dram.memory_system import MemorySystem
    from hermes_hw.ndp.replay import trace_system

    ms = MemorySystem.from_yaml(trace_system(td).dram_mapping())
    for addr, is_write in _chunks(td, j, layers):
        accepted = np.empty(len(addr), dtype=np.int64)
        if ms.backend.run_trace(addr, is_write, None, -1, accepted) != len(addr):
            raise RuntimeError("DRAM engine rejected part of the stream")
        yield addr, is_write, accepted


def _gem5(td: TraceDir, j: int, dest: Path, layers: list[int] | None = None) -> Path:
    from hermes_hw.dram.memory_system import MemorySystem
    from hermes_hw.gem5.writer import Gem5TraceWriter
    from hermes_hw.ndp.replay import trace_system

    tck_ps = MemorySystem.from_yaml(trace_system(td).dram_mapping()).resolved.tck_ps
    with Gem5TraceWriter(dest, tick_freq=10**12, obj_id="hermes-ndp") as w:  # 1 tick = 1 ps
        for addr, is_write, accepted in issue_cycles(td, j, layers):
            w.write(accepted * tck_ps, addr.astype(np.int64), is_write, 64)
    return dest
