"""The ramulator2 backend's API semantics, checked by hand calculation (needs a build).

DDR4_3200AA values used below (reference README, section 5): nRCD = 22, nCL = 22, nBL = 4;
each controller queue holds 33 requests (ReqBuffer max_size 32, accepts while size <= 32).
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
from conftest import needs_build
from test_without_build import BASE

from hermes_hw.dram.config import parse_config
from hermes_hw.dram.memory_system import MemorySystem
from hermes_hw.errors import InputError
from ramulator_bridge.ramulator2.backend import Ramulator2Backend

pytestmark = needs_build

N_RCD, N_CL, N_BL = 22, 22, 4
QUEUE = 33


def _ms(clock_ratio: int = 1, **kw) -> MemorySystem:
    data = copy.deepcopy(BASE)
    data["MemorySystem"]["clock_ratio"] = clock_ratio
    return MemorySystem.from_yaml(data, backend="ramulator2", **kw)


def test_unloaded_read_latency_is_act_rcd_cl_bl():
    ms = _ms(record_completions=True)
    assert ms.send(0, False, tag=7)
    ms.tick(200)
    tags, cycles = ms.pop_completions()
    # ACT issues in memory cycle 1, RD nRCD later, data nCL + nBL after the RD
    assert tags.tolist() == [7]
    assert cycles.tolist() == [1 + N_RCD + N_CL + N_BL]
    assert ms.stats()["max_read_latency_cycles"] == 1 + N_RCD + N_CL + N_BL
    assert ms.pop_completions()[0].size == 0


def test_queues_hold_33_requests_each():
    ms = _ms()
    stride = 8192 * 16  # a new row of bank 0 every time: nothing can be served at cycle 0
    reads = [ms.send(i * stride, False) for i in range(QUEUE + 1)]
    assert reads == [True] * QUEUE + [False]
    writes = [ms.send((1000 + i) * stride, True) for i in range(QUEUE + 1)]
    assert writes == [True] * QUEUE + [False]
    st = ms.stats()
    assert (st["reads"], st["writes"]) == (QUEUE, QUEUE)


def test_memory_clock_ratio_offers_every_200_cycles():
    ms = _ms(clock_ratio=200)
    addrs = np.arange(3, dtype=np.uint64) * 64
    assert ms.run_trace(addrs) == 3
    # request k is accepted in step 200 k; the run stops before that step's memory cycle
    assert ms.cycle == 400


def test_arrival_cycles_hold_requests_back():
    ms = _ms()
    n = ms.run_trace(np.array([0, 64, 128], np.uint64), None,
                     np.array([0, 1000, 1000], np.int64))
    assert n == 3
    assert ms.cycle == 1001  # one offer per frontend tick: the third goes one step later


def test_chunked_replay_equals_one_shot():
    rng = np.random.default_rng(5)
    addrs = rng.integers(0, 2**27, 5000, dtype=np.uint64) * np.uint64(64)
    writes = rng.random(5000) < 0.3
    results = []
    for cuts in ([], [1, 8, 1000, 1001, 3333]):
        ms = _ms()
        for chunk_a, chunk_w in zip(np.split(addrs, cuts), np.split(writes, cuts), strict=True):
            assert ms.run_trace(chunk_a, chunk_w) == len(chunk_a)
        ms.backend.mark_snapshot()
        at_accept = ms.backend.snapshot_stats()
        drained = ms.drain()
        results.append((at_accept, drained, ms.stats()))
    assert results[0] == results[1]


def test_every_read_completes_once_and_drain_serves_everything():
    ms = _ms(record_completions=True)
    rng = np.random.default_rng(11)
    addrs = rng.choice(2**27, 3000, replace=False).astype(np.uint64) * np.uint64(64)
    writes = rng.random(3000) < 0.3
    assert ms.backend.run_trace(addrs, writes, base_tag=100) == 3000
    end = ms.drain()
    st = ms.stats()
    assert st["reads_served"] == st["reads"] == int((~writes).sum())
    assert st["writes_served"] == st["writes"] == int(writes.sum())
    tags, cycles = ms.pop_completions()
    assert sorted(tags.tolist()) == (np.flatnonzero(~writes) + 100).tolist()
    assert cycles.max() <= end and cycles.min() > 1 + N_RCD


def test_capacity_and_lifecycle():
    ms = _ms()
    cap = ms.capacity_bytes
    assert cap == 8 * 2**30 == ms.backend.capacity_bytes()
    assert ms.backend.run_trace(np.array([0, cap], np.uint64), np.zeros(2, bool)) == -2
    with pytest.raises(InputError, match="beyond the capacity"):
        ms.send(cap, False)
    ms.backend.close()
    ms.backend.close()
    with pytest.raises(RuntimeError, match="closed"):
        ms.tick(1)


def test_ramulator_rejection_is_an_input_error():
    data = copy.deepcopy(BASE)
    data["MemorySystem"]["DRAM"]["timing"]["preset"] = "DDR4_3200XX"
    with pytest.raises(InputError, match="Ramulator2 rejected the config: .*DDR4_3200XX"):
        Ramulator2Backend(parse_config(data, "bad.yaml"))


def test_multi_channel_stats_sum_over_controllers():
    data = copy.deepcopy(BASE)
    data["MemorySystem"]["DRAM"]["org"]["channel"] = 2
    ms = MemorySystem.from_yaml(data, backend="ramulator2")
    # RoBaRaCoCh: the channel bit is the lowest bit above the 64 B offset
    assert ms.run_trace(np.arange(200, dtype=np.uint64) * 64) == 200
    ms.drain()
    st = ms.stats()
    raw = st["ramulator2_stats"]
    assert raw["row_hits_0"] > 0 and raw["row_hits_1"] > 0
    assert st["row_hits"] + st["row_misses"] + st["row_conflicts"] == 200
    assert st["commands"]["RD"] == 200


def _ndp(ranks: int, backend: str, **kw) -> MemorySystem:
    data = copy.deepcopy(BASE)
    data["MemorySystem"]["access_mode"] = "ndp"
    data["MemorySystem"]["DRAM"]["org"]["rank"] = ranks
    return MemorySystem.from_yaml(data, backend=backend, **kw)


def test_ndp_commands_land_on_the_decoded_rank():
    builtin = _ndp(4, "builtin")
    rng = np.random.default_rng(2)
    for addr in rng.integers(0, builtin.capacity_bytes // 64, 20).tolist():
        ms = _ndp(4, "ramulator2", command_log=True)
        assert ms.send(addr * 64, False)
        ms.drain()
        log = ms.backend.take_commands()
        act = log[0]
        fields = ("channel", "rank", "bankgroup", "bank", "row", "column")
        assert tuple(int(act[f]) for f in fields) == builtin.backend.decode(addr * 64)


def test_ndp_mode_agrees_with_builtin_engine_exactly():
    """Cross-validation: Ramulator2 with one channel per rank vs the built-in NDP mode."""
    rng = np.random.default_rng(1)
    n = 20_000
    results = []
    for backend in ("ramulator2", "builtin"):
        ms = _ndp(2, backend)
        addrs = rng.integers(0, ms.capacity_bytes // 64, n, dtype=np.uint64) * np.uint64(64)
        writes = rng.random(n) < 0.3
        rng = np.random.default_rng(1)  # same trace for the second backend
        assert ms.backend.run_trace(addrs, writes) == n
        ms.backend.mark_snapshot()
        snap = ms.backend.snapshot_stats()
        drained = ms.drain()
        keys = ("cycles", "row_hits", "row_misses", "row_conflicts", "read_latency_sum_cycles")
        results.append(tuple(snap[k] for k in keys) + (drained,))
    assert results[0] == results[1]
