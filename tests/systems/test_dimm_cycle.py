"""``dimm_model: cycle``: the merged timeline's DIMM events timed by the cycle-level replay of the
run's lowered trace (hermes_hw/systems/dimm_cycle.py).

Expected values come from an independent replay of the kept trace (hermes_hw.ndp.run.replay_all)
mapped to events by this file's own table, from the DRAM config's peak rate, and from
hand-computed KV byte counts."""

from __future__ import annotations

import json
from collections import defaultdict

import numpy as np
import pytest
import yaml

from hermes_hw.errors import InputError
from hermes_hw.lowering.ops import OP_KINDS
from hermes_hw.lowering.trace import TraceDir
from hermes_hw.ndp.run import replay_all
from hermes_hw.paths import configs_dir
from hermes_hw.systems import RunOptions, simulate
from hermes_hw.workload.models import load_model

MODEL = "tiny-llama"
RUN = RunOptions(input_tokens=16, output_tokens=8)  # 7 decode steps
SAMPLES = 3  # workload.sample_tokens: steps 3..6 reuse samples 0..3 (the period and its reset)
OVERRIDES = {"workload": {"sample_tokens": SAMPLES}}

# this test's own reading of docs/simulate.md: (block kind, op kind) -> timeline event name
EVENT_OF = {("attention", "gemv"): "QKV cold", ("attention", "write_partial"): "QKV cold",
            ("attention", "reduce"): "QKV merge", ("attention", "kv_append"): "attention",
            ("attention", "attn_score"): "attention", ("attention", "softmax"): "attention",
            ("attention", "attn_value"): "attention", ("mlp", "gemv"): "MLP cold",
            ("mlp", "write_partial"): "MLP cold", ("mlp", "reduce"): "merge + reduce"}
for _bk in ("attention", "mlp"):
    for _k in ("promote_read", "remap_out", "remap_in"):
        EVENT_OF[(_bk, _k)] = "promote + remap"
WALL_FIELDS = ("wall_s", "placement_seconds")


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HERMES_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("HERMES_DIMM_CYCLE_TRACE", raising=False)


def _cycle(monkeypatch, trace=None, overrides=None, model=MODEL, run=RUN):
    if trace is not None:
        monkeypatch.setenv("HERMES_DIMM_CYCLE_TRACE", str(trace))
    r = simulate(model, "hermes", 1, run=run,
                 overrides={"dimm_model": "cycle", **OVERRIDES, **(overrides or {})})
    monkeypatch.delenv("HERMES_DIMM_CYCLE_TRACE", raising=False)
    return r


def _dimm_events(tl) -> dict:
    """(lane, event name, step, layer) -> duration ns of the decode events on DIMM lanes."""
    out = {}
    for i in range(len(tl)):
        lane = tl.lane_order[tl.lane_idx[i]]
        if tl.phases[i] == "decode" and lane.startswith("dimm") and "->" not in lane:
            key = (lane, tl.names[i], tl.tokens[i], tl.layers[i])
            assert key not in out
            out[key] = tl.ends[i] - tl.starts[i]
    return out


def _replayed(trace) -> tuple[dict, dict]:
    """Independent replay: (lane, event, step, layer) -> summed op durations, and per lane the
    stream's total."""
    model = load_model(MODEL)
    kinds = [g.kind for g in model.blocks]
    td = TraceDir(trace)
    per_event, per_lane = defaultdict(float), {}
    for r in replay_all(str(trace), jobs=1):
        ops = td.ops(r["dimm"])[r["op_index"]]
        dur = r["end_ns"] - r["start_ns"]
        lane = f"dimm{r['dimm']}"
        per_lane[lane] = float(dur.sum())
        for o, d in zip(ops, dur, strict=True):
            ev = EVENT_OF[(kinds[int(o["block"])], OP_KINDS[int(o["kind"])])]
            per_event[(lane, ev, int(o["token"]), int(o["layer"]))] += float(d)
    return dict(per_event), per_lane


def test_dimm_events_are_the_replayed_op_durations(tmp_path, monkeypatch):
    r = _cycle(monkeypatch, trace=tmp_path / "trace")
    events = _dimm_events(r.timeline)
    expected, per_lane = _replayed(tmp_path / "trace")
    # every lane's decode busy time is its replayed stream, nothing lost or added
    for lane, total in per_lane.items():
        got = sum(d for (ln, *_), d in events.items() if ln == lane)
        assert got == pytest.approx(total, rel=1e-9, abs=1e-6)
    # and event by event (events with no ops are zero-length; promote + remap only when any)
    for key, dur in events.items():
        assert dur == pytest.approx(expected.get(key, 0.0), rel=1e-9, abs=1e-6), key
    for key, dur in expected.items():
        if dur > 0:
            assert key in events, key
    steps = RUN.output_tokens - 1
    assert {k[2] for k in events} == set(range(steps))
    # the breakdown still sums to the end-to-end time with the extra promote + remap events
    assert sum(r.breakdown_ns.values()) == pytest.approx(r.total_ns, rel=1e-9)


def test_lowered_work_is_the_runs_work(tmp_path, monkeypatch):
    """The lowered GEMV bytes per (step, layer, DIMM) equal the timeline's own (WorkCounts)
    bytes, with step t reusing sample t mod S; KV reads follow step t's context (hand count)."""
    r = _cycle(monkeypatch, trace=tmp_path / "trace")
    model = load_model(MODEL)
    td = TraceDir(tmp_path / "trace")
    tl = r.timeline
    lowered = defaultdict(int)
    kv = defaultdict(int)
    for j in range(td.n_dimms):
        for o in td.ops(j):
            kind = OP_KINDS[int(o["kind"])]
            if kind == "gemv":
                name = "QKV cold" if model.blocks[int(o["block"])].kind == "attention" \
                    else "MLP cold"
                lowered[(f"dimm{j}", name, int(o["token"]), int(o["layer"]))] += \
                    int(o["read_bytes"])
            elif kind in ("attn_score", "attn_value"):
                kv[int(o["token"])] += int(o["read_bytes"])
    for i in range(len(tl)):
        if tl.phases[i] == "decode" and tl.names[i] in ("QKV cold", "MLP cold"):
            key = (tl.lane_order[tl.lane_idx[i]], tl.names[i], tl.tokens[i], tl.layers[i])
            args = tl.args[i] or {}
            assert lowered.get(key, 0) == int(args.get("read_bytes", 0)), key
    for t in range(RUN.output_tokens - 1):
        ctx = RUN.input_tokens + t + 1
        # K and V of every KV head and layer, FP16, batch 1
        assert kv[t] == 2 * ctx * model.num_kv_heads * model.head_dim * 2 * model.num_layers
    # periodic reuse: step t and t + S lower the same GEMV work
    for (lane, name, t, layer), nbytes in lowered.items():
        if t + SAMPLES < RUN.output_tokens - 1:
            assert lowered.get((lane, name, t + SAMPLES, layer), 0) == nbytes


def _peak_gbps(dram_file: str) -> float:
    """ranks x channel bytes per clock (DDR: 2 transfers per tCK) / tCK: the NDP-mode peak of
    one DIMM (each rank its own data path)."""
    from hermes_hw.dram.config import parse_config
    from hermes_hw.dram.resolve import resolve

    d = resolve(parse_config(yaml.safe_load((configs_dir() / dram_file).read_text()), "dram"))
    assert d.access_mode == "ndp"
    return d.org["rank"] * (d.standard.channel_width_bits // 8 * 2) / d.tck_ns


def test_gemv_events_respect_the_peak_internal_bandwidth(tmp_path, monkeypatch):
    """A GEMV event streams its lines through the DIMM's data paths: duration >= (lines - N) x
    64 B / peak, N = the NDP buffer in lines (at most N lines can arrive before the op starts,
    prefetched while the op before it ran). A 1 KiB buffer (N = 16) makes the bound bite."""
    buffer_kib = 1
    r = _cycle(monkeypatch, trace=tmp_path / "trace",
               overrides={"ndp": {"buffer_kib": buffer_kib}})
    peak = _peak_gbps(r.config.dram_config)
    assert peak == pytest.approx(102.4)  # 4 ranks x 16 B / 0.625 ns (DDR4-3200)
    n_buf = buffer_kib * 1024 // 64
    model = load_model(MODEL)
    td = TraceDir(tmp_path / "trace")
    lines = defaultdict(int)
    for j in range(td.n_dimms):
        for o in td.ops(j):
            if OP_KINDS[int(o["kind"])] == "gemv":
                name = "QKV cold" if model.blocks[int(o["block"])].kind == "attention" \
                    else "MLP cold"
                lines[(f"dimm{j}", name, int(o["token"]), int(o["layer"]))] += int(o["lines"])
    events = _dimm_events(r.timeline)
    checked = 0
    for key, n in lines.items():
        if n > n_buf:
            assert events[key] >= (n - n_buf) * 64 / peak, key
            checked += 1
    assert checked > 50


def _stats(r) -> str:
    s = r.stats()
    s.pop("wall_s", None)
    s["info"].get("workload", {}).pop("placement_seconds", None)
    return json.dumps(s, sort_keys=True, default=str)


def test_deterministic_fresh_and_cached(tmp_path, monkeypatch):
    a = _cycle(monkeypatch)
    monkeypatch.setenv("HERMES_CACHE_DIR", str(tmp_path / "other-cache"))
    b = _cycle(monkeypatch)  # replayed again
    c = _cycle(monkeypatch)  # read from the cache
    assert list((tmp_path / "other-cache" / "dimm-cycle").glob("*.npz"))
    assert _stats(a) == _stats(b) == _stats(c)
    assert a.info["dimm_model"]["model"] == "cycle"


# Tolerances (docs/simulate.md): issue 4 requires the fast mode's per-layer DIMM time within 3% of
# cycle-level, so the decode time per token (layers in sequence, plus GPU/PCIe/sync time both
# modes share) must agree within 3%. The timeline's fast adapter uses the additive per-op
# coefficients (docs/ndp.md: up to 7% per layer on LLaMA2-70B), so the DIMMs' GEMV busy time is
# held to 10% on a real model; on the tiny test models its latency-free fit (a = lat = 0) is
# not a meaningful reference for the GEMV busy time (short, latency-bound ops).
@pytest.mark.parametrize("model", ["tiny-opt", "tiny-llama"])
def test_cycle_agrees_with_fast_mode(monkeypatch, model):
    run = RunOptions(input_tokens=16, output_tokens=8)
    cyc = simulate(model, "hermes", 1, run=run, overrides={"dimm_model": "cycle"})
    fast = simulate(model, "hermes", 1, run=run, overrides={"dimm_model": "fast"})
    assert cyc.decode_ns_per_token == pytest.approx(fast.decode_ns_per_token, rel=0.03)


@pytest.mark.slow
def test_cycle_agrees_with_fast_mode_on_opt_13b(monkeypatch):
    """One decode step of OPT-13B (~19 M DRAM requests, 10-40 s)."""
    run = RunOptions(input_tokens=128, output_tokens=2)
    cyc = simulate("opt-13b", "hermes", 1, run=run, overrides={"dimm_model": "cycle"})
    fast = simulate("opt-13b", "hermes", 1, run=run, overrides={"dimm_model": "fast"})
    assert cyc.decode_ns_per_token == pytest.approx(fast.decode_ns_per_token, rel=0.03)
    assert cyc.busy_ns["dimm"]["fc"] == pytest.approx(fast.busy_ns["dimm"]["fc"], rel=0.10)


def test_hermes_base_rejects_cycle_and_hermes_host_ignores_it():
    with pytest.raises(InputError, match="hermes-base"):
        simulate("tiny-opt", "hermes-base", 1, run=RUN, overrides={"dimm_model": "cycle"})
    host = simulate("tiny-opt", "hermes-host", 1, run=RUN, overrides={"dimm_model": "cycle"})
    ref = simulate("tiny-opt", "hermes-host", 1, run=RUN)
    assert host.tokens_per_s == ref.tokens_per_s


def test_cache_disabled_and_no_decode_step(tmp_path, monkeypatch):
    monkeypatch.setenv("HERMES_CACHE_DIR", "off")
    r = _cycle(monkeypatch, run=RunOptions(input_tokens=16, output_tokens=1))
    assert r.info["dimm_model"]["decode_steps"] == 0
    r = _cycle(monkeypatch, run=RunOptions(input_tokens=16, output_tokens=3))
    assert r.info["dimm_model"]["decode_steps"] == 2
    assert not (tmp_path / "cache").exists()


def test_bandwidth_and_fast_have_no_promote_events():
    r = simulate("tiny-opt", "hermes", 1, run=RUN)
    assert "promote + remap" not in set(r.timeline.names)
    assert np.isfinite(r.tokens_per_s)


def test_sweep_runner_runs_dimm_timing_cycle(tmp_path):
    from hermes_hw.sweep import load_grid, run_sweep
    from hermes_hw.sweep.store import SweepStore

    path = tmp_path / "g.yaml"
    path.write_text("runner: simulate\nset: {model: tiny-opt, input_tokens: 16, "
                    "output_tokens: 4}\naxes:\n  dimm_timing: [fast, cycle]\n")
    grid = load_grid(path)
    report = run_sweep(grid, workers=1, progress=False)
    assert not report.failed and len(report.ran) == 2
    store = SweepStore(grid)
    run = RunOptions(input_tokens=16, output_tokens=4)
    expect = {"fast": simulate("tiny-opt", "hermes", 1, run=run),  # the config's default model
              "cycle": simulate("tiny-opt", "hermes", 1, run=run,
                                overrides={"dimm_model": "cycle"})}
    for p in grid.points:
        mode = p.axes["dimm_timing"]
        assert store.load_result(p)["values"]["tokens_per_s"] == expect[mode].tokens_per_s
        stats = json.loads((store.point_dir(p) / "stats.json").read_text())
        assert (stats["info"].get("dimm_model", {}).get("model") == "cycle") == (mode == "cycle")
    # a contradicting override is rejected before anything runs
    path.write_text("runner: simulate\nset: {model: tiny-opt, dimm_timing: cycle}\n"
                    "axes: {overrides.dimm_model: [fast]}\n")
    with pytest.raises(InputError, match="contradicts overrides.dimm_model"):
        load_grid(path)
