"""Read gem5 packet traces as a stream of 64 B DRAM requests.

``read_gem5_trace(path)`` checks the magic number and the PacketHeader at once (so a bad file
fails before any simulation starts) and returns a :class:`Gem5Trace`; iterating over it streams
:class:`Gem5Chunk` objects (numpy columns), re-reading the file on every pass, so memory does
not grow with the trace length.

Each packet becomes one request per ``transaction_bytes`` block it touches: a 128 B packet at
0x1000 gives requests at 0x1000 and 0x1040, an 8 B packet at 0x103c gives 0x1000 and 0x1040
too. Request addresses are block aligned; ``size_bytes`` says how many bytes of the packet fall
in each block. Requests keep the packet's tick, so timed replay honours the recorded issue
times. Commands map to reads and writes as described in commands.py; requests that move no
data (CleanEvict, UpgradeReq ...) are counted in :attr:`Gem5Trace.stats` and dropped.
``addr_base`` is subtracted from every address before splitting.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from hermes_hw.errors import InputError
from hermes_hw.gem5.clock import ticks_to_cycles
from hermes_hw.gem5.commands import DEFAULT_GEM5_VERSION, CommandTable, command_table
from hermes_hw.gem5.schema import message_classes
from hermes_hw.gem5.wire import MessageStream

_INT64_MAX = 2**63 - 1
_KIND_CODE = {"read": 0, "write": 1, "skip": 2}


@dataclass(frozen=True)
class Gem5Header:
    """The PacketHeader of a trace."""

    obj_id: str
    version: int
    tick_freq_hz: int
    id_strings: dict[int, str] = field(default_factory=dict)


@dataclass
class Gem5Chunk:
    """Consecutive requests of a trace (all arrays have the same length)."""

    tick: np.ndarray  #: int64, time stamp in ticks (1 / header.tick_freq_hz s)
    addr: np.ndarray  #: uint64, byte address, aligned to the transaction size
    is_write: np.ndarray  #: bool
    size_bytes: np.ndarray  #: uint32, bytes of the source packet inside this request's block
    flags: np.ndarray  #: uint32, gem5 request flags of the source packet (0 if absent)
    packet_index: np.ndarray  #: int64, 0-based index of the source packet in the file

    def __len__(self) -> int:
        return int(self.addr.shape[0])

    @staticmethod
    def concatenate(chunks: list[Gem5Chunk]) -> Gem5Chunk:
        """One chunk holding all requests of ``chunks`` in order."""
        names = ("tick", "addr", "is_write", "size_bytes", "flags", "packet_index")
        if not chunks:
            dtypes = (np.int64, np.uint64, np.bool_, np.uint32, np.uint32, np.int64)
            return Gem5Chunk(*(np.zeros(0, dtype=d) for d in dtypes))
        return Gem5Chunk(*(np.concatenate([getattr(c, n) for c in chunks]) for n in names))


@dataclass
class Gem5ScanStats:
    """Counts from one complete pass over a trace."""

    packets: int = 0
    requests: int = 0
    read_requests: int = 0
    write_requests: int = 0
    skipped_packets: int = 0
    first_tick: int | None = None
    last_tick: int | None = None
    non_monotonic_ticks: int = 0  #: packets whose tick is below the previous packet's
    commands: dict[str, int] = field(default_factory=dict)  #: packets per command name


class Gem5Trace:
    """A gem5 packet trace on disk; iterate for :class:`Gem5Chunk` objects."""

    def __init__(
        self,
        path: str | Path,
        *,
        transaction_bytes: int = 64,
        gem5_version: str = DEFAULT_GEM5_VERSION,
        chunk_packets: int = 1 << 16,
        addr_base: int = 0,
    ) -> None:
        if addr_base < 0:
            raise InputError(f"addr_base must be >= 0, got {addr_base}")
        if transaction_bytes <= 0 or transaction_bytes & (transaction_bytes - 1):
            raise InputError(
                f"transaction size must be a positive power of two bytes, got {transaction_bytes}"
            )
        if chunk_packets <= 0:
            raise ValueError("chunk_packets must be positive")
        self.path = Path(path)
        self.transaction_bytes = transaction_bytes
        self.commands: CommandTable = command_table(gem5_version)
        self.chunk_packets = chunk_packets
        self.addr_base = addr_base
        #: Counts of the last complete pass (None until one finished).
        self.stats: Gem5ScanStats | None = None
        self.header = self._read_header()

    # -- header -------------------------------------------------------------------------
    def _error(self, message: str) -> InputError:
        return InputError(message, source=str(self.path))

    def _messages(self) -> MessageStream:
        return MessageStream(self.path, lambda i: "PacketHeader" if i == 0 else f"packet {i - 1}")

    def _read_header(self) -> Gem5Header:
        header_cls, packet_cls = message_classes()  # first: InputError if protobuf is missing
        from google.protobuf.message import DecodeError

        first = next(iter(self._messages()), None)
        if first is None:
            raise self._error("missing PacketHeader: the file ends right after the magic number")
        offset, payload = first
        msg = header_cls()
        try:
            msg.ParseFromString(payload)
            complete = msg.IsInitialized()
        except DecodeError:
            complete = False
        if not complete:
            if _parses_as(packet_cls, payload):
                raise self._error(
                    "missing PacketHeader: the first message is a Packet (a gem5 packet trace "
                    "starts with a PacketHeader holding obj_id and tick_freq)"
                )
            missing = ", ".join(msg.FindInitializationErrors()) if _parses(msg, payload) else ""
            why = f"lacks required field(s) {missing}" if missing else "is corrupt"
            raise self._error(f"PacketHeader at byte {offset} {why}")
        if msg.tick_freq == 0:
            raise self._error("PacketHeader has tick_freq 0; expected ticks per second (> 0)")
        return Gem5Header(
            obj_id=msg.obj_id,
            version=int(msg.ver),
            tick_freq_hz=int(msg.tick_freq),
            id_strings={int(e.key): str(e.value) for e in msg.id_strings},
        )

    # -- packets ------------------------------------------------------------------------
    def _iter_packets(self) -> Iterator[tuple[list[int], ...]]:
        """Batches of raw packet columns (tick, cmd, addr, size, flags, index, offset)."""
        _, packet_cls = message_classes()
        from google.protobuf.message import DecodeError

        pkt = packet_cls()
        parse, initialized = pkt.ParseFromString, pkt.IsInitialized
        cols: tuple[list[int], ...] = ([], [], [], [], [], [], [])
        ticks, cmds, addrs, sizes, flags, indexes, offsets = cols
        messages = iter(self._messages())
        next(messages)  # the header, checked in __init__
        for index, (offset, payload) in enumerate(messages):
            try:
                parse(payload)
            except DecodeError as err:
                raise self._error(
                    f"packet {index} at byte {offset}: corrupt Packet message ({err})"
                ) from err
            if not initialized():
                missing = ", ".join(pkt.FindInitializationErrors())
                raise self._error(
                    f"packet {index} at byte {offset}: Packet lacks required field(s) {missing}"
                )
            ticks.append(pkt.tick)
            cmds.append(pkt.cmd)
            addrs.append(pkt.addr)
            sizes.append(pkt.size)
            flags.append(pkt.flags)
            indexes.append(index)
            offsets.append(offset)
            if len(ticks) >= self.chunk_packets:
                yield cols
                cols = ([], [], [], [], [], [], [])
                ticks, cmds, addrs, sizes, flags, indexes, offsets = cols
        if ticks:
            yield cols

    def _kind_codes(self) -> np.ndarray:
        names = self.commands.names
        codes = np.full(len(names), -1, dtype=np.int8)
        for cmd in range(len(names)):
            kind = self.commands.kind(cmd)
            if kind is not None:
                codes[cmd] = _KIND_CODE[kind]
        return codes

    def __iter__(self) -> Iterator[Gem5Chunk]:
        stats = Gem5ScanStats()
        counts: Counter[int] = Counter()
        codes = self._kind_codes()
        tb = np.uint64(self.transaction_bytes)
        prev_tick = -1
        for ticks_l, cmds_l, addrs_l, sizes_l, flags_l, idx_l, off_l in self._iter_packets():
            cmd = np.asarray(cmds_l, dtype=np.int64)
            kind = np.where(cmd < len(codes), codes[np.minimum(cmd, len(codes) - 1)], -1)
            bad = np.flatnonzero(kind < 0)
            if bad.size:
                i = int(bad[0])
                raise self._error(
                    f"packet {idx_l[i]} at byte {off_l[i]}: "
                    f"{self.commands.describe_rejected(int(cmd[i]))}"
                )
            tick_u = np.asarray(ticks_l, dtype=np.uint64)
            addr = np.asarray(addrs_l, dtype=np.uint64)
            size = np.asarray(sizes_l, dtype=np.uint64)
            self._check_values(tick_u, addr, size, kind, idx_l, off_l)
            if self.addr_base:
                addr = addr - np.uint64(self.addr_base)
            tick = tick_u.astype(np.int64)
            counts.update(cmds_l)
            stats.packets += len(cmds_l)
            stats.first_tick = int(tick[0]) if stats.first_tick is None else stats.first_tick
            stats.last_tick = int(tick[-1])
            stats.non_monotonic_ticks += int(np.count_nonzero(np.diff(tick) < 0)) + int(
                int(tick[0]) < prev_tick
            )
            prev_tick = int(tick[-1])
            keep = kind != _KIND_CODE["skip"]
            stats.skipped_packets += int(np.count_nonzero(~keep))
            chunk = self._split(
                tick[keep],
                addr[keep],
                size[keep],
                kind[keep] == _KIND_CODE["write"],
                np.asarray(flags_l, dtype=np.uint32)[keep],
                np.asarray(idx_l, dtype=np.int64)[keep],
                tb,
            )
            stats.requests += len(chunk)
            stats.write_requests += int(np.count_nonzero(chunk.is_write))
            if len(chunk):
                yield chunk
        stats.read_requests = stats.requests - stats.write_requests
        stats.commands = {(self.commands.name(c) or str(c)): n for c, n in sorted(counts.items())}
        self.stats = stats

    def _check_values(
        self,
        tick: np.ndarray,
        addr: np.ndarray,
        size: np.ndarray,
        kind: np.ndarray,
        idx: list[int],
        off: list[int],
    ) -> None:
        data = kind != _KIND_CODE["skip"]
        checks = (
            (tick > np.uint64(_INT64_MAX), "tick {v} does not fit in int64", tick),
            (data & (size == 0), "size is 0 bytes; a read or write moves at least 1 byte", size),
            (
                data & (addr > np.uint64(2**64 - 1) - np.maximum(size, 1) + np.uint64(1)),
                "address {v:#x} plus size runs past the 64-bit address space",
                addr,
            ),
            (
                data & (addr < np.uint64(self.addr_base)),
                f"address {{v:#x}} is below addr_base {self.addr_base:#x}",
                addr,
            ),
        )
        for mask, template, values in checks:
            hits = np.flatnonzero(mask)
            if hits.size:
                i = int(hits[0])
                message = template.format(v=int(values[i]))
                raise self._error(f"packet {idx[i]} at byte {off[i]}: {message}")

    @staticmethod
    def _split(
        tick: np.ndarray,
        addr: np.ndarray,
        size: np.ndarray,
        is_write: np.ndarray,
        flags: np.ndarray,
        index: np.ndarray,
        tb: np.uint64,
    ) -> Gem5Chunk:
        first = addr // tb
        last = (addr + size - np.uint64(1)) // tb
        count = (last - first + np.uint64(1)).astype(np.int64)
        if count.size and int(count.max()) == 1:
            block = first * tb
            return Gem5Chunk(tick, block, is_write, size.astype(np.uint32), flags, index)
        rep = np.repeat(np.arange(count.size), count)
        starts = np.cumsum(count) - count
        step = (np.arange(rep.size) - starts[rep]).astype(np.uint64)
        block = (first[rep] + step) * tb
        lo = np.maximum(block, addr[rep])
        hi = np.minimum(block + tb, addr[rep] + size[rep])
        return Gem5Chunk(
            tick[rep], block, is_write[rep], (hi - lo).astype(np.uint32), flags[rep], index[rep]
        )

    # -- convenience --------------------------------------------------------------------
    def read_all(self) -> Gem5Chunk:
        """All requests in one chunk (for small traces and tests)."""
        return Gem5Chunk.concatenate(list(self))

    def iter_timed(
        self, tck_ns: float | str | Fraction, origin_tick: int | None = 0
    ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """(addr uint64, is_write bool, arrival_cycles int64) per chunk, for timed replay.

        ``arrival_cycles`` is the memory cycle (period ``tck_ns``) of each request's tick,
        rounded up (see clock.py), counted from ``origin_tick`` (0: keep gem5's absolute
        times, as TrafficGen does; None: the trace's first tick). It never decreases: a packet
        stamped earlier than its predecessor is issued with it, as TrafficGen issues a late
        packet at once.
        """
        origin = origin_tick
        running = np.int64(0)
        for chunk in self:
            if origin is None:
                origin = int(chunk.tick[0])
            ticks = chunk.tick
            if origin and int(ticks.min()) < origin:
                ticks = np.maximum(ticks, np.int64(origin))
            cycles = ticks_to_cycles(ticks, self.header.tick_freq_hz, tck_ns, origin)
            cycles = np.maximum.accumulate(np.maximum(cycles, running))
            running = cycles[-1]
            yield chunk.addr, chunk.is_write, cycles


def _parses(msg: object, payload: bytes) -> bool:
    from google.protobuf.message import DecodeError

    try:
        msg.ParseFromString(payload)  # type: ignore[attr-defined]
    except DecodeError:
        return False
    return True


def _parses_as(cls: type, payload: bytes) -> bool:
    msg = cls()
    return _parses(msg, payload) and msg.IsInitialized()


def read_gem5_trace(
    path: str | Path,
    *,
    transaction_bytes: int = 64,
    gem5_version: str = DEFAULT_GEM5_VERSION,
    chunk_packets: int = 1 << 16,
    addr_base: int = 0,
) -> Gem5Trace:
    """Open a gem5 packet trace (plain or gzip), checking its magic number and header now.

    ``transaction_bytes``: DRAM request size (packets are split at its aligned boundaries).
    ``gem5_version``: release that recorded the trace (its command numbering, commands.py).
    ``chunk_packets``: packets decoded per yielded chunk.
    ``addr_base``: subtracted from every address (the start of gem5's memory range, e.g.
    0x80000000 on Arm systems), so addresses start at 0 in the simulated memory.
    Bad files raise :class:`~hermes_hw.errors.InputError` naming the file and packet index.
    """
    return Gem5Trace(
        path,
        transaction_bytes=transaction_bytes,
        gem5_version=gem5_version,
        chunk_packets=chunk_packets,
        addr_base=addr_base,
    )
