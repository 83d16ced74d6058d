"""Write gem5 packet traces that gem5's TrafficGen replays in TRACE mode.

What TrafficGen's trace reader needs (gem5 src/cpu/testers/traffic_gen/trace_gen.cc): the
magic number, a PacketHeader whose ``tick_freq`` equals the simulator's tick frequency (gem5's
default 1e12, so keep ``tick_freq=10**12`` unless gem5 runs with another resolution; a mismatch
makes gem5 stop), then Packets with ``tick``, ``cmd``, ``addr``, ``size`` (flags are optional).
Ticks are replayed relative to the moment the TRACE state is entered, so a trace that starts at
tick 0 starts at once. Reads are written as ReadReq (cmd 1) and writes as WriteReq (cmd 4),
whose numbers are the same in every gem5 release since v19.

The file is gzip-compressed when its name ends in ``.gz`` (gem5 reads either). It is written
under a temporary name and renamed on success, so an interrupted export leaves no trace file
that looks complete.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

import numpy as np

from hermes_hw.gem5.commands import READ_REQ, WRITE_REQ
from hermes_hw.gem5.schema import message_classes
from hermes_hw.gem5.wire import MAGIC_BYTES, encode_varint

DEFAULT_TICK_FREQ_HZ = 10**12
# A Packet message is at most 7 fields of <= 11 bytes: its length prefix is one byte.
_LENGTH_PREFIX = [encode_varint(n) for n in range(128)]


class Gem5TraceWriter:
    """Streaming writer: ``with Gem5TraceWriter(path) as w: w.write(ticks, addrs, is_write)``."""

    def __init__(
        self,
        path: str | Path,
        *,
        tick_freq: int = DEFAULT_TICK_FREQ_HZ,
        obj_id: str = "hermes-hw",
        id_strings: dict[int, str] | None = None,
        compress: bool | None = None,
    ) -> None:
        if int(tick_freq) <= 0:
            raise ValueError(f"tick_freq must be positive ticks per second, got {tick_freq}")
        header_cls, packet_cls = message_classes()
        self.path = Path(path)
        self.tick_freq = int(tick_freq)
        self.packets_written = 0
        self._last_tick = 0
        self._packet = packet_cls()
        self._tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        gz = self.path.suffix == ".gz" if compress is None else compress
        raw = open(self._tmp, "wb")  # noqa: SIM115 - closed in close()
        self._fh: BinaryIO = (
            gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6, mtime=0)  # type: ignore[assignment]
            if gz
            else raw
        )
        self._raw = raw
        header = header_cls(obj_id=obj_id, tick_freq=self.tick_freq)
        for key, value in sorted((id_strings or {}).items()):
            header.id_strings.add(key=key, value=value)
        self._fh.write(MAGIC_BYTES)
        self._put(header.SerializeToString())

    def _put(self, payload: bytes) -> None:
        self._fh.write(encode_varint(len(payload)) + payload)

    def write(
        self,
        ticks: np.ndarray,
        addrs: np.ndarray,
        is_write: np.ndarray,
        size: int | np.ndarray = 64,
    ) -> None:
        """Append requests; ``ticks`` (ticks, non-decreasing across all calls), byte addresses,
        kinds, and the size in bytes of each request (scalar or array)."""
        ticks = np.asarray(ticks)
        addrs = np.asarray(addrs)
        kinds = np.asarray(is_write, dtype=bool)
        sizes = np.broadcast_to(np.asarray(size), ticks.shape)
        if not (ticks.shape == addrs.shape == kinds.shape) or ticks.ndim != 1:
            raise ValueError("ticks, addrs and is_write must be 1-D arrays of the same length")
        if ticks.size == 0:
            return
        if ticks.dtype.kind not in "iu" or addrs.dtype.kind not in "iu":
            raise ValueError("ticks and addrs must be integer arrays")
        if int(ticks.min()) < 0 or int(sizes.min()) <= 0 or int(addrs.min()) < 0:
            raise ValueError("ticks and addresses must be >= 0 and sizes > 0")
        if int(ticks[0]) < self._last_tick or np.any(np.diff(ticks.astype(np.int64)) < 0):
            raise ValueError("ticks must be non-decreasing (gem5 replays packets in file order)")
        pkt, serialize = self._packet, self._packet.SerializeToString
        out: list[bytes] = []
        for tick, addr, write, nbytes in zip(
            ticks.tolist(), addrs.tolist(), kinds.tolist(), sizes.tolist(), strict=True
        ):
            pkt.tick = tick
            pkt.cmd = WRITE_REQ if write else READ_REQ
            pkt.addr = addr
            pkt.size = nbytes
            payload = serialize()
            out.append(_LENGTH_PREFIX[len(payload)])
            out.append(payload)
        self._fh.write(b"".join(out))
        self._last_tick = int(ticks[-1])
        self.packets_written += int(ticks.size)

    def close(self, *, success: bool = True) -> None:
        """Finish the file (rename into place), or discard it when ``success`` is False."""
        if self._raw.closed:
            return
        try:
            self._fh.close()
            self._raw.close()
        finally:
            if success:
                os.replace(self._tmp, self.path)
            else:
                self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> Gem5TraceWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close(success=exc_type is None)


def write_gem5_trace(
    path: str | Path,
    ticks: np.ndarray,
    addrs: np.ndarray,
    is_write: np.ndarray,
    size: int | np.ndarray = 64,
    tick_freq: int = DEFAULT_TICK_FREQ_HZ,
    *,
    obj_id: str = "hermes-hw",
) -> int:
    """Write one gem5 packet trace (gzip if ``path`` ends in .gz); returns the packet count."""
    with Gem5TraceWriter(path, tick_freq=tick_freq, obj_id=obj_id) as writer:
        writer.write(ticks, addrs, is_write, size)
    return writer.packets_written
