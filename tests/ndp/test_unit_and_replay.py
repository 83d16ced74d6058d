"""NDP unit model and per-DIMM replay: the consume scan, bound regimes, clock domains,
determinism (serial vs parallel), the fast mode's fit."""

from __future__ import annotations

import numpy as np
from conftest import homes_mod, system, token
from test_trace_dir import _lower

from hermes_hw.dram.memory_system import MemorySystem
from hermes_hw.layout.base import DimmGeometry
from hermes_hw.layout.model_layout import ModelLayout
from hermes_hw.lowering.driver import lower_to_dir
from hermes_hw.lowering.ops import OP_KIND_ID, new_ops
from hermes_hw.lowering.trace import TraceDir
from hermes_hw.ndp.config import NdpUnitConfig
from hermes_hw.ndp.fast import durations, fit, pipeline_durations
from hermes_hw.ndp.replay import replay_dimm
from hermes_hw.ndp.run import replay_all
from hermes_hw.ndp.unit import NdpTiming, scan_consume


def test_scan_matches_the_recurrence():
    rng = np.random.default_rng(5)
    n = 500
    d = np.sort(rng.uniform(0, 1000, n))
    d[rng.random(n) < 0.2] = -np.inf  # writes
    t = rng.uniform(0, 5, n)
    b = np.where(rng.random(n) < 0.1, rng.uniform(0, 50, n), 0.0)
    f_prev, s0 = 7.0, 3.0
    want = []
    f = f_prev
    for i in range(n):
        f = max(f + b[i], d[i]) + t[i]
        want.append(f)
    got, S, s_last, g_last = scan_consume(d, t, b, s0, f_prev - s0)
    assert np.allclose(got, want)
    assert np.isclose(g_last + s_last, want[-1])


def test_compute_cost_in_dram_cycles():
    unit = NdpUnitConfig(multipliers=256, lanes_per_multiplier=8, cycles_per_op=2.0)
    timing = NdpTiming(unit, tck_ns=0.625)
    ops = new_ops(2)
    ops["kind"] = [OP_KIND_ID["gemv"], OP_KIND_ID["softmax"]]
    ops["macs"] = [1024 * 1000, 0]
    ops["act_elems"] = [0, 600]
    c = timing.compute_cycles(ops)
    # 1,024,000 MACs / (256 x 8 / 2 per NDP cycle) = 1000 NDP cycles = 1000 ns = 1600 tCK
    assert np.isclose(c[0], 1600.0)
    # softmax: 3 passes x ceil(600 / 256) = 9 NDP cycles = 14.4 tCK
    assert np.isclose(c[1], 9 * 1.6)


def _gemv_trace(model, out, n_dimms=1, batch=1, multipliers=256):
    s = system(n_dimms)
    s.unit.multipliers = multipliers
    ids = np.arange(0, model.blocks[1].count)  # every MLP neuron of layer 0 on DIMM 0
    act = {1: [ids]}
    tok = token(model, 0, 4, act)
    return lower_to_dir(model, s, lambda: iter([tok]), out, batch=batch, prompt_tokens=4,
                        decode_tokens=1, homes=homes_mod(model, n_dimms), force=True)


def test_bandwidth_vs_compute_bound(tiny, tmp_path):
    _gemv_trace(tiny, tmp_path / "t", batch=16)
    ops = TraceDir(tmp_path / "t").ops(0)
    g = np.flatnonzero((ops["kind"] == OP_KIND_ID["gemv"]) & (ops["lines"] > 0))[0]
    fast_unit = replay_dimm(str(tmp_path / "t"), 0, override={"unit": {"multipliers": 4096}})
    slow_unit = replay_dimm(str(tmp_path / "t"), 0, override={"unit": {"multipliers": 1}})
    lines = int(ops["lines"][g])
    # plenty of multipliers: the DRAM bounds it (>= one 64 B line per DRAM cycle)
    dur_fast = fast_unit["end_ns"][g] - fast_unit["start_ns"][g]
    assert dur_fast >= lines * 0.625
    assert fast_unit["stall_dram_ns"][g] > fast_unit["busy_ns"][g]
    # one multiplier: compute-bound; the op lasts its compute time plus at most the first
    # data's latency, and the DRAM waited for the unit
    comp = slow_unit["busy_ns"][g]
    dur_slow = slow_unit["end_ns"][g] - slow_unit["start_ns"][g]
    assert comp <= dur_slow <= comp + 200 * 0.625
    assert slow_unit["stall_compute_ns"][g] > 0.5 * dur_slow


def test_buffer_limits_requests_ahead_of_compute(tiny, tmp_path):
    """Compute-bound: request i may not issue before line i - N is consumed."""
    _gemv_trace(tiny, tmp_path / "t", batch=16)
    r = replay_dimm(str(tmp_path / "t"), 0, override={"unit": {"multipliers": 1,
                                                               "buffer_bytes": 64 * 8}})
    ops = TraceDir(tmp_path / "t").ops(0)
    g = np.flatnonzero((ops["kind"] == OP_KIND_ID["gemv"]) & (ops["lines"] > 0))[0]
    big = replay_dimm(str(tmp_path / "t"), 0, override={"unit": {"multipliers": 1}})
    # a tiny buffer cannot run ahead: the op is as compute-bound but later ops start no earlier
    assert r["end_ns"][g] >= big["end_ns"][g] - 1e-6
    assert r["totals"]["busy_time_ns"] >= big["totals"]["busy_time_ns"] - 1e-6


def test_replay_counts_every_request(tiny, tmp_path):
    man = _lower(tiny, tmp_path / "t")
    for j, res in enumerate(replay_all(str(tmp_path / "t"), jobs=1)):
        assert res["totals"]["requests"] == man["dimms"][j]["requests"]
        assert res["totals"]["read_requests"] == man["dimms"][j]["read_requests"]
        assert res["totals"]["write_requests"] == man["dimms"][j]["write_requests"]
        assert (np.diff(res["end_ns"]) >= -1e-9).all()  # ops finish in order on one core


def test_serial_and_parallel_identical(tiny, tmp_path):
    _lower(tiny, tmp_path / "t", n_tokens=3)
    a = replay_all(str(tmp_path / "t"), jobs=1)
    b = replay_all(str(tmp_path / "t"), jobs=2)
    for x, y in zip(a, b, strict=True):
        for k in ("start_ns", "end_ns", "busy_ns", "stall_dram_ns", "stall_compute_ns"):
            assert np.array_equal(x[k], y[k])
        tx = {k: v for k, v in x["totals"].items() if k != "wall_seconds"}
        ty = {k: v for k, v in y["totals"].items() if k != "wall_seconds"}
        assert tx == ty


def test_rank_local_neurons_stay_in_one_rank(tiny):
    s = system(2, policy="rank-local")
    geom = DimmGeometry.from_dram_mapping(s.dram_mapping())
    lay = ModelLayout(tiny, 2, geom, s.layout, homes_mod(tiny, 2), batch=1,
                      max_context_tokens=16)
    ms = MemorySystem.from_yaml(s.dram_mapping())
    b = 1
    ranks_used = set()
    for i in range(0, 40, 2):  # DIMM 0's neurons
        segs = lay.neuron_segments(b, 0, np.array([i]))
        ranks = {ms.backend.decode(int(segs["addr"][0]) + k * int(segs["stride"][0]))[1]
                 for k in range(int(segs["lines"][0]))}
        assert len(ranks) == 1
        ranks_used |= ranks
    assert ranks_used == {0, 1, 2, 3}


def test_fast_fit_recovers_a_linear_stream():
    """Synthetic per-op durations from known coefficients are recovered by the fit."""
    rng = np.random.default_rng(9)
    n = 200
    ops = new_ops(n)
    ops["kind"] = OP_KIND_ID["gemv"]
    ops["lines"] = rng.integers(1000, 100000, n)
    ops["seg_count"] = rng.integers(1, 60, n)
    comp = ops["lines"] * 0.05  # bandwidth-bound
    true = 30 + 1.08 * ops["lines"] + 12.0 * ops["seg_count"]
    coef = fit(ops, true.astype(float), comp, buffer_lines=4096)
    c = coef["gemv"]
    assert np.isclose(c["b"], 1.08, rtol=1e-6) and np.isclose(c["g"], 12.0, rtol=1e-4)
    dur, _ = durations(ops, comp, coef, 4096)
    assert np.allclose(dur, true, rtol=1e-6)


def test_replay_does_not_depend_on_the_expansion_block(tiny, tmp_path):
    """The buffer limit is applied exactly (arrivals wait for the consume times they depend
    on), so cutting the request stream into blocks of any size gives identical timelines."""
    _lower(tiny, tmp_path / "t", n_tokens=2)
    ov = {"unit": {"buffer_bytes": 64 * 16}}
    ref = replay_dimm(str(tmp_path / "t"), 0, override=ov)
    for block in (5, 64, 1 << 20):
        r = replay_dimm(str(tmp_path / "t"), 0, override=ov, chunk_requests=block)
        for k in ("start_ns", "end_ns", "first_issue_ns", "stall_dram_ns", "stall_compute_ns"):
            assert np.array_equal(r[k], ref[k]), (block, k)


def test_buffer_bounds_prefetch_across_ops(tiny, tmp_path):
    """An op can find at most N lines already in the buffer, however long the ops before it
    (PCIe-paced promotions, compute) left the DRAM idle: a read op of L lines still waits for
    L - N lines of DRAM streaming (at most 4 lines per DRAM cycle: one per rank)."""
    _lower(tiny, tmp_path / "t", n_tokens=2)
    n_lines = 16
    r = replay_dimm(str(tmp_path / "t"), 0, override={"unit": {"buffer_bytes": 64 * n_lines}})
    ops = TraceDir(tmp_path / "t").ops(0)
    tck = 0.625
    reads = np.isin(ops["kind"], [OP_KIND_ID[k] for k in ("gemv", "attn_score", "attn_value")])
    checked = 0
    for i in np.flatnonzero(reads & (ops["lines"] > 4 * n_lines)):
        dur = r["end_ns"][i] - r["start_ns"][i]
        assert dur >= (ops["lines"][i] - n_lines) / 4 * tck
        checked += 1
    assert checked


def test_pipeline_model_by_hand():
    """The fast mode's op-level pipeline on hand-computed cases (DRAM cycles, N = 100 lines)."""
    p = {"gemv": {"b": 1.0, "g": 5.0, "lat": 40.0, "h": 2.0},
         "attn": {"b": 2.0, "g": 0.0, "lat": 10.0, "h": 0.0},
         "transfer": {"b": 1.0, "g": 0.0, "lat": 0.0, "h": 0.0},
         "write": {"b": 1.0, "lat": 7.0, "conf": 30.0, "chain": 90.0},
         "row": {"lat": 3.0, "rc": 50.0}}

    def rd(lines, segs, comp, acts=0, conf=0, wconf=0, chain=0, cls=0, wchain=0, last=0):
        return (1, cls, lines, segs, comp, acts, conf, wconf, chain, wchain, last)

    # (code, class, lines, segments, compute, head activations, head conflicts, write
    # conflict, further rows of one head bank, late-drained write on a head bank, line of the
    # last head activation): code 0 compute-only, 1 read, 2 writes, 3 compute behind a fence
    # 1) 1000 lines in 2 segments from an idle DRAM: lat + b L + g s, then the last line's
    #    compute (c / L): 40 + 1000 + 10 + 0.1
    dur = pipeline_durations([rd(1000, 2, 100.0)], p, buffer_lines=100)
    assert np.isclose(dur[0], 40 + 1000 + 10 + 0.1)
    # 2) after 5000 cycles of compute-only work, a 50-line op (fits the buffer) was prefetched
    #    entirely: it costs its compute only (30)
    comp_only = (0, 0, 0, 0, 5000.0, 0, 0, 0, 0, 0, 0)
    dur = pipeline_durations([comp_only, rd(50, 1, 30.0)], p, buffer_lines=100)
    assert np.isclose(dur[1], 30.0)
    # 3) the same with 1000 lines: only N = 100 were prefetched; the other 900 lines (and
    #    their share of the segment cost) stream after the op starts: lat + 900 + 4.5 + 0.03
    dur = pipeline_durations([comp_only, rd(1000, 1, 30.0)], p, buffer_lines=100)
    assert np.isclose(dur[1], 40 + 900 + 4.5 + 0.03)
    # 4) posted writes in between: no prefetch across them, the DRAM first writes 20 lines,
    #    and the read pays the write turnaround (7): max(40 + 7, 20) + 50 + 5 + 30 / 50
    tab = [comp_only, (2, 0, 20, 1, 0.0, 0, 0, 0, 0, 0, 0), rd(50, 1, 30.0)]
    dur = pipeline_durations(tab, p, buffer_lines=100)
    assert dur[1] == 0.0 and np.isclose(dur[2], 40 + 7 + 50 + 5 + 30 / 50)
    # 5) a head that activates 10 banks, 4 of them open at another row, one written at another
    #    row, and one bank opening a second row: latency 40 + 3 + 30 + 50, DRAM time
    #    b L + g s + h A = 50 + 5 + 20, then the last line's compute: 30 / 50
    dur = pipeline_durations([rd(50, 1, 30.0, acts=10, conf=4, wconf=1, chain=1)], p, 100)
    assert np.isclose(dur[0], 40 + 3 + 30 + 50 + 50 + 5 + 20 + 30 / 50)
    # 6) a head bank still finishing a late-drained write: + write.chain (90) on the latency
    dur = pipeline_durations([rd(50, 1, 30.0, acts=1, conf=1, wchain=1)], p, 100)
    assert np.isclose(dur[0], 40 + 3 + 90 + 50 + 5 + 2 + 30 / 50)
    # 7) the head's last activating line is line 45: the frontend offers it 45 x 1.5 cycles
    #    after the first, so the last data is at 40 + 67.5 (not 40 + b L + g s + h A =
    #    40 + 50 + 5 + 4 = 99); then its compute 30 / 50
    p["row"]["pos"] = 1.5
    dur = pipeline_durations([rd(50, 1, 30.0, acts=2, last=45)], p, 100)
    assert np.isclose(dur[0], 40 + 67.5 + 30 / 50)
    p["row"]["pos"] = 0.0
    # 8) write fence: a 50-line read from idle (ends at 40 + 55 + 0.6 = 95.6), 6 write lines
    #    posted at 95.6 that activate 6 banks (2 open at another row), then a fenced op of
    #    compute 5: the writes are in DRAM after lat + act + pre + b (6 - 1) = 20 + 24 + 24 +
    #    2 x 5 = 78 cycles, so the fenced op lasts 78 + 5; the read after it issues at the
    #    fence (173.6) and pays the turnaround wtr (12) instead of write.lat:
    #    173.6 + 40 + 12 + 55 + 0.6 - 178.6
    p["fence"] = {"lat": 20.0, "act": 24.0, "pre": 24.0, "b": 2.0, "wtr": 12.0}
    writes = (2, 0, 6, 1, 0.0, 6, 2, 0, 0, 0, 1)
    fenced = (3, 0, 0, 0, 5.0, 0, 0, 0, 0, 0, 0)
    dur = pipeline_durations([rd(50, 1, 30.0), writes, fenced, rd(50, 1, 30.0)], p, 100)
    assert np.allclose(dur, [95.6, 0.0, 78 + 5, 173.6 + 40 + 12 + 55 + 0.6 - 178.6])
    # a fence before a read op (code 4): the read waits for the writes too, its duration
    # includes the wait: 78 + 40 + 12 + 55 + 0.6
    fenced_read = (4, 0, 50, 1, 30.0, 0, 0, 0, 0, 0, 0)
    dur = pipeline_durations([rd(50, 1, 30.0), writes, fenced_read], p, 100)
    assert np.allclose(dur, [95.6, 0.0, 78 + 40 + 12 + 55 + 0.6])
    # a fence with no writes posted since the previous read op costs its compute only
    dur = pipeline_durations([rd(50, 1, 30.0), fenced], p, 100)
    assert np.allclose(dur, [95.6, 5.0])


def _fence_replay(path: str, j: int, fence: bool, block: int = 1 << 16):
    """Replay with the write fence on/off and the engine's command log (an independent record
    of when every WR was issued)."""
    import hermes_hw.ndp.replay as rp

    store = {}

    class Logged(MemorySystem):
        def __init__(self, cfg, **kw):
            super().__init__(cfg, **{**kw, "command_log": True})
            store["ms"] = self

    old = rp.MemorySystem
    rp.MemorySystem = Logged
    try:
        res = replay_dimm(path, j, override={"unit": {"write_fence": fence}},
                          chunk_requests=block)
    finally:
        rp.MemorySystem = old
    ms = store["ms"]
    return res, ms.backend.take_commands(), ms.tck_ns, ms.resolved.timings


def test_write_fence_waits_for_the_writes_in_dram(tiny, tmp_path):
    """unit.write_fence: a reduce (cross-DIMM barrier) starts once every write posted before
    it is in DRAM, i.e. its WR command (engine command log) + tCWL + tBL, and no request after
    it arrives earlier; the wait shows as the reduce's stall. Without the fence the reduce
    costs its compute only. The timeline does not depend on the expansion block size."""
    from ramulator_bridge.builtin import COMMAND_IDS

    _lower(tiny, tmp_path / "t", n_tokens=2)
    path = str(tmp_path / "t")
    ops = TraceDir(path).ops(0)
    off, _, tck, _ = _fence_replay(path, 0, False)
    on, cmds, tck, t = _fence_replay(path, 0, True)
    wr = np.sort(cmds["cycle"][np.isin(cmds["cmd"], [COMMAND_IDS["WR"], COMMAND_IDS["WRA"]])])
    write_lines = np.where(np.isin(ops["kind"], [OP_KIND_ID[k] for k in
                                                 ("write_partial", "kv_append", "remap_in")]),
                           ops["lines"], 0)
    red = np.flatnonzero(ops["barrier"] >= 0)
    assert len(red) and write_lines.sum()
    waited = 0
    for i in red:
        posted = int(write_lines[:i].sum())  # writes posted before the fence, in order
        start = on["start_ns"][i] / tck       # the previous op's end
        end = on["end_ns"][i] / tck
        busy = on["busy_ns"][i] / tck
        w_done = wr[posted - 1] + t["nCWL"] + t["nBL"] if posted else -np.inf
        assert np.isclose(end, max(start, w_done) + busy)
        assert np.isclose(on["stall_dram_ns"][i] / tck, max(w_done - start, 0.0))
        if i + 1 < len(ops):  # nothing after the fence is issued before it clears
            assert on["first_issue_ns"][i + 1] / tck >= max(start, w_done) - 1e-9
        # the writes posted after it are issued after it ends (posted when it is done)
        assert (wr[posted:] >= end - 1e-9).all()
        waited += w_done > start
        assert np.isclose(off["end_ns"][i] - off["start_ns"][i], off["busy_ns"][i])
    assert waited
    assert on["totals"]["busy_time_ns"] > off["totals"]["busy_time_ns"]
    for block in (3, 64):
        r = _fence_replay(path, 0, True, block)[0]
        for k in ("start_ns", "end_ns", "first_issue_ns", "stall_dram_ns", "stall_compute_ns"):
            assert np.array_equal(r[k], on[k]), (block, k)


def _ring_replay(blocks: list[int], buffer_lines: int) -> tuple[np.ndarray, np.ndarray]:
    """One read op of sum(blocks) sequential lines fed to the replay loop in expansion blocks
    of the given sizes (default DIMM, t = 0.5 DRAM cycles of compute per line)."""
    from hermes_hw.ndp.config import NdpSystemConfig
    from hermes_hw.ndp.replay import _ReplayState

    n = sum(blocks)
    ms = MemorySystem.from_yaml(NdpSystemConfig().dram_mapping(), record_completions=True)
    rs = _ReplayState(1, buffer_lines, block=1)
    rs.op_bounds(np.array([0]), np.array([0]), np.array([n]))
    cut = np.concatenate([[0], np.cumsum(blocks)])
    items = [(np.arange(a, b, dtype=np.uint64) * 64, np.zeros(b - a, np.uint8),
              np.full(b - a, 0.5), np.arange(a, b) * 0.5 + 0.5)
             for a, b in zip(cut[:-1], cut[1:], strict=True)]
    rs.run(ms.backend, items)
    return rs.g_end, rs.mem_active


def test_first_block_longer_than_the_request_ring():
    """Regression (batch-16 OPT-66B crashed): an expansion block that overflows the request
    ring before any request was fed (here 20,000 lines against a 16,384-entry ring with a
    64-line buffer) compacts with nothing to drop (keep index 0, not -1) and gives the same
    timeline as the same requests fed in small blocks."""
    big = _ring_replay([20_000], 64)
    small = _ring_replay([1000] * 20, 64)
    assert np.array_equal(big[0], small[0]) and np.array_equal(big[1], small[1])
    # 20,000 lines at one 64 B line per DRAM cycle at best (4 ranks, tBL = 4): >= 20,000
    assert big[0][0] + 20_000 * 0.5 >= 20_000
