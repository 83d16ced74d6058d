"""gem5's "protoio" framing: magic number, then varint-length-delimited messages (plain or gzip).

Layout: the 4 bytes 0x356d6567 in little-endian order (the ASCII text ``gem5``), then for each
message its byte length as a base-128 varint (at most 5 bytes, as gem5 writes a varint32) and
the serialized message. The whole stream may be gzip-compressed; gzip is recognised by its
signature 0x1f 0x8b, as gem5 does, whatever the file name.

Parsing the messages themselves is the caller's job (see reader.py); this module only frames
them and turns every I/O or framing problem into a one-line :class:`InputError`.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from hermes_hw.errors import InputError

MAGIC = 0x356D6567
MAGIC_BYTES = MAGIC.to_bytes(4, "little")  # b"gem5"
GZIP_SIGNATURE = b"\x1f\x8b"
#: Largest message accepted; a bigger length prefix means the file is corrupt.
MAX_MESSAGE_BYTES = 64 << 20
_BLOCK_BYTES = 1 << 20
_READ_ERRORS = (EOFError, OSError, zlib.error)


def encode_varint(value: int) -> bytes:
    """Base-128 varint encoding of a non-negative integer (protobuf wire format)."""
    if value < 0:
        raise ValueError("varints encode non-negative integers only")
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


class _Gunzip:
    """Streaming gzip decompression that hands out every byte before reporting truncation.

    (``gzip.GzipFile.read`` raises on a truncated stream and drops the bytes it had, so the
    error could not say which packet was cut.) Multi-member files are read like gzip does.
    """

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self._z = zlib.decompressobj(31)
        self._buf = b""
        self._finished = False
        self._truncated = False

    def read(self, size: int) -> bytes:
        while len(self._buf) < size and not self._finished:
            compressed = self.raw.read(1 << 16)
            if not compressed:
                self._finished = True
                self._truncated = not self._z.eof
                break
            data = self._z.decompress(compressed)
            while self._z.eof and self._z.unused_data:
                rest = self._z.unused_data
                self._z = zlib.decompressobj(31)
                data += self._z.decompress(rest)
            self._buf += data
        out, self._buf = self._buf[:size], self._buf[size:]
        if not out and self._truncated:
            raise EOFError("the compressed data ends before the gzip end-of-stream marker")
        return out

    def close(self) -> None:
        self.raw.close()

    def __enter__(self) -> _Gunzip:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_stream(path: Path) -> tuple[BinaryIO, bool]:
    """Open ``path`` for reading, decompressing gzip transparently; returns (file, is_gzip)."""
    try:
        raw = open(path, "rb")  # noqa: SIM115 - returned to the caller
    except OSError as err:
        why = err.strerror or str(err)
        raise InputError(f"cannot open gem5 trace: {why}", source=str(path)) from err
    head = raw.read(2)
    raw.seek(0)
    if head == GZIP_SIGNATURE:
        return _Gunzip(raw), True  # type: ignore[return-value]
    return raw, False


class MessageStream:
    """Iterate over the length-delimited messages of one gem5 proto stream.

    Yields ``(byte_offset, payload)``, where byte_offset is the position of the length prefix
    in the (uncompressed) stream. ``label(i)`` names message ``i`` in error messages
    ("PacketHeader", "packet 12" ...).
    """

    def __init__(self, path: Path, label: Callable[[int], str]) -> None:
        self.path = path
        self.label = label
        self.is_gzip = False

    def _fail(self, what: str) -> InputError:
        return InputError(what, source=str(self.path))

    def _read(self, fh: BinaryIO, size: int, index: int) -> bytes:
        try:
            return fh.read(size)
        except _READ_ERRORS as err:
            if isinstance(err, EOFError):
                what = f"truncated gzip stream while reading {self.label(index)}"
            else:  # detected a block ahead of the parser: name where the parser was
                what = f"corrupt gzip stream (at or after {self.label(index)})"
            raise self._fail(f"{what}: {err}") from err

    def __iter__(self) -> Iterator[tuple[int, bytes]]:
        fh, self.is_gzip = open_stream(self.path)
        with fh:
            magic = self._read(fh, 4, 0)
            if magic != MAGIC_BYTES:
                if not magic:
                    hint = " (the file is empty)"
                elif all(32 <= b < 127 or b in (9, 10, 13) for b in magic):
                    hint = f" (found {magic!r}: this looks like a text trace)"
                else:
                    hint = f" (found {magic!r})"
                raise self._fail(
                    "not a gem5 packet trace: expected the magic number 'gem5' "
                    f"(0x356d6567 little endian) in the first 4 bytes{hint}"
                )
            buf, pos, base, eof, index = b"", 0, 4, False, 0
            while True:
                if len(buf) - pos < 5 and not eof:
                    more = self._read(fh, _BLOCK_BYTES, index)
                    eof = not more
                    buf, base, pos = buf[pos:] + more, base + pos, 0
                if pos >= len(buf):
                    return
                start = pos
                length, shift = 0, 0
                while True:
                    if pos >= len(buf):
                        raise self._fail(
                            f"{self.label(index)} at byte {base + start}: truncated length "
                            "prefix (file ends inside the varint)"
                        )
                    byte = buf[pos]
                    pos += 1
                    length |= (byte & 0x7F) << shift
                    if byte < 0x80:
                        break
                    shift += 7
                    if shift >= 35:
                        raise self._fail(
                            f"{self.label(index)} at byte {base + start}: corrupt length "
                            "prefix (varint longer than 5 bytes)"
                        )
                if length > MAX_MESSAGE_BYTES:
                    raise self._fail(
                        f"{self.label(index)} at byte {base + start}: corrupt length prefix "
                        f"({length} bytes is beyond the {MAX_MESSAGE_BYTES}-byte limit)"
                    )
                end = pos + length
                while end > len(buf) and not eof:
                    more = self._read(fh, max(_BLOCK_BYTES, end - len(buf)), index)
                    eof = not more
                    buf, base, end, pos, start = (
                        buf[start:] + more,
                        base + start,
                        end - start,
                        pos - start,
                        0,
                    )
                if end > len(buf):
                    raise self._fail(
                        f"{self.label(index)} at byte {base + start}: truncated message "
                        f"(length prefix says {length} bytes, only {len(buf) - pos} remain)"
                    )
                yield base + start, buf[pos:end]
                pos = end
                index += 1
