"""Timeline: placement rules, critical path, breakdown sums, Chrome export."""

import json

import pytest

from hermes_hw.timeline import (
    CATEGORIES,
    Timeline,
    busy_breakdown,
    chrome_trace,
    critical_path_breakdown,
)


def small_timeline() -> Timeline:
    tl = Timeline()
    a = tl.add("gpu", 10.0, name="a", category="fc")  # 0-10
    b = tl.add("dimm0", 25.0, name="b", category="fc")  # 0-25
    c = tl.add("pcie.h2d", 5.0, name="c", category="communication", deps=[a])  # 10-15
    d = tl.add("gpu", 7.0, name="d", category="attention", deps=[b, c])  # 25-32
    tl.add("host", 3.0, name="e", category="others", deps=[d])  # 32-35
    tl.add("gpu", 1.0, name="f", category="predictor", deps=[a])  # lane busy until 32 -> 32-33
    return tl


def test_events_start_after_lane_and_dependencies():
    tl = small_timeline()
    ev = {e.name: e for e in tl.events}
    assert (ev["c"].start_ns, ev["c"].end_ns) == (10.0, 15.0)
    assert (ev["d"].start_ns, ev["d"].end_ns) == (25.0, 32.0)  # waits for b (25), not c (15)
    assert ev["d"].critical_pred == ev["b"].id
    assert (ev["f"].start_ns, ev["f"].end_ns) == (32.0, 33.0)  # lane gpu busy until 32
    assert ev["f"].critical_pred == ev["d"].id
    assert tl.makespan_ns == 35.0


def test_lanes_never_overlap():
    tl = small_timeline()
    by_lane = {}
    for e in tl.events:
        by_lane.setdefault(e.lane, []).append(e)
    for evs in by_lane.values():
        for x, y in zip(evs, evs[1:], strict=False):
            assert y.start_ns >= x.end_ns


def test_critical_path_and_breakdown_sum_to_makespan():
    tl = small_timeline()
    path = [e.name for e in tl.critical_path()]
    assert path == ["b", "d", "e"]  # 25 + 7 + 3 = 35
    bd = critical_path_breakdown(tl)
    assert bd["fc"] == 25.0 and bd["attention"] == 7.0 and bd["others"] == 3.0
    assert sum(bd.values()) == pytest.approx(tl.makespan_ns)


def test_busy_breakdown_sums_every_event():
    tl = small_timeline()
    busy = busy_breakdown(tl)
    assert busy["gpu"]["fc"] == 10.0 and busy["gpu"]["attention"] == 7.0
    assert busy["gpu"]["predictor"] == 1.0
    assert busy["dimm"]["fc"] == 25.0 and busy["pcie"]["communication"] == 5.0
    total = sum(sum(d.values()) for d in busy.values())
    assert total == pytest.approx(sum(e.duration_ns for e in tl.events))


def test_bad_events_are_rejected():
    tl = Timeline()
    with pytest.raises(ValueError, match="negative duration"):
        tl.add("gpu", -1.0, name="x", category="fc")
    with pytest.raises(ValueError, match="unknown category"):
        tl.add("gpu", 1.0, name="x", category="compute")


def test_chrome_trace_microseconds_and_one_row_per_lane(tmp_path):
    tl = small_timeline()
    trace = chrome_trace(tl)
    json.dumps(trace)
    names = {e["args"]["name"]: e["tid"] for e in trace["traceEvents"]
             if e.get("name") == "thread_name"}
    assert set(names) == {"gpu", "dimm0", "pcie.h2d", "host"}
    xs = [e for e in trace["traceEvents"] if e["ph"] == "X"]
    assert len(xs) == len(tl.events)
    d = next(e for e in xs if e["name"] == "d")
    assert d["ts"] == 0.025 and d["dur"] == pytest.approx(0.007)  # ns -> us
    assert d["tid"] == names["gpu"] and d["cat"] == "attention"


def test_chrome_trace_token_filter_keeps_prefill():
    tl = Timeline()
    tl.add("gpu", 5.0, name="p", category="prefill", phase="prefill")
    for t in range(3):
        tl.add("gpu", 1.0, name="t", category="fc", token=t)
    trace = chrome_trace(tl, tokens={0})
    xs = [e for e in trace["traceEvents"] if e["ph"] == "X"]
    assert [e["args"]["token"] for e in xs] == [-1, 0]
    assert trace["otherData"]["events_skipped"] == 2


def test_categories_are_the_papers():
    assert CATEGORIES == ("fc", "attention", "predictor", "prefill", "communication", "others")
