"""Reading gem5 packet traces built byte by byte from the published wire format."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

pytest.importorskip(
    "google.protobuf", reason="gem5 trace support needs the optional 'protobuf' package"
)

import gem5_wire_builder as wb  # noqa: E402

from hermes_hw.errors import InputError  # noqa: E402
from hermes_hw.gem5 import read_gem5_trace, ticks_to_cycles  # noqa: E402


def test_builder_varints_match_the_protobuf_documentation():
    # Examples from the protobuf encoding guide: 150 -> 96 01, 300 -> ac 02, field 1 = 150.
    assert wb.varint(1) == b"\x01"
    assert wb.varint(150) == bytes.fromhex("9601")
    assert wb.varint(300) == bytes.fromhex("ac02")
    assert wb.f_varint(1, 150) == bytes.fromhex("089601")
    assert wb.f_bytes(2, b"testing") == bytes.fromhex("120774657374696e67")


def _sample_trace() -> bytes:
    hdr = wb.header("system.mem_ctrls.probe", 10**12, ids=[(0, "system.cpu"), (1, "dma")])
    # p2 has its fields in reverse order and the optional pkt_id/pc, which a reader must accept
    p2 = (
        wb.f_varint(7, 0x400500)
        + wb.f_varint(6, 77)
        + wb.f_varint(4, 128)
        + wb.f_varint(3, 0x3000)
        + wb.f_varint(2, 25)
        + wb.f_varint(1, 4000)
    )
    packets = [
        wb.packet(1000, 1, 0x1000, 64),  # ReadReq
        wb.packet(2500, 4, 0x2040, 64, flags=0x10),  # WriteReq with flags
        p2,  # ReadSharedReq, 128 B -> two requests
        wb.packet(4000, 10, 0x5000, 64),  # CleanEvict: moves no data, skipped
        wb.packet(7000, 7, 0x6000, 64),  # WritebackDirty -> write
        wb.packet(9000, 1, 0x703C, 8),  # 8 B read crossing a 64 B boundary -> two requests
        wb.packet(12000, 22, 0x8000, 64),  # ReadExReq -> read
    ]
    return wb.frame(hdr, *packets)


# (tick, addr, is_write, size_bytes, flags, packet_index), written by hand from the packets above
EXPECTED = [
    (1000, 0x1000, False, 64, 0, 0),
    (2500, 0x2040, True, 64, 0x10, 1),
    (4000, 0x3000, False, 64, 0, 2),
    (4000, 0x3040, False, 64, 0, 2),
    (7000, 0x6000, True, 64, 0, 4),
    (9000, 0x7000, False, 4, 0, 5),
    (9000, 0x7040, False, 4, 0, 5),
    (12000, 0x8000, False, 64, 0, 6),
]


def _rows(chunk):
    return list(
        zip(
            chunk.tick.tolist(),
            chunk.addr.tolist(),
            chunk.is_write.tolist(),
            chunk.size_bytes.tolist(),
            chunk.flags.tolist(),
            chunk.packet_index.tolist(),
            strict=True,
        )
    )


@pytest.mark.parametrize("compressed", [False, True])
def test_hand_built_trace_gives_the_expected_request_stream(tmp_path, compressed):
    data = _sample_trace()
    path = tmp_path / ("t.trc" if not compressed else "t.trc.gz")
    path.write_bytes(gzip.compress(data) if compressed else data)
    trace = read_gem5_trace(path)
    assert trace.header.obj_id == "system.mem_ctrls.probe"
    assert trace.header.tick_freq_hz == 10**12
    assert trace.header.id_strings == {0: "system.cpu", 1: "dma"}
    chunk = trace.read_all()
    assert chunk.tick.dtype == np.int64 and chunk.addr.dtype == np.uint64
    assert chunk.is_write.dtype == np.bool_
    assert _rows(chunk) == EXPECTED
    stats = trace.stats
    assert (stats.packets, stats.requests, stats.skipped_packets) == (7, 8, 1)
    assert (stats.read_requests, stats.write_requests) == (6, 2)
    assert stats.commands == {
        "ReadReq": 2,
        "WriteReq": 1,
        "WritebackDirty": 1,
        "CleanEvict": 1,
        "ReadExReq": 1,
        "ReadSharedReq": 1,
    }
    assert (stats.first_tick, stats.last_tick) == (1000, 12000)


def test_small_chunks_give_the_same_stream(tmp_path):
    path = tmp_path / "t.trc"
    path.write_bytes(_sample_trace())
    chunks = list(read_gem5_trace(path, chunk_packets=2))
    assert len(chunks) >= 3
    assert sum((_rows(c) for c in chunks), []) == EXPECTED


def test_transaction_size_parameter_splits_at_its_boundaries(tmp_path):
    path = tmp_path / "t.trc"
    path.write_bytes(wb.frame(wb.header(), wb.packet(0, 4, 0x1010, 200)))
    chunk = read_gem5_trace(path, transaction_bytes=128).read_all()
    # bytes 0x1010..0x10d7 touch the 128 B blocks 0x1000 (0x70 bytes) and 0x1080 (0x58 bytes)
    assert chunk.addr.tolist() == [0x1000, 0x1080]
    assert chunk.size_bytes.tolist() == [0x70, 0x58]
    assert chunk.is_write.tolist() == [True, True]


def test_timing_maps_ticks_to_memory_cycles_rounding_up(tmp_path):
    path = tmp_path / "t.trc"
    path.write_bytes(_sample_trace())
    trace = read_gem5_trace(path)
    cycles = np.concatenate([c for _, _, c in trace.iter_timed(0.625)])
    # 625 ticks per cycle at 0.625 ns and 1 ps ticks: ceil(tick / 625)
    assert cycles.tolist() == [2, 4, 7, 7, 12, 15, 15, 20]
    rebased = np.concatenate([c for _, _, c in trace.iter_timed(0.625, origin_tick=None)])
    # origin at the first tick (1000): ceil((tick - 1000) / 625)
    assert rebased.tolist() == [0, 3, 5, 5, 10, 13, 13, 18]


def test_idle_gaps_are_kept(tmp_path):
    ticks = [0, 6250, 6350, 625_000, 625_000]
    path = tmp_path / "gaps.trc"
    path.write_bytes(
        wb.frame(wb.header(), *(wb.packet(t, 1, 64 * i, 64) for i, t in enumerate(ticks)))
    )
    cycles = np.concatenate([c for _, _, c in read_gem5_trace(path).iter_timed("0.625")])
    assert cycles.tolist() == [0, 10, 11, 1000, 1000]
    assert np.diff(cycles).tolist() == [10, 1, 989, 0]


def test_a_packet_stamped_earlier_than_its_predecessor_issues_with_it(tmp_path):
    # TrafficGen issues a packet whose tick has passed at once: arrival never decreases.
    path = tmp_path / "t.trc"
    path.write_bytes(wb.frame(wb.header(), wb.packet(6250, 1, 0, 64), wb.packet(1250, 1, 64, 64)))
    trace = read_gem5_trace(path)
    cycles = np.concatenate([c for _, _, c in trace.iter_timed(0.625)])
    assert cycles.tolist() == [10, 10]
    assert trace.stats.non_monotonic_ticks == 1


def test_other_tick_frequency_is_honoured(tmp_path):
    # 1e9 ticks/s (1 ns ticks) and tCK 1.25 ns: tick 10 -> ceil(10 / 1.25) = 8
    path = tmp_path / "t.trc"
    path.write_bytes(wb.frame(wb.header(tick_freq=10**9), wb.packet(10, 1, 0, 64)))
    trace = read_gem5_trace(path)
    assert trace.header.tick_freq_hz == 10**9
    assert next(trace.iter_timed(1.25))[2].tolist() == [8]
    assert ticks_to_cycles([10, 11], 10**9, 1.25).tolist() == [8, 9]


def test_command_numbering_of_older_gem5_releases(tmp_path):
    # gem5 v19.0/v20.0 had no WriteCompleteResp: WritebackDirty was 6 and ReadExReq 21.
    path = tmp_path / "old.trc"
    path.write_bytes(wb.frame(wb.header(), wb.packet(0, 6, 0, 64), wb.packet(0, 21, 64, 64)))
    chunk = read_gem5_trace(path, gem5_version="v20.0").read_all()
    assert chunk.is_write.tolist() == [True, False]
    with pytest.raises(InputError, match=r"packet 0 .*command 6 \(WriteCompleteResp\)"):
        read_gem5_trace(path).read_all()


# -- errors -----------------------------------------------------------------------------
def _error(tmp_path, data: bytes, name: str = "bad.trc", **kwargs) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(InputError) as info:
        read_gem5_trace(path, **kwargs).read_all()
    message = str(info.value)
    assert message.startswith(str(path)), message
    assert "\n" not in message
    return message


def test_wrong_magic(tmp_path):
    msg = _error(tmp_path, b"LD 0x1000\nST 0x2000\n")
    assert "magic number 'gem5'" in msg and "b'LD 0': this looks like a text trace" in msg
    assert "looks like a text" not in _error(tmp_path, b"\x00\x01\x02\x03rest")


def test_empty_file(tmp_path):
    assert "file is empty" in _error(tmp_path, b"")


def test_missing_header_after_magic(tmp_path):
    assert "missing PacketHeader" in _error(tmp_path, wb.MAGIC)


def test_missing_header_first_message_is_a_packet(tmp_path):
    msg = _error(tmp_path, wb.frame(wb.packet(0, 1, 0, 64), wb.packet(1, 1, 64, 64)))
    assert "missing PacketHeader" in msg and "first message is a Packet" in msg


def test_header_without_tick_freq(tmp_path):
    msg = _error(tmp_path, wb.frame(wb.f_bytes(1, b"x"), wb.packet(0, 1, 0, 64)))
    assert "PacketHeader" in msg and "tick_freq" in msg


def test_header_with_zero_tick_freq(tmp_path):
    assert "tick_freq 0" in _error(tmp_path, wb.frame(wb.header(tick_freq=0)))


def test_truncated_packet(tmp_path):
    data = wb.frame(wb.header(), wb.packet(0, 1, 0, 64), wb.packet(5, 1, 64, 64))
    msg = _error(tmp_path, data[:-3])
    assert "packet 1 " in msg and "truncated message" in msg


def test_truncated_length_prefix(tmp_path):
    data = wb.frame(wb.header(), wb.packet(0, 1, 0, 64)) + b"\x80"
    msg = _error(tmp_path, data)
    assert "packet 1 " in msg and "truncated length prefix" in msg


def test_corrupt_packet(tmp_path):
    bad = wb.packet(0, 1, 0, 64) + bytes([(9 << 3) | 7])  # wire type 7 does not exist
    msg = _error(tmp_path, wb.frame(wb.header(), wb.packet(0, 1, 0, 64), bad))
    assert "packet 1 " in msg and "corrupt Packet" in msg


def test_packet_missing_required_fields(tmp_path):
    partial = wb.f_varint(1, 10) + wb.f_varint(2, 1)  # no addr, no size
    msg = _error(tmp_path, wb.frame(wb.header(), partial))
    assert "packet 0 " in msg and "addr" in msg and "size" in msg


def test_unknown_command_names_the_packet_and_the_number(tmp_path):
    data = wb.frame(
        wb.header(), wb.packet(0, 1, 0, 64), wb.packet(1, 1, 64, 64), wb.packet(2, 99, 0, 64)
    )
    msg = _error(tmp_path, data)
    assert "packet 2 " in msg and "unknown command 99" in msg


def test_response_command_is_rejected(tmp_path):
    msg = _error(tmp_path, wb.frame(wb.header(), wb.packet(0, 2, 0, 64)))
    assert "packet 0 " in msg and "command 2 (ReadResp)" in msg


def test_zero_size_read(tmp_path):
    msg = _error(tmp_path, wb.frame(wb.header(), wb.packet(0, 1, 0, 0)))
    assert "packet 0 " in msg and "size is 0" in msg


def test_truncated_gzip(tmp_path):
    packets = [wb.packet(i, 1, 64 * i, 64) for i in range(2000)]
    data = gzip.compress(wb.frame(wb.header(), *packets))
    msg = _error(tmp_path, data[: len(data) // 2], name="bad.trc.gz")
    assert "truncated gzip stream" in msg and "packet " in msg


def test_unknown_gem5_version(tmp_path):
    path = tmp_path / "t.trc"
    path.write_bytes(_sample_trace())
    with pytest.raises(InputError, match="unsupported gem5 version 'v18.0'"):
        read_gem5_trace(path, gem5_version="v18.0")


def test_bad_transaction_size(tmp_path):
    path = tmp_path / "t.trc"
    path.write_bytes(_sample_trace())
    with pytest.raises(InputError, match="power of two"):
        read_gem5_trace(path, transaction_bytes=48)


def test_addr_base_is_subtracted(tmp_path):
    path = tmp_path / "arm.trc"
    path.write_bytes(wb.frame(wb.header(), wb.packet(0, 1, 0x8000_1040, 64)))
    assert read_gem5_trace(path, addr_base=0x8000_0000).read_all().addr.tolist() == [0x1040]
    path.write_bytes(wb.frame(wb.header(), wb.packet(0, 1, 0x1040, 64)))
    with pytest.raises(InputError, match=r"packet 0 .*below addr_base 0x80000000"):
        read_gem5_trace(path, addr_base=0x8000_0000).read_all()
