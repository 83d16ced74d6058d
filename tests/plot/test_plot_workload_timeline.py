"""Workload figures (load balance, predictor quality) and the timeline Gantt chart."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hermes_hw.cli.main import main
from hermes_hw.plot.timeline import read_timeline, select_bars
from hermes_hw.plot.workload_result import (
    FORMAT,
    per_layer_quality,
    read_workload_result,
    window_balance,
    workload_result,
)

HAND_RESULT = {
    "format": FORMAT, "model": "hand", "decode_tokens": 10, "window_tokens": 5,
    "blocks": [
        {"layer": 0, "kind": "attention", "neurons": 100, "tp": 8, "fp": 2, "fn": 2},
        {"layer": 0, "kind": "mlp", "neurons": 400, "tp": 30, "fp": 10, "fn": 0},
        {"layer": 1, "kind": "attention", "neurons": 100, "tp": 9, "fp": 0, "fn": 1},
        {"layer": 1, "kind": "mlp", "neurons": 400, "tp": 0, "fp": 0, "fn": 0},
    ],
    "window_imbalance": {"static": [[1.5, 2.5, None, 1.0], [1.2, 1.4, 1.0, 1.0]],
                         "remap": [[1.5, 2.5, None, 1.0], [1.02, 1.04, 1.0, 1.0]]},
}


def test_quality_and_balance_by_hand():
    q = per_layer_quality(HAND_RESULT)
    assert q["attention"]["x"].tolist() == [0, 1]
    assert q["attention"]["recall"].tolist() == [0.8, 0.9]
    assert q["attention"]["precision"].tolist() == [0.8, 1.0]
    assert q["mlp"]["precision"][0] == 0.75 and np.isnan(q["mlp"]["recall"][1])
    b = window_balance(HAND_RESULT)
    assert b["static"] == pytest.approx([5 / 3, 1.15])
    assert b["remap"] == pytest.approx([5 / 3, 1.015])


def test_result_from_a_real_workload_run(tmp_path):
    from hermes_hw.workload.models import load_model
    from hermes_hw.workload.pipeline import Workload, WorkloadOptions

    model = load_model("tiny-opt")
    report = Workload(model, WorkloadOptions(prompt_tokens=16, decode_tokens=20)).run_all()
    obj = workload_result(report, window_tokens=5)
    path = tmp_path / "wl.json"
    path.write_text(json.dumps(obj))
    back = read_workload_result(path)
    assert len(back["blocks"]) == len(model.blocks)
    assert len(back["window_imbalance"]["static"]) == 20 // 5
    tp = sum(b["tp"] for b in back["blocks"])
    fn = sum(b["fn"] for b in back["blocks"])
    fp = sum(b["fp"] for b in back["blocks"])
    totals = report.totals()
    assert tp / (tp + fn) == pytest.approx(totals["recall"])
    assert tp / (tp + fp) == pytest.approx(totals["precision"])
    for name, fig in (("lb", "load-balance"), ("pq", "predictor")):
        assert main(["plot", fig, str(path), "-o", str(tmp_path / f"{name}.png")]) == 0


def test_workload_cli_json_is_accepted(tmp_path, capsys):
    assert main(["workload", "--model", "tiny-opt", "--tokens", "10", "--prompt", "16",
                 "--json", "--groups", "2"]) == 0
    path = tmp_path / "groups.json"
    path.write_text(capsys.readouterr().out)
    obj = read_workload_result(path)
    q = per_layer_quality(obj)
    groups = json.loads(path.read_text())["groups"]
    assert q["mlp"]["recall"].tolist() == [g["recall"] for g in groups if g["kind"] == "mlp"]
    for fig in ("load-balance", "predictor"):
        assert main(["plot", fig, str(path), "-o", str(tmp_path / f"{fig}.png")]) == 0


def _chrome(events):
    lanes = ["gpu", "dimm0", "dimm1", "pcie.h2d"]
    out = [{"name": "thread_name", "ph": "M", "pid": 1, "tid": i + 1, "args": {"name": n}}
           for i, n in enumerate(lanes)]
    out += [{"name": "thread_sort_index", "ph": "M", "pid": 1, "tid": i + 1,
             "args": {"sort_index": i + 1}} for i in range(len(lanes))]
    for lane, cat, ts, dur, phase, token, layer in events:
        out.append({"name": f"{cat}-{layer}", "cat": cat, "ph": "X", "pid": 1,
                    "tid": lanes.index(lane) + 1, "ts": ts, "dur": dur,
                    "args": {"phase": phase, "token": token, "layer": layer}})
    return {"traceEvents": out, "displayTimeUnit": "ns"}


EVENTS = [
    ("gpu", "prefill", 0.0, 1000.0, "prefill", -1, -1),
    ("gpu", "fc", 1000.0, 5.0, "decode", 0, 0),
    ("dimm0", "fc", 1000.0, 8.0, "decode", 0, 0),
    ("dimm1", "attention", 1008.0, 3.0, "decode", 0, 0),
    ("pcie.h2d", "communication", 1011.0, 1.0, "decode", 0, 1),
    ("gpu", "fc", 1020.0, 5.0, "decode", 1, 0),
]


def test_timeline_read_and_select(tmp_path):
    path = tmp_path / "timeline.json"
    path.write_text(json.dumps(_chrome(EVENTS)))
    lanes, bars = read_timeline(path)
    assert lanes == ["gpu", "dimm0", "dimm1", "pcie.h2d"]
    first = select_bars(bars, None, prefill=False)
    assert sorted((b.lane, b.start_us) for b in first) == [
        ("dimm0", 1000.0), ("dimm1", 1008.0), ("gpu", 1000.0), ("pcie.h2d", 1011.0)]
    assert len(select_bars(bars, [0, 1], prefill=True)) == 6
    assert [b.layer for b in select_bars(bars, [0], False, layers=(1, 1))] == [1]
    assert main(["plot", "timeline", str(path), "--tokens", "0-1", "-o",
                 str(tmp_path / "g.png")]) == 0


def test_timeline_from_the_timeline_module(tmp_path):
    timeline_mod = pytest.importorskip("hermes_hw.timeline",
                                       reason="hermes_hw.timeline (simulate issue) not present")
    tl = timeline_mod.Timeline()
    a = tl.add("gpu", 5000.0, name="qkv", category="fc", token=0, layer=0)
    tl.add("dimm0", 7000.0, name="attn", category="attention", deps=[a], token=0, layer=0)
    path = timeline_mod.write_chrome_trace(tmp_path / "t.json", tl)
    lanes, bars = read_timeline(path)
    assert set(lanes) == {"gpu", "dimm0"}
    attn = next(b for b in bars if b.name == "attn")
    assert attn.start_us == pytest.approx(5.0) and attn.dur_us == pytest.approx(7.0)
    assert main(["plot", "timeline", str(path), "-o", str(tmp_path / "t.png")]) == 0


@pytest.mark.parametrize(("content", "figure", "message"), [
    ("[1, 2]", "timeline", "traceEvents[0]: expected an object"),
    ('{"traceEvents": [{"ph": "X", "ts": "x"}]}', "timeline",
     "complete event without numeric ts/dur"),
    ("{}", "timeline", "expected Chrome trace-event JSON"),
    ("not json", "predictor", "not valid JSON"),
    ('{"format": "hermes-workload-result/1"}', "load-balance", "missing 'blocks'"),
    ('{"x": 1}', "predictor", "expected a hermes-workload-result/1 file"),
])
def test_bad_files_exit_2(tmp_path, capsys, content, figure, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    rc = main(["plot", figure, str(path), "-o", str(tmp_path / "x.png")])
    err = capsys.readouterr().err
    assert rc == 2 and message in err
    assert not (tmp_path / "x.png").exists()
