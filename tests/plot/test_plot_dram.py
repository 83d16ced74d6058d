"""DRAM figures: data checked against hand calculations and against `hermes dram replay --json`
of the same run; the CLI writes figures and rejects bad input with exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hermes_hw.cli.main import main
from hermes_hw.dram.command_log import CommandLog
from hermes_hw.plot import dram

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "configs" / "dram" / "hermes_ndp_dimm.yaml"
TRACE = REPO / "traces" / "sample_mix_2k.trace"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _log(rows):
    return CommandLog.from_records(rows)


@pytest.fixture(scope="module")
def replayed(tmp_path_factory):
    """One replay of the sample trace on the Table II DIMM: JSON, command log, histogram."""
    d = tmp_path_factory.mktemp("replay")
    log, hist = d / "cmd.log", d / "lat.csv"
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = main(["dram", "replay", "--config", str(CONFIG), "--trace", str(TRACE), "--json",
                   "--command-log", str(log), "--latency-histogram", str(hist)])
    assert rc == 0
    (d / "replay.json").write_text(buf.getvalue())
    return d, json.loads(buf.getvalue())


def test_bandwidth_by_hand():
    # tCK 0.625 ns, 64 B per RD/WR; bins of 10 ns = 16 cycles
    log = _log([(0, "RD", 0, 0, 0, 0, 5, 0), (4, "RD", 0, 1, 0, 0, 5, 1),
                (8, "WR", 0, 0, 0, 1, 5, 2), (9, "ACT", 0, 0, 0, 1, 7, -1),
                (100, "RDA", 1, 0, 0, 0, 3, 0)])
    timing = dram.DramTiming(tck_ns=0.625, tx_bytes=64)
    edges, series = dram.bandwidth_series([("d", log)], timing, by="channel", bin_ns=10.0)
    assert edges[1] == 10.0 and len(edges) == 8  # 101 cycles = 63.125 ns -> 7 bins
    assert series["ch0"][0] == pytest.approx(3 * 64 / 10.0)  # 19.2 GB/s
    assert series["ch0"][1:].sum() == 0
    assert series["ch1"][6] == pytest.approx(64 / 10.0)  # cycle 100 = 62.5 ns -> bin 6
    _, by_rank = dram.bandwidth_series([("d", log)], timing, by="rank", bin_ns=10.0)
    assert by_rank["ch0 rank0"][0] == pytest.approx(2 * 6.4)
    assert by_rank["ch0 rank1"][0] == pytest.approx(6.4)


def test_row_hits_by_hand():
    rows = [(0, "ACT", 0, 0, 0, 0, 1, -1), (30, "RD", 0, 0, 0, 0, 1, 0),
            (34, "RD", 0, 0, 0, 0, 1, 1), (38, "WR", 0, 0, 0, 0, 1, 2),
            (60, "PRE", 0, 0, 0, 0, 2, -1), (90, "ACT", 0, 0, 0, 0, 2, -1),
            (120, "RD", 0, 0, 0, 0, 2, 0), (121, "ACT", 0, 0, 1, 3, 9, -1),
            (150, "RDA", 0, 0, 1, 3, 9, 0), (200, "REFab", 0, 0, -1, -1, -1, -1)]
    h = dram.row_hits_per_bank([("d", _log(rows))])
    assert h.rows == ["ch0 rank0"] and h.cols == ["bg0 b0", "bg1 b3"]
    assert h.accesses.tolist() == [[4, 1]] and h.activates.tolist() == [[2, 1]]
    assert h.hit_rate[0, 0] == pytest.approx(0.5) and h.hit_rate[0, 1] == 0.0


def test_figures_agree_with_the_replay_json(replayed):
    d, rep = replayed
    logs = dram.read_logs([str(d / "cmd.log")])
    timing = dram.timing_from_config(CONFIG)
    assert timing == dram.timing_from_replay_json(d / "replay.json").__class__(
        tck_ns=rep["tck_ns"], tx_bytes=64, source=timing.source)
    # bandwidth integrates to the bytes moved
    edges, series = dram.bandwidth_series(logs, timing, by="rank", bins=50)
    moved = sum(float(v.sum()) for v in series.values()) * (edges[1] - edges[0])
    assert moved == pytest.approx(rep["bytes"])
    # command mix = the engine's command counts
    mix = dram.command_mix(logs, by="channel")["ch0"]
    assert {k: v for k, v in mix.items() if v} == {k: v for k, v in rep["commands"].items() if v}
    # per-bank hit rate from the log vs the engine's per-request row-hit count: each ACT serves
    # one non-hit request (refresh-closed rows may reopen, so allow a few)
    h = dram.row_hits_per_bank(logs)
    assert h.accesses.sum() == rep["reads"] + rep["writes"]
    hits = h.accesses.sum() - h.activates.sum()
    assert abs(hits - rep["row_hits"]) <= 0.005 * (rep["reads"] + rep["writes"])
    # latency histogram: mean, p50, p99 as the replay reports them
    lat, lat_ns, reads = dram.read_latency_histogram(d / "lat.csv")
    assert reads.sum() == rep["reads"]
    assert (lat * reads).sum() / reads.sum() == pytest.approx(rep["avg_read_latency_cycles"])
    assert dram.percentile_cycles(lat, reads, 0.5) == rep["read_latency_p50_cycles"]
    assert dram.percentile_cycles(lat, reads, 0.99) == rep["read_latency_p99_cycles"]
    assert lat.max() == rep["max_read_latency_cycles"]
    assert np.allclose(lat_ns, lat * rep["tck_ns"])


def test_cli_writes_every_dram_figure(replayed, tmp_path):
    d, _ = replayed
    log = str(d / "cmd.log")
    runs = {
        "bw.png": ["bandwidth", log, "--config", str(CONFIG), "--by", "rank"],
        "bw2.pdf": ["bandwidth", f"dimm0={log}", f"dimm1={log}", "--replay-json",
                    str(d / "replay.json"), "--bin-ns", "50"],
        "cmd.png": ["commands", log],
        "hits.svg": ["row-hits", log],
        "lat.png": ["latency", str(d / "lat.csv")],
    }
    for name, argv in runs.items():
        assert main(["plot", *argv, "-o", str(tmp_path / name)]) == 0, name
        data = (tmp_path / name).read_bytes()
        assert len(data) > 5000
        if name.endswith(".png"):
            assert data.startswith(PNG_MAGIC)
        if name.endswith(".pdf"):
            assert data.startswith(b"%PDF")
    # the same inputs give the same file, byte for byte
    assert main(["plot", "commands", log, "-o", str(tmp_path / "again.png")]) == 0
    assert (tmp_path / "again.png").read_bytes() == (tmp_path / "cmd.png").read_bytes()


@pytest.mark.parametrize(("argv", "message"), [
    (["bandwidth", "{log}"], "the clock period is needed"),
    (["bandwidth", "{log}", "--tck-ns", "0"], "--tck-ns must be positive"),
    (["latency", "{log}"], "expected a CSV with header latency_cycles,latency_ns,reads"),
    (["commands", "{missing}"], "cannot read command log"),
    (["row-hits", "{lat}"], "expected 'clk, CMD, channel"),
    (["commands", "{log}", "-o", "{tmp}/x.jpg"], "unsupported figure format '.jpg'"),
])
def test_bad_input_exit_2(replayed, tmp_path, capsys, argv, message):
    d, _ = replayed
    subs = {"log": str(d / "cmd.log"), "lat": str(d / "lat.csv"), "tmp": str(tmp_path),
            "missing": str(tmp_path / "none.log")}
    rc = main(["plot", *[a.format(**subs) for a in argv]])
    err = capsys.readouterr().err
    assert rc == 2 and message in err and "Traceback" not in err
