"""Writing gem5 packet traces: wire format checked by an independent decoder, round trips."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

pytest.importorskip(
    "google.protobuf", reason="gem5 trace support needs the optional 'protobuf' package"
)

import gem5_wire_builder as wb  # noqa: E402

from hermes_hw.gem5 import (  # noqa: E402
    Gem5TraceWriter,
    cycles_to_ticks,
    read_gem5_trace,
    write_gem5_trace,
)


def test_writer_output_decodes_to_the_fields_trafficgen_reads(tmp_path):
    path = tmp_path / "out.gem5"
    n = write_gem5_trace(
        path,
        ticks=np.array([0, 625, 1250]),
        addrs=np.array([0x40, 0x1000, 0x2000], dtype=np.uint64),
        is_write=np.array([False, True, False]),
    )
    assert n == 3
    messages = wb.unframe(path.read_bytes())
    header = wb.fields(messages[0])
    assert header[1] == [b"hermes-hw"]  # obj_id
    assert header[3] == [10**12]  # tick_freq: must equal gem5's default for TrafficGen
    packets = [wb.fields(m) for m in messages[1:]]
    # tick, cmd (ReadReq = 1, WriteReq = 4), addr, size; all required fields present
    assert [(p[1][0], p[2][0], p[3][0], p[4][0]) for p in packets] == [
        (0, 1, 0x40, 64),
        (625, 4, 0x1000, 64),
        (1250, 1, 0x2000, 64),
    ]


def test_gz_suffix_compresses(tmp_path):
    path = tmp_path / "out.gem5.gz"
    write_gem5_trace(path, np.array([7]), np.array([128]), np.array([True]), size=32)
    raw = path.read_bytes()
    assert raw[:2] == b"\x1f\x8b"
    packet = wb.fields(wb.unframe(gzip.decompress(raw))[1])
    assert (packet[1][0], packet[2][0], packet[3][0], packet[4][0]) == (7, 4, 128, 32)


def test_failed_export_leaves_no_file(tmp_path):
    path = tmp_path / "out.gem5"
    with pytest.raises(ValueError, match="non-decreasing"):
        with Gem5TraceWriter(path) as writer:
            writer.write(np.array([10, 20]), np.array([0, 64]), np.array([False, False]))
            writer.write(np.array([5]), np.array([128]), np.array([False]))
    assert not path.exists()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("tck_ns", [0.625, 0.833, "0.8333", 1.25, 0.75])
@pytest.mark.parametrize("suffix", [".gem5", ".gem5.gz"])
def test_round_trip_export_then_import(tmp_path, tck_ns, suffix):
    rng = np.random.default_rng(7)
    n = 5000
    cycles = np.cumsum(rng.integers(0, 40, size=n)).astype(np.int64)  # gaps, repeats
    addrs = rng.integers(0, 1 << 34, size=n, dtype=np.uint64) & ~np.uint64(63)
    is_write = rng.random(n) < 0.3
    ticks = cycles_to_ticks(cycles, 10**12, tck_ns)
    path = tmp_path / f"rt{suffix}"
    with Gem5TraceWriter(path) as writer:  # streamed in three pieces
        for part in np.array_split(np.arange(n), 3):
            writer.write(ticks[part], addrs[part], is_write[part])
    trace = read_gem5_trace(path, chunk_packets=1024)
    got = list(trace.iter_timed(tck_ns))
    assert np.array_equal(np.concatenate([g[0] for g in got]), addrs)
    assert np.array_equal(np.concatenate([g[1] for g in got]), is_write)
    assert np.array_equal(np.concatenate([g[2] for g in got]), cycles)
    chunk = trace.read_all()
    assert np.array_equal(chunk.tick, ticks)
    assert trace.stats.packets == n and trace.stats.requests == n
