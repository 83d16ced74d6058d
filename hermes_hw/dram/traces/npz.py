"""Binary traces: a ``.npz`` with arrays ``addr`` (uint64 byte addresses) and ``is_write`` (bool).

Both members are streamed from the zip (stored or deflated) in fixed-size chunks, so memory does
not grow with the trace. Nothing is unpickled (object arrays are refused).
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING

import numpy as np
from numpy.lib import format as npy_format

from hermes_hw.errors import InputError

if TYPE_CHECKING:
    from hermes_hw.dram.traces.reader import TraceChunk

#: Requests per chunk read from a .npz trace.
NPZ_CHUNK_REQUESTS = 1 << 20
MEMBERS = ("addr", "is_write")


def _header(member: IO[bytes], name: str, source: str) -> tuple[np.dtype, int]:
    try:
        version = npy_format.read_magic(member)
        if version == (1, 0):
            shape, fortran, dtype = npy_format.read_array_header_1_0(member)
        else:
            shape, fortran, dtype = npy_format.read_array_header_2_0(member)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as err:
        raise InputError(
            f"member '{name}' is not a valid .npy array ({err})", source=source
        ) from None
    if len(shape) != 1 or fortran or dtype.hasobject:
        raise InputError(
            f"member '{name}' must be a 1-D numeric array, got shape {shape} dtype {dtype}",
            source=source,
        )
    return dtype, int(shape[0])


def _read(member: IO[bytes], dtype: np.dtype, count: int, name: str, source: str) -> np.ndarray:
    nbytes = count * dtype.itemsize
    try:
        raw = member.read(nbytes)
    except (OSError, EOFError, zipfile.BadZipFile) as err:
        raise InputError(f"corrupt data in member '{name}' ({err})", source=source) from None
    if len(raw) != nbytes:
        raise InputError(f"member '{name}' is truncated", source=source)
    return np.frombuffer(raw, dtype=dtype)


def iter_npz_chunks(path: Path, capacity_bytes: int | None) -> Iterator[TraceChunk]:
    from hermes_hw.dram.traces.reader import TraceChunk

    source = str(path)
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as err:
        raise InputError(f"not a valid .npz file ({err})", source=source) from None
    with archive:
        names = {n.removesuffix(".npy") for n in archive.namelist()}
        missing = [m for m in MEMBERS if m not in names]
        if missing:
            raise InputError(
                f"missing array(s) {', '.join(missing)}; expected arrays 'addr' (uint64) and "
                f"'is_write' (bool), found {', '.join(sorted(names)) or 'none'}",
                source=source,
            )
        with archive.open("addr.npy") as fa, archive.open("is_write.npy") as fw:
            addr_dtype, n = _header(fa, "addr", source)
            write_dtype, n_w = _header(fw, "is_write", source)
            if addr_dtype.kind not in "ui":
                raise InputError(f"'addr' must be integers, got dtype {addr_dtype}", source=source)
            if write_dtype.kind not in "bui":
                raise InputError(f"'is_write' must be bool, got dtype {write_dtype}", source=source)
            if n != n_w:
                raise InputError(f"'addr' has {n} entries but 'is_write' has {n_w}", source=source)
            done = 0
            while done < n:
                count = min(NPZ_CHUNK_REQUESTS, n - done)
                addr = _read(fa, addr_dtype, count, "addr", source)
                flags = _read(fw, write_dtype, count, "is_write", source)
                if addr_dtype.kind == "i" and (addr < 0).any():
                    bad = int(np.argmax(addr < 0))
                    raise InputError(
                        f"negative address {int(addr[bad])}; expected a byte address >= 0",
                        source=f"{source}: request {done + bad + 1}",
                    )
                if write_dtype.kind != "b" and ((flags != 0) & (flags != 1)).any():
                    bad = int(np.argmax((flags != 0) & (flags != 1)))
                    raise InputError(
                        f"is_write must be 0 or 1, got {int(flags[bad])}",
                        source=f"{source}: request {done + bad + 1}",
                    )
                addr = addr.astype(np.uint64)
                if capacity_bytes is not None and (addr >= capacity_bytes).any():
                    bad = int(np.argmax(addr >= capacity_bytes))
                    raise InputError(
                        f"address {int(addr[bad]):#x} is beyond the memory capacity of "
                        f"{capacity_bytes} bytes ({capacity_bytes / 2**30:g} GiB)",
                        source=f"{source}: request {done + bad + 1}",
                    )
                yield TraceChunk(addr, flags.astype(np.bool_))
                done += count
