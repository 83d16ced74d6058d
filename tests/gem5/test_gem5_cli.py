"""`hermes gem5 convert` / `hermes gem5 info`, and the bad-input contract (one line, exit 2)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip(
    "google.protobuf", reason="gem5 trace support needs the optional 'protobuf' package"
)

import gem5_wire_builder as wb  # noqa: E402

from hermes_hw.cli.main import main  # noqa: E402
from hermes_hw.gem5 import read_gem5_trace  # noqa: E402

LOADSTORE = "LD 0x1000\nST 0x2040\nLD 0x3000\nLD 0x1000\n"


def test_loadstore_to_gem5_and_back(tmp_path, capsys):
    text = tmp_path / "t.trace"
    text.write_text(LOADSTORE)
    gem5 = tmp_path / "t.gem5.gz"
    args = ["gem5", "convert", "--from-loadstore", str(text), "--out", str(gem5)]
    assert main([*args, "--tck-ns", "0.625", "--interval-cycles", "4"]) == 0
    chunk = read_gem5_trace(gem5).read_all()
    assert chunk.addr.tolist() == [0x1000, 0x2040, 0x3000, 0x1000]
    assert chunk.is_write.tolist() == [False, True, False, False]
    # one request every 4 cycles of 625 ticks
    assert chunk.tick.tolist() == [0, 2500, 5000, 7500]

    back = tmp_path / "back.trace"
    assert main(["gem5", "convert", "--to-loadstore", str(gem5), "--out", str(back)]) == 0
    assert back.read_text().lower() == LOADSTORE.lower()
    assert "4 requests (3 LD, 1 ST)" in capsys.readouterr().out


def test_info_reports_counts_and_tick_range(tmp_path, capsys):
    path = tmp_path / "t.trc"
    path.write_bytes(
        wb.frame(
            wb.header("system.monitor", ids=[(0, "cpu")]),
            wb.packet(1000, 1, 0x0, 64),
            wb.packet(2000, 10, 0x40, 64),  # CleanEvict, skipped
            wb.packet(6000, 7, 0x80, 128),  # WritebackDirty, 2 requests
        )
    )
    assert main(["gem5", "info", str(path), "--json", "--tck-ns", "0.625"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["obj_id"] == "system.monitor"
    assert (info["packets"], info["requests"], info["skipped_packets"]) == (3, 3, 1)
    assert (info["read_requests"], info["write_requests"]) == (1, 2)
    assert info["commands"] == {"ReadReq": 1, "WritebackDirty": 1, "CleanEvict": 1}
    assert (info["first_tick"], info["last_tick"], info["span_ns"]) == (1000, 6000, 5.0)
    assert (info["first_cycle"], info["last_cycle"]) == (2, 10)  # ceil(1000/625), 6000/625
    assert main(["gem5", "info", str(path)]) == 0
    text = capsys.readouterr().out
    assert "3 of 64 B (1 reads, 2 writes; 1 packets without data skipped)" in text


def test_from_loadstore_needs_the_clock(tmp_path, capsys):
    text = tmp_path / "t.trace"
    text.write_text(LOADSTORE)
    out = tmp_path / "t.gem5"
    assert main(["gem5", "convert", "--from-loadstore", str(text), "--out", str(out)]) == 2
    assert "--tck-ns is required" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize(
    "data, expected",
    [
        (b"LD 0x40\n", "magic number 'gem5'"),
        (wb.frame(wb.header(), wb.packet(0, 1, 0, 64), wb.packet(5, 77, 64, 64)), "packet 1 "),
        (wb.frame(wb.header(), wb.packet(0, 1, 0, 64))[:-2], "truncated message"),
    ],
)
def test_bad_traces_exit_2_with_one_line(tmp_path, data, expected):
    path = tmp_path / "bad.trc"
    path.write_bytes(data)
    for argv in (
        ["gem5", "info", str(path)],
        ["gem5", "convert", "--to-loadstore", str(path), "--out", str(tmp_path / "o.trace")],
    ):
        proc = subprocess.run(
            [sys.executable, "-m", "hermes_hw", *argv], capture_output=True, text=True
        )
        assert proc.returncode == 2, proc.stderr
        assert "Traceback" not in proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and expected in lines[0] and str(path) in lines[0]
        assert proc.stdout == ""
    assert not (tmp_path / "o.trace").exists()


def test_export_of_many_requests_streams_in_chunks(tmp_path):
    rng = np.random.default_rng(3)
    addrs = rng.integers(0, 1 << 30, size=20_000) & ~63
    kinds = rng.random(20_000) < 0.5
    text = tmp_path / "t.trace"
    lines = (f"{'ST' if w else 'LD'} {a:#x}\n" for a, w in zip(addrs, kinds, strict=True))
    text.write_text("".join(lines))
    out = tmp_path / "t.gem5"
    args = ["gem5", "convert", "--from-loadstore", str(text), "--out", str(out)]
    assert main([*args, "--tck-ns", "0.833"]) == 0
    trace = read_gem5_trace(out)
    cycles = np.concatenate([c for _, _, c in trace.iter_timed(0.833)])
    assert np.array_equal(cycles, np.arange(20_000))
    chunk = trace.read_all()
    assert np.array_equal(chunk.addr, addrs.astype(np.uint64))
    assert np.array_equal(chunk.is_write, kinds)


def test_addr_base_round_trip(tmp_path):
    text = tmp_path / "t.trace"
    text.write_text(LOADSTORE)
    gem5 = tmp_path / "t.gem5"
    base = ["--addr-base", "0x80000000"]
    args = ["gem5", "convert", "--from-loadstore", str(text), "--out", str(gem5), *base]
    assert main([*args, "--tck-ns", "1"]) == 0
    assert read_gem5_trace(gem5).read_all().addr.tolist()[0] == 0x8000_1000
    back = tmp_path / "back.trace"
    assert main(["gem5", "convert", "--to-loadstore", str(gem5), "--out", str(back), *base]) == 0
    assert back.read_text().lower() == LOADSTORE.lower()
