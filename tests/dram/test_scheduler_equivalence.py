"""The engine's fast scheduling (cached passes, per-bank request index, skipping ahead to the
next event) must make exactly the decisions of the plain, uncached scheduler pass: same command
at the same cycle for every command, same statistics. The reference is the engine itself with
``reference_scheduling`` on (every pass recomputed from scratch, every cycle with work ticked)."""

import numpy as np
from _engine_helpers import CONFIG_VARIANTS, config
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hermes_hw.dram.memory_system import MemorySystem
from ramulator_bridge.builtin import BuiltinBackend

CONFIGS = st.sampled_from([
    *CONFIG_VARIANTS,
    {"DRAM": {"impl": "DDR4", "org": {"preset": "DDR4_8Gb_x8", "channel": 2, "rank": 1},
              "timing": {"preset": "DDR4_3200AA"}}},
    {"clock_ratio": 3},
    {"AddrMapper": "RoCoBaRaCh", "ranks": 2},
    {"Controller": {"impl": "Generic", "read_buffer_size": 4, "write_buffer_size": 4}},
    # a long tRCD keeps activated requests waiting in the active buffer while other banks are
    # precharged and read (its pass is kept across commands that cannot affect it)
    {"ranks": 2, "timing": {"nRCD": 60}},
])


def _pair(cfg: dict) -> tuple[MemorySystem, MemorySystem]:
    fast = MemorySystem.from_yaml(config(**cfg), command_log=True, record_completions=True)
    ref = MemorySystem.from_yaml(config(**cfg), command_log=True, record_completions=True)
    ref.backend = BuiltinBackend(ref.resolved, ref.config, command_log=True,
                                 record_completions=True, reference_scheduling=True)
    return fast, ref


def _outcome(ms: MemorySystem) -> tuple:
    ms.drain()
    log = ms.backend.take_commands()
    tags, cycles = ms.pop_completions()
    st_ = ms.stats()
    st_.pop("per_controller", None)
    return log.tolist(), tags.tolist(), cycles.tolist(), st_


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cfg=CONFIGS, seed=st.integers(0, 2**32 - 1), n=st.integers(1, 1200),
       span_lines=st.sampled_from([64, 4096, 1 << 20]), write_share=st.floats(0, 0.6),
       timed=st.booleans())
def test_trace_replay_matches_reference_scheduling(cfg, seed, n, span_lines, write_share,
                                                   timed):
    fast, ref = _pair(cfg)
    rng = np.random.default_rng(seed)
    lines = min(span_lines, fast.capacity_bytes // 64)
    addrs = rng.integers(0, lines, size=n).astype(np.uint64) * 64
    writes = rng.random(n) < write_share
    arrival = np.sort(rng.integers(0, 4 * n, size=n)).astype(np.int64) if timed else None
    for ms in (fast, ref):
        ms.backend.run_trace(addrs, writes, arrival, base_tag=0)
    assert _outcome(fast) == _outcome(ref)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cfg=CONFIGS, seed=st.integers(0, 2**32 - 1), bursts=st.integers(1, 60))
def test_bursts_of_sends_match_reference_scheduling(cfg, seed, bursts):
    """Several requests offered in one cycle (equal arrival times) and uneven tick steps."""
    fast, ref = _pair(cfg)
    rng = np.random.default_rng(seed)
    lines = min(1 << 16, fast.capacity_bytes // 64)
    plan = [(rng.integers(0, lines, size=rng.integers(1, 12)) * 64, rng.random(12) < 0.3,
             int(rng.integers(1, 40))) for _ in range(bursts)]
    accepted = []
    for ms in (fast, ref):
        got = []
        tag = 0
        for addrs, writes, gap in plan:
            for a, w in zip(addrs.tolist(), writes.tolist(), strict=False):
                got.append(ms.send(a, w, tag))
                tag += 1
            ms.tick(gap)
        accepted.append(got)
    assert accepted[0] == accepted[1]
    assert _outcome(fast) == _outcome(ref)
