"""``open_trace``: one entry point for every trace format, yielding numpy chunks."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import numpy as np

from hermes_hw.errors import InputError, unknown_name

#: Accepted ``fmt`` values (Ramulator2's frontend names are aliases of the first two).
FORMATS: dict[str, str] = {
    "auto": "auto",
    "loadstore": "loadstore",
    "LoadStoreTrace": "loadstore",
    "readwrite": "readwrite",
    "ReadWriteTrace": "readwrite",
    "npz": "npz",
}

#: Default size of the blocks read from a text trace (bytes of decompressed text).
DEFAULT_BLOCK_BYTES = 4 << 20


class TraceChunk(NamedTuple):
    """Consecutive requests of a trace, in trace order.

    ``addr``: byte addresses (uint64), or None for a ReadWriteTrace of address vectors;
    ``is_write``: bool per request; ``addr_vec``: None, or int64 array (n, levels) of a
    ReadWriteTrace's address vectors (channel, rank, bank group, bank, row, column, ...).
    """

    addr: np.ndarray | None
    is_write: np.ndarray
    addr_vec: np.ndarray | None = None

    def __len__(self) -> int:  # type: ignore[override]
        return int(self.is_write.shape[0])


class TraceReader:
    """An iterable over a trace's chunks; create it with :func:`open_trace`.

    Iterating reads the file from the start each time. After (or during) an iteration,
    ``requests`` counts the requests yielded so far and ``format`` is the resolved format
    ("loadstore", "readwrite" or "npz"); ``vector_levels`` is the address-vector length of a
    ReadWriteTrace of vectors (0 for byte addresses).
    """

    def __init__(
        self,
        path: Path,
        fmt: str,
        capacity_bytes: int | None,
        block_bytes: int,
    ) -> None:
        self.path = path
        self.format = fmt
        self.capacity_bytes = capacity_bytes
        self.block_bytes = block_bytes
        self.requests = 0
        self.vector_levels = 0

    def __iter__(self) -> Iterator[TraceChunk]:
        self.requests = 0
        if self.format == "npz":
            from hermes_hw.dram.traces.npz import iter_npz_chunks

            chunks = iter_npz_chunks(self.path, self.capacity_bytes)
        else:
            from hermes_hw.dram.traces.text import iter_text_chunks

            chunks = iter_text_chunks(self, self.capacity_bytes)
        for chunk in chunks:
            self.requests += len(chunk)
            yield chunk
        if self.requests == 0:
            raise InputError("the trace contains no requests", source=str(self.path))

    def read_all(self) -> TraceChunk:
        """The whole trace as one chunk (memory grows with the trace; for small traces)."""
        parts = list(self)
        is_write = np.concatenate([c.is_write for c in parts])
        if parts[0].addr_vec is not None:
            return TraceChunk(None, is_write, np.concatenate([c.addr_vec for c in parts]))
        return TraceChunk(np.concatenate([c.addr for c in parts]), is_write)


def open_trace(
    path: str | os.PathLike[str],
    fmt: str = "auto",
    *,
    capacity_bytes: int | None = None,
    block_bytes: int = DEFAULT_BLOCK_BYTES,
) -> TraceReader:
    """Open a memory-request trace for streaming.

    ``fmt``: "auto" (``.npz`` by name, else text whose first request line decides between
    LD/ST and R/W), "loadstore" / "LoadStoreTrace", "readwrite" / "ReadWriteTrace" or "npz".
    Text may be plain or gzip-compressed (detected from the content, not the name).
    ``capacity_bytes``: if given, every byte address must be below it (the memory's capacity).
    ``block_bytes``: size of the text blocks read at a time (memory use is about 3x this).
    Returns a :class:`TraceReader`; iterate it for :class:`TraceChunk` s.
    """
    path = Path(path)
    if fmt not in FORMATS:
        raise unknown_name("trace format", fmt, FORMATS, source=str(path))
    resolved = FORMATS[fmt]
    if not path.is_file():
        what = "is a directory" if path.is_dir() else "does not exist"
        raise InputError(f"trace file {what}", source=str(path))
    if not os.access(path, os.R_OK):
        raise InputError("trace file is not readable (permission denied)", source=str(path))
    if resolved == "auto" and path.suffix.lower() == ".npz":
        resolved = "npz"
    if capacity_bytes is not None and int(capacity_bytes) <= 0:
        raise InputError(f"capacity_bytes must be positive, got {capacity_bytes}")
    if int(block_bytes) < 4096:
        raise InputError(f"block_bytes must be at least 4096, got {block_bytes}")
    return TraceReader(
        path, resolved, None if capacity_bytes is None else int(capacity_bytes), int(block_bytes)
    )
