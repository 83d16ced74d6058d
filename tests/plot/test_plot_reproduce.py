"""`hermes reproduce` machinery on small experiment folders (dram-replay and workload runners),
and the built-in experiment files."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from hermes_hw.cli.main import main
from hermes_hw.experiments import load_experiments, reproduce
from hermes_hw.experiments.reproduce import _grid

REPO = Path(__file__).resolve().parents[2]
TRACE = REPO / "traces" / "sample_mix_2k.trace"
CONFIG = REPO / "configs" / "dram" / "hermes_ndp_dimm.yaml"

DRAM_EXP = f"""
title: tFAW vs scheduler
order: 1
grid:
  runner: dram-replay
  base: {CONFIG}
  set: {{Frontend.path: {TRACE}}}
  axes:
    MemorySystem.Controller.Scheduler.impl: [FRFCFS, FCFS]
    MemorySystem.DRAM.timing.nFAW: [26, 48]
fast:
  MemorySystem.DRAM.timing.nFAW: [26]
columns: [MemorySystem.Controller.Scheduler.impl, MemorySystem.DRAM.timing.nFAW,
          bandwidth_gbps]
reference:
  column: made_up_reference
  by: [MemorySystem.Controller.Scheduler.impl]
  values: {{FRFCFS: 40.0}}
derived:
  - column: bw_vs_frfcfs
    ratio_to: {{column: bandwidth_gbps, where: {{MemorySystem.Controller.Scheduler.impl: FRFCFS}},
                match: [MemorySystem.DRAM.timing.nFAW]}}
  - column: gb_per_kcycle
    divide: [bytes, drain_cycles]
    scale: 1.0e-6
figure:
  kind: bars
  x: MemorySystem.DRAM.timing.nFAW
  series: MemorySystem.Controller.Scheduler.impl
  y: bandwidth_gbps
  ylabel: bandwidth (GB/s)
  reference: made_up_reference
"""

WORKLOAD_EXP = """
title: tiny predictor
order: 2
grid:
  runner: workload
  set: {model: tiny-opt, prompt_tokens: 16, decode_tokens: 10}
  axes: {window: [5]}
figure: {kind: predictor, file: workload_result.json}
"""

PENDING_EXP = """
title: pins an analytical DIMM model, so it cannot run with --cycle
order: 3
grid:
  runner: simulate
  set: {model: tiny-opt, overrides: {dimm_model: fast}}
  axes: {batch: [1]}
figure: {kind: bars, x: batch, y: tokens_per_s}
"""

CYCLE_EXP = """
title: tiny simulate
order: 4
grid:
  runner: simulate
  set: {model: tiny-opt, input_tokens: 16, output_tokens: 4}
  axes: {system: [hermes, hermes-host]}
figure: {kind: bars, x: system, y: tokens_per_s}
"""


@pytest.fixture()
def folder(tmp_path):
    d = tmp_path / "exps"
    d.mkdir()
    (d / "dram.yaml").write_text(DRAM_EXP)
    (d / "wl.yaml").write_text(WORKLOAD_EXP)
    return d


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_reproduce_tables_figures_index_and_cache(folder, tmp_path):
    out = tmp_path / "out"
    outcomes = reproduce(out, mode="full", folder=folder, workers=1, progress=False)
    assert [o.status for o in outcomes] == ["done", "done"]
    for stem in ("dram", "wl"):
        for ext in ("csv", "png", "pdf"):
            assert (out / f"{stem}.{ext}").stat().st_size > 0
    rows = _rows(out / "dram.csv")
    assert list(rows[0]) == ["MemorySystem.Controller.Scheduler.impl",
                             "MemorySystem.DRAM.timing.nFAW", "bandwidth_gbps",
                             "made_up_reference", "bw_vs_frfcfs", "gb_per_kcycle", "status"]
    assert len(rows) == 4 and all(r["status"] == "ok" for r in rows)
    by = {(r["MemorySystem.Controller.Scheduler.impl"], r["MemorySystem.DRAM.timing.nFAW"]): r
          for r in rows}
    for faw in ("26", "48"):  # derived columns, recomputed here by hand
        fcfs, fr = by[("FCFS", faw)], by[("FRFCFS", faw)]
        assert float(fcfs["bw_vs_frfcfs"]) == pytest.approx(
            float(fcfs["bandwidth_gbps"]) / float(fr["bandwidth_gbps"]))
        assert float(fr["bw_vs_frfcfs"]) == 1.0
        assert fr["made_up_reference"] == "40.0" and fcfs["made_up_reference"] == ""
    # the values are the points' result files
    grid = _grid(load_experiments(folder, ["dram"])[0], "full", out / "runs")
    for p in grid.points:
        values = json.loads((out / "runs" / "points" / p.id / "result.json").read_text())["values"]
        row = by[(p.axes["MemorySystem.Controller.Scheduler.impl"],
                  str(p.axes["MemorySystem.DRAM.timing.nFAW"]))]
        assert float(row["bandwidth_gbps"]) == values["bandwidth_gbps"]
        assert float(row["gb_per_kcycle"]) == pytest.approx(
            values["bytes"] / values["drain_cycles"] * 1e-6)
    index = (out / "index.md").read_text()
    assert "![tFAW vs scheduler](dram.png)" in index and "![tiny predictor](wl.png)" in index
    # second run: every point cached, identical tables
    before = {p: p.stat().st_mtime_ns for p in (out / "runs" / "points").glob("*/result.json")}
    csv_before = (out / "dram.csv").read_bytes()
    reproduce(out, mode="full", folder=folder, workers=1, progress=False)
    after = {p: p.stat().st_mtime_ns for p in (out / "runs" / "points").glob("*/result.json")}
    assert before == after and (out / "dram.csv").read_bytes() == csv_before


def test_fast_mode_uses_the_reduced_axes(folder, tmp_path):
    out = tmp_path / "out"
    reproduce(out, mode="fast", folder=folder, only=["dram"], workers=1, progress=False)
    rows = _rows(out / "dram.csv")
    assert {r["MemorySystem.DRAM.timing.nFAW"] for r in rows} == {"26"} and len(rows) == 2


def test_experiment_that_cannot_run_is_reported_pending(folder, tmp_path, capsys):
    (folder / "sim.yaml").write_text(PENDING_EXP)
    rc = main(["reproduce", "--cycle", "--out", str(tmp_path / "o"), "--experiments",
               str(folder), "--only", "sim", "--no-progress"])
    out = capsys.readouterr().out
    assert rc == 1 and "pending" in out and "contradicts overrides.dimm_model" in out
    assert not (tmp_path / "o" / "sim.csv").exists()
    index = (tmp_path / "o" / "index.md").read_text()
    assert "Status: **pending**" in index


def test_cycle_mode_runs_simulate_points_cycle_level(folder, tmp_path, monkeypatch):
    monkeypatch.setenv("HERMES_CACHE_DIR", str(tmp_path / "cache"))
    (folder / "sim.yaml").write_text(CYCLE_EXP)
    out = tmp_path / "o"
    outcomes = reproduce(out, mode="cycle", folder=folder, only=["sim"], workers=1,
                         progress=False)
    assert [o.status for o in outcomes] == ["done"]
    stats = [json.loads(p.read_text()) for p in (out / "runs").rglob("stats.json")]
    models = sorted(s["info"].get("dimm_model", {}).get("model", "-") for s in stats)
    assert models == ["-", "cycle"]  # hermes replays cycle-level; hermes-host has no DIMMs
    assert "cycle-level DIMM timing" in (out / "index.md").read_text()


@pytest.mark.parametrize(("text", "message"), [
    ("title: x\ngrid: {axes: {a: [1]}}\nfigure: {kind: pie}\n", "figure.kind"),
    ("title: x\ngrid: {axes: {a: [1]}}\nfigur: {}\n", "figur: unknown key"),
    ("grid: {axes: {a: [1]}}\n", "title: Field required"),
])
def test_bad_experiment_file_exit_2(tmp_path, capsys, text, message):
    (tmp_path / "bad.yaml").write_text(text)
    rc = main(["reproduce", "--experiments", str(tmp_path), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc == 2 and message in err and "bad.yaml" in err


def test_builtin_experiments_cover_the_paper_and_validate():
    specs = load_experiments()
    ids = [s.id for s in specs]
    for needed in ("throughput_opt", "throughput_relu", "batch_sweep", "latency_breakdown",
                   "ablation", "sens_dimms", "sens_gpu", "sens_multipliers", "trtllm", "cost"):
        assert any(i.endswith(needed) for i in ids), needed
    for spec in specs:
        if spec.grid.get("runner") == "simulate":
            pytest.importorskip("hermes_hw.systems", reason="hermes simulate not present")
        for mode in ("full", "fast"):
            grid = _grid(spec, mode, Path("/nonexistent"))
            assert grid.points
