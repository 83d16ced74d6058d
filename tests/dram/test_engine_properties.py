"""Property tests: on random traces and configurations every command obeys the JEDEC rules
(independent checker) and every accepted request is served exactly once."""

import numpy as np
from _engine_helpers import CONFIG_VARIANTS, system
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hermes_hw.dram.checker import check_commands

CONFIGS = st.sampled_from(CONFIG_VARIANTS)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cfg=CONFIGS, seed=st.integers(0, 2**32 - 1), n=st.integers(1, 1500),
       span_lines=st.sampled_from([64, 4096, 1 << 20]), write_share=st.floats(0, 0.6))
def test_random_traces_obey_protocol_and_complete_once(cfg, seed, n, span_lines, write_share):
    ms = system(completions=True, **cfg)
    rng = np.random.default_rng(seed)
    lines = min(span_lines, ms.capacity_bytes // 64)
    addrs = rng.integers(0, lines, size=n).astype(np.uint64) * 64
    writes = rng.random(n) < write_share
    ms.backend.run_trace(addrs, writes, None, base_tag=0)
    ms.backend.mark_snapshot()
    ms.drain()
    tags, _ = ms.pop_completions()
    log_batches = [ms.backend.take_commands()]
    from hermes_hw.dram.replay import command_log_from_records

    log = command_log_from_records(log_batches)
    st_ = ms.stats()
    # every accepted read completes exactly once, every accepted write issues exactly one WR
    read_tags = np.flatnonzero(~writes)
    assert sorted(tags.tolist()) == read_tags.tolist()
    assert st_["commands"]["WR"] == writes.sum()
    assert st_["commands"]["RD"] == (~writes).sum() - st_["forwarded_reads"]
    r = ms.resolved
    report = check_commands(log, r.standard.name, r.timings, r.org, mode=r.access_mode)
    assert report.violations == [], report.summary()
