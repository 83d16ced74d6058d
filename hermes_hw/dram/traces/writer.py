"""Writing traces: Ramulator2 LoadStoreTrace text (plain or .gz) and the binary .npz form."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np

from ramulator_bridge import traceio_lib

#: Requests formatted per C call when writing text.
WRITE_CHUNK_REQUESTS = 1 << 20
_MAX_LINE_BYTES = 22  # "ST 0x" + 16 hex digits + "\n"


def _columns(addr: np.ndarray, is_write: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    addr = np.asarray(addr)
    is_write = np.asarray(is_write)
    if addr.ndim != 1 or is_write.shape != addr.shape:
        raise ValueError(
            f"addr and is_write must be 1-D arrays of equal length, got shapes {addr.shape} "
            f"and {is_write.shape}"
        )
    if addr.dtype.kind not in "ui":
        raise ValueError(f"addr must be an integer array, got dtype {addr.dtype}")
    if addr.dtype.kind == "i" and addr.size and addr.min() < 0:
        raise ValueError("addr contains negative addresses")
    return np.ascontiguousarray(addr, dtype=np.uint64), np.ascontiguousarray(
        is_write, dtype=np.bool_
    ).view(np.uint8)


def write_loadstore(
    path: str | os.PathLike[str], addr: np.ndarray, is_write: np.ndarray, *, compresslevel: int = 6
) -> int:
    """Write a LoadStoreTrace (``LD 0x<hex>`` / ``ST 0x<hex>`` lines, lowercase hex, as the
    Ramulator2 reference traces). A path ending in ``.gz`` is gzip-compressed. Returns the
    number of lines written."""
    ffi, lib = traceio_lib()
    addr, flags = _columns(addr, is_write)
    path = Path(path)
    out = np.empty(min(len(addr), WRITE_CHUNK_REQUESTS) * _MAX_LINE_BYTES, dtype=np.uint8)
    out_ptr = ffi.from_buffer("char[]", out)
    if path.suffix == ".gz":
        f = gzip.open(path, "wb", compresslevel=compresslevel)
    else:
        f = open(path, "wb")  # noqa: SIM115 - closed below
    with f:
        for start in range(0, len(addr), WRITE_CHUNK_REQUESTS):
            a = addr[start : start + WRITE_CHUNK_REQUESTS]
            w = flags[start : start + WRITE_CHUNK_REQUESTS]
            nbytes = lib.hermes_trace_format_loadstore(
                ffi.from_buffer("uint64_t[]", a),
                ffi.from_buffer("uint8_t[]", w),
                len(a),
                out_ptr,
                out.nbytes,
            )
            if nbytes < 0:  # pragma: no cover - the buffer is sized for the longest line
                raise RuntimeError("trace formatting buffer too small")
            f.write(out[:nbytes].tobytes())
    return len(addr)


def write_npz(
    path: str | os.PathLike[str], addr: np.ndarray, is_write: np.ndarray, *, compressed: bool = True
) -> int:
    """Write the binary trace form read by ``open_trace(path)`` for ``.npz`` paths: arrays
    ``addr`` (uint64) and ``is_write`` (bool). Returns the number of requests."""
    addr, flags = _columns(addr, is_write)
    save = np.savez_compressed if compressed else np.savez
    with open(path, "wb") as f:
        save(f, addr=addr, is_write=flags.view(np.bool_))
    return len(addr)
