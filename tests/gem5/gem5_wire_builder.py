"""Test-side encoder and decoder of gem5 packet traces, written from the published wire format
(protobuf encoding + gem5's protoio framing), independently of hermes_hw.gem5.

Protobuf wire format: each field is a key varint ``(field_number << 3) | wire_type`` followed by
the value: wire type 0 = varint, 2 = length-delimited (varint length + bytes). Varints are
base-128, least significant group first, high bit set on every byte but the last.
gem5 framing: b"gem5" (0x356d6567 little endian), then each message as varint length + bytes.
Field numbers (gem5 packet.proto): PacketHeader obj_id=1 (string), ver=2, tick_freq=3,
id_strings=4 (message: key=1, value=2); Packet tick=1, cmd=2, addr=3, size=4, flags=5, pkt_id=6,
pc=7.
"""

from __future__ import annotations

MAGIC = b"gem5"
VARINT, LEN = 0, 2


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low = value & 0x7F
        value >>= 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def key(number: int, wire_type: int) -> bytes:
    return varint((number << 3) | wire_type)


def f_varint(number: int, value: int) -> bytes:
    return key(number, VARINT) + varint(value)


def f_bytes(number: int, data: bytes) -> bytes:
    return key(number, LEN) + varint(len(data)) + data


def header(obj_id: str = "system.monitor", tick_freq: int = 10**12, ids=()) -> bytes:
    body = f_bytes(1, obj_id.encode()) + f_varint(3, tick_freq)
    for k, v in ids:
        body += f_bytes(4, f_varint(1, k) + f_bytes(2, v.encode()))
    return body


def packet(tick: int, cmd: int, addr: int, size: int, **optional: int) -> bytes:
    body = f_varint(1, tick) + f_varint(2, cmd) + f_varint(3, addr) + f_varint(4, size)
    for name, number in (("flags", 5), ("pkt_id", 6), ("pc", 7)):
        if name in optional:
            body += f_varint(number, optional[name])
    return body


def frame(*messages: bytes, magic: bytes = MAGIC) -> bytes:
    return magic + b"".join(varint(len(m)) + m for m in messages)


# -- decoding (to check the writer's output) ----------------------------------------------
def read_varint(data: bytes, pos: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def unframe(data: bytes) -> list[bytes]:
    assert data[:4] == MAGIC, data[:4]
    pos, out = 4, []
    while pos < len(data):
        length, pos = read_varint(data, pos)
        out.append(data[pos : pos + length])
        pos += length
    assert pos == len(data)
    return out


def fields(message: bytes) -> dict[int, list[int | bytes]]:
    pos, out = 0, {}
    while pos < len(message):
        k, pos = read_varint(message, pos)
        number, wire_type = k >> 3, k & 7
        if wire_type == VARINT:
            value, pos = read_varint(message, pos)
        elif wire_type == LEN:
            length, pos = read_varint(message, pos)
            value, pos = message[pos : pos + length], pos + length
        else:
            raise AssertionError(f"unexpected wire type {wire_type}")
        out.setdefault(number, []).append(value)
    return out
