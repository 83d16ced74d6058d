"""Text traces (Ramulator2 LoadStoreTrace / ReadWriteTrace), parsed in C block by block."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING

import numpy as np

from hermes_hw.errors import InputError
from ramulator_bridge import traceio_lib

if TYPE_CHECKING:
    from hermes_hw.dram.traces.reader import TraceChunk, TraceReader

GZIP_MAGIC = b"\x1f\x8b"
#: No valid line is longer than this (bytes); a longer one means a wrong or binary file.
MAX_LINE_BYTES = 1 << 16
#: Largest number of address-vector records parsed per C call (bounds the vector buffer).
MAX_VECTOR_RECORDS = 1 << 18

_EXPECTED = {
    "loadstore": "'LD|ST <address>' (address: 0x-prefixed hex or decimal)",
    "readwrite": "'R|W <address>' (address: 0x-prefixed hex or decimal byte address, or a "
    "Ramulator2 address vector such as 0,0,1,2,100,5)",
    "auto": "'LD|ST <address>' or 'R|W <address>' (address: 0x-prefixed hex or decimal)",
}
_OPS = {b"LD": "loadstore", b"ST": "loadstore", b"R": "readwrite", b"W": "readwrite"}


def _open(path: Path) -> tuple[IO[bytes], bool]:
    raw = open(path, "rb")  # noqa: SIM115 - closed by the caller
    is_gzip = raw.read(2) == GZIP_MAGIC
    raw.seek(0)
    if is_gzip:
        return gzip.GzipFile(fileobj=raw, mode="rb"), True
    return raw, False


def _read_block(f: IO[bytes], size: int, is_gzip: bool, source: str) -> bytes:
    try:
        return f.read(size)
    except (EOFError, gzip.BadGzipFile, zlib.error) as err:
        raise InputError(f"truncated or corrupt gzip data ({err})", source=source) from None
    except OSError as err:
        what = "gzip data" if is_gzip else "file"
        raise InputError(f"cannot read {what} ({err})", source=source) from None


def _first_record(data: bytes, final: bool) -> tuple[int, bytes] | None:
    """(1-based line number, stripped text) of the first non-blank, non-comment line."""
    pos = 0
    line_no = 0
    while pos < len(data):
        nl = data.find(b"\n", pos)
        if nl < 0 and not final:
            return None
        end = len(data) if nl < 0 else nl
        line_no += 1
        text = data[pos:end].strip()
        if text and not text.startswith(b"#"):
            return line_no, text
        pos = end + 1
    return None


def _show(text: bytes) -> str:
    shown = text.decode("latin-1")
    return "".join(c if c.isprintable() else "?" for c in shown)


def _error(parser, ffi, lib, fmt: str, source: str, levels: int) -> InputError:
    text = _show(ffi.string(parser.error_text))
    where = f"{source}:{parser.error_line}"
    expected = _EXPECTED[fmt]
    code = parser.error
    if code == lib.HT_E_RANGE:
        msg = f"number does not fit in 64 bits; expected {expected}, got '{text}'"
    elif code == lib.HT_E_CAPACITY:
        cap = int(parser.capacity_bytes)
        msg = (
            f"address {int(parser.error_value):#x} is beyond the memory capacity of {cap} bytes "
            f"({cap / 2**30:g} GiB); expected an address below {cap:#x}, got '{text}'"
        )
    elif code == lib.HT_E_VECLEN:
        first = f"{levels}-level address vectors" if levels else "byte addresses"
        msg = (
            f"the trace's first request uses {first}; every line must use the same form "
            f"(vectors of 2 to {lib.HT_MAX_LEVELS} levels); got '{text}'"
        )
    elif code == lib.HT_E_NUL:
        msg = f"NUL byte in a text trace (binary file?); expected {expected}"
    else:
        msg = f"expected {expected}, got '{text}'"
    return InputError(msg, source=where)


def iter_text_chunks(reader: TraceReader, capacity_bytes: int | None) -> Iterator[TraceChunk]:
    from hermes_hw.dram.traces.reader import TraceChunk

    ffi, lib = traceio_lib()
    source = str(reader.path)
    fmt = reader.format
    parser = ffi.new("hermes_trace_parser *")
    consumed = ffi.new("size_t *")
    started = False
    vector = False
    carry = b""
    f, is_gzip = _open(reader.path)
    with f:
        while True:
            block = _read_block(f, reader.block_bytes, is_gzip, source)
            final = not block
            data = carry + block if carry else block
            if not started:
                first = _first_record(data, final)
                if first is None:
                    if final:
                        return
                    carry = data
                    continue
                line_no, text = first
                op = text.split(None, 1)[0]
                if fmt == "auto":
                    if op not in _OPS:
                        got = _show(text[: lib.HT_ERR_TEXT - 1])
                        raise InputError(
                            f"expected {_EXPECTED['auto']}, got '{got}'",
                            source=f"{source}:{line_no}",
                        )
                    fmt = reader.format = _OPS[op]
                vector = fmt == "readwrite" and b"," in text
                code = lib.HT_FMT_LOADSTORE if fmt == "loadstore" else lib.HT_FMT_READWRITE
                lib.hermes_trace_parser_init(parser, code, capacity_bytes or 0)
                started = True
            buf = ffi.from_buffer("char[]", data)
            pos = 0
            while True:
                remaining = len(data) - pos
                cap = remaining // 4 + 2
                if vector:
                    cap = min(cap, MAX_VECTOR_RECORDS)
                    vec = np.empty((cap, lib.HT_MAX_LEVELS), dtype=np.int64)
                    vec_ptr = ffi.from_buffer("int64_t[]", vec)
                else:
                    vec, vec_ptr = None, ffi.NULL
                addr = np.empty(cap, dtype=np.uint64)
                is_write = np.empty(cap, dtype=np.uint8)
                n = lib.hermes_trace_parse(
                    parser,
                    buf + pos,
                    remaining,
                    1 if final else 0,
                    ffi.from_buffer("uint64_t[]", addr),
                    ffi.from_buffer("uint8_t[]", is_write),
                    vec_ptr,
                    cap,
                    consumed,
                )
                if n < 0:
                    raise _error(parser, ffi, lib, fmt, source, max(parser.vec_len, 0))
                pos += consumed[0]
                if n:
                    if vector:
                        levels = reader.vector_levels = int(parser.vec_len)
                        yield TraceChunk(
                            None,
                            is_write[:n].view(np.bool_),
                            np.ascontiguousarray(vec[:n, :levels]),
                        )
                    else:
                        yield TraceChunk(addr[:n], is_write[:n].view(np.bool_))
                if n < cap:
                    break
            if final:
                return
            carry = data[pos:]
            if len(carry) > MAX_LINE_BYTES:
                raise InputError(
                    f"line longer than {MAX_LINE_BYTES} bytes; expected {_EXPECTED[fmt]}",
                    source=f"{source}:{parser.line_no + 1}",
                )
