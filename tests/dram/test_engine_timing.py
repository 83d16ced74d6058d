"""Formula-checked behaviour of the built-in engine (DDR4-3200AA: nRCD = nCL = nRP = 22,
nBL = 4, nCCDS = 4, nCCDL = 8, nRRDS = 4, nRRDL = 8, nFAW = 34, nRAS = 52, nREFI = 12480,
nRFC = 576 for 8 Gb; values from the reference README, section 5)."""

import numpy as np
import pytest
from _engine_helpers import address, replay, system

T = {"nRCD": 22, "nCL": 22, "nRP": 22, "nBL": 4, "nCCDS": 4, "nCCDL": 8, "nRRDS": 4,
     "nFAW": 34, "nRAS": 52, "nREFI": 12480, "nRFC": 576}


def test_resolved_timings_match_the_reference_table():
    ms = system()
    for name, value in T.items():
        assert ms.resolved.timings[name] == value, name
    assert ms.resolved.tck_ps == 625
    assert ms.resolved.read_latency_cycles == T["nCL"] + T["nBL"]


def test_unloaded_read_latency_is_one_issue_cycle_plus_trcd_tcl_burst():
    # A read to a closed bank: accepted at cycle 0, ACT in cycle 1, RD nRCD later, data after
    # nCL + nBL. Latency = 1 + nRCD + nCL + nBL.
    ms = system()
    res, log = replay(ms, [address(ms, bankgroup=1, bank=2, row=7)])
    assert res.stats["avg_read_latency_cycles"] == 1 + T["nRCD"] + T["nCL"] + T["nBL"]
    names = [log.name_at(i) for i in range(len(log))]
    assert names == ["ACT", "RD"]
    assert log.cycle[1] - log.cycle[0] == T["nRCD"]
    assert res.stats["row_misses"] == 1


def test_row_hit_and_row_conflict_latencies():
    ms = system()
    first = address(ms, row=3)
    hit = address(ms, row=3, column=1)
    conflict = address(ms, row=4)
    ms.run_trace(np.array([first], np.uint64))
    ms.tick(200)  # idle: tRAS has long passed
    ms.run_trace(np.array([hit], np.uint64))
    ms.tick(200)
    ms.run_trace(np.array([conflict], np.uint64))
    ms.drain()
    st = ms.stats()
    assert (st["row_misses"], st["row_hits"], st["row_conflicts"]) == (1, 1, 1)
    miss_lat = 1 + T["nRCD"] + T["nCL"] + T["nBL"]
    hit_lat = 1 + T["nCL"] + T["nBL"]
    conflict_lat = 1 + T["nRP"] + T["nRCD"] + T["nCL"] + T["nBL"]
    assert st["read_latency_sum_cycles"] == miss_lat + hit_lat + conflict_lat


def test_streaming_one_bank_group_is_tccd_l_bound_two_groups_tccd_s_bound():
    ms = system()
    same = [address(ms, bankgroup=0, row=1, column=c) for c in range(64)]
    _, log = replay(ms, same)
    rd = log.cycle[log.cmd == log.code("RD")]
    assert set(np.diff(rd)) == {T["nCCDL"]}

    ms = system()
    alternating = [address(ms, bankgroup=c % 2, row=1, column=c // 2) for c in range(64)]
    _, log = replay(ms, alternating)
    rd = log.cycle[log.cmd == log.code("RD")]
    gaps = np.diff(rd[4:])  # after both rows are open
    assert set(gaps) == {T["nCCDS"]}


def test_random_traffic_is_tfaw_bound():
    # Every request opens a new row in some bank: ACTs are limited by nRRDS and by four per
    # nFAW window. No five consecutive ACTs fit in nFAW cycles, and the bound is nearly tight
    # (the one command slot per cycle is shared with PRE and RD, so a window can stretch by one).
    ms = system()
    rng = np.random.default_rng(1)
    addrs = rng.integers(0, 2**27, size=4000).astype(np.uint64) * 64
    res, log = replay(ms, addrs)
    act = log.cycle[log.cmd == log.code("ACT")]
    window = act[4:] - act[:-4]
    assert T["nFAW"] <= window.min() <= T["nFAW"] + 1
    assert np.median(window) <= T["nFAW"] + 2
    assert np.diff(act).min() >= T["nRRDS"]
    # steady state: close to nFAW / 4 cycles per request
    assert res.stats["cycles"] / 4000 == pytest.approx(T["nFAW"] / 4, rel=0.15)


def test_refresh_every_trefi_with_prea_first():
    ms = system()
    rng = np.random.default_rng(2)
    addrs = rng.integers(0, 2**27, size=12000).astype(np.uint64) * 64
    res, log = replay(ms, addrs)
    ref = log.cycle[log.cmd == log.code("REFab")]
    cycles = res.stats["drain_cycles"]
    assert len(ref) in (cycles // T["nREFI"], cycles // T["nREFI"] - 1)
    # each refresh request is due at k * nREFI; it issues after at most the row cycle + nRP
    for k, c in enumerate(ref, start=1):
        assert k * T["nREFI"] <= c <= k * T["nREFI"] + 200
    # nothing is activated in the rank during nRFC after a refresh
    act = log.cycle[log.cmd == log.code("ACT")]
    for c in ref:
        assert not ((act > c) & (act < c + T["nRFC"])).any()


def test_ddr5_same_bank_refresh_rotates_bank_index_every_trefi_over_banks():
    # SameBank: one REFsb per nREFI / banks cycles, bank index 0, 1, 2, 3, 0, ... so each bank is
    # refreshed once per nREFI; no all-bank refresh; every command passes the protocol checker.
    from hermes_hw.dram.checker import check_commands

    ms = system(standard="DDR5", org_preset="DDR5_16Gb_x8", timing_preset="DDR5_3200AN",
                RefreshManager={"impl": "SameBank"})
    rng = np.random.default_rng(5)
    res, log = replay(ms, rng.integers(0, 2**27, size=8000).astype(np.uint64) * 64)
    n_refi, banks = ms.resolved.timings["nREFI"], ms.resolved.org["bank"]
    interval = n_refi // banks
    refsb = log.take(log.cmd == log.code("REFsb"))
    assert res.stats["commands"]["REFab"] == 0
    assert len(refsb) in (res.stats["drain_cycles"] // interval,
                          res.stats["drain_cycles"] // interval - 1)
    assert list(refsb.bank[:8]) == [0, 1, 2, 3, 0, 1, 2, 3]
    for k, c in enumerate(refsb.cycle, start=1):
        assert k * interval <= c <= k * interval + 200
    r = ms.resolved
    assert check_commands(log, r.standard.name, r.timings, r.org).violations == []


def test_same_bank_refresh_needs_refsb(tmp_path):
    import pytest as _pytest

    from hermes_hw.errors import InputError

    with _pytest.raises(InputError, match="SameBank needs the REFsb"):
        system(RefreshManager={"impl": "SameBank"})


def test_no_refresh_unit_issues_no_refresh():
    ms = system(RefreshManager={"impl": "NoRefresh"})
    rng = np.random.default_rng(3)
    res, _ = replay(ms, rng.integers(0, 2**27, size=3000).astype(np.uint64) * 64)
    assert res.stats["commands"]["REFab"] == 0


def test_closed_row_policy_precharges_after_every_access():
    ms = system(RowPolicy={"impl": "ClosedRowPolicy", "cap": 1})
    ms2 = system()
    addrs = [address(ms, row=5, column=c) for c in range(16)]
    res, _ = replay(ms, addrs)
    res2, _ = replay(ms2, addrs)
    assert res.stats["row_hits"] == 0 and res2.stats["row_hits"] == 15
    assert res.stats["commands"]["PRE"] == 16


def test_ndp_mode_gives_each_rank_its_own_data_path():
    # Sequential lines spread over 4 ranks: host mode is bound by the shared channel bus
    # (64 B per nBL = 4 cycles at best), ndp mode by each rank's own bus (4x that).
    rates = {}
    for mode in ("host", "ndp"):
        ms = system(log=False, ranks=4, access_mode=mode, AddrMapper="RoCoBaRaCh")
        n = 20000
        ms.run_trace(np.arange(n, dtype=np.uint64) * 64)
        end = ms.drain()
        rates[mode] = n * 64 / (end * ms.tck_ns)  # GB/s
    channel_peak = 64 / (T["nBL"] * 0.625)  # 25.6 GB/s
    assert rates["host"] <= channel_peak
    assert rates["ndp"] > 3.5 * rates["host"]
    assert rates["ndp"] <= 4 * channel_peak


@pytest.mark.parametrize("over", [{"channel": 2}, {"ranks": 4, "access_mode": "ndp"}])
def test_per_controller_stats_add_up_to_the_totals(over):
    cfg = dict(over)
    channels = cfg.pop("channel", 1)
    ms = system(log=False, **cfg)
    if channels > 1:  # two channels: rebuild with org.channel = 2
        from _engine_helpers import config

        from hermes_hw.dram.memory_system import MemorySystem

        c = config(**cfg)
        c["MemorySystem"]["DRAM"]["org"]["channel"] = channels
        ms = MemorySystem.from_yaml(c)
    rng = np.random.default_rng(6)
    n = 5000
    res, _ = replay(ms, rng.integers(0, ms.capacity_bytes // 64, size=n).astype(np.uint64) * 64,
                    rng.random(n) < 0.3)
    per = res.stats["per_controller"]
    expected = channels if "access_mode" not in cfg else cfg["ranks"]
    assert len(per) == expected
    for key in ("reads", "writes", "row_hits", "row_misses", "row_conflicts",
                "read_latency_sum_cycles"):
        assert sum(p[key] for p in per) == res.stats[key], key
    for name in ("ACT", "RD", "WR", "REFab"):
        assert sum(p["commands"][name] for p in per) == res.stats["commands"][name]
    assert max(p["max_read_latency_cycles"] for p in per) == res.stats["max_read_latency_cycles"]
    assert all(p["reads"] > 0 for p in per)  # random traffic reaches every controller
    if "access_mode" in cfg:
        assert sorted(p["rank"] for p in per) == list(range(cfg["ranks"]))


def test_timed_arrivals_hold_requests_back():
    # An unloaded stream with gaps: request k arrives at cycle 1000 k; each is a miss to a new
    # bank and is served in 1 + nRCD + nCL + nBL cycles; the drain ends after the last one.
    ms = system(completions=True)
    n = 8
    addrs = np.array([address(ms, bankgroup=k % 4, bank=k // 4, row=k) for k in range(n)],
                     np.uint64)
    arrivals = np.arange(n, dtype=np.int64) * 1000
    ms.backend.run_trace(addrs, np.zeros(n, bool), arrivals, base_tag=0)
    end = ms.drain()
    tags, done = ms.pop_completions()
    lat = 1 + T["nRCD"] + T["nCL"] + T["nBL"]
    assert list(tags) == list(range(n))
    assert list(done) == [int(a) + lat for a in arrivals]
    assert end >= arrivals[-1] + lat


def test_ddr5_two_cycle_commands_and_tppd():
    ms = system(standard="DDR5", org_preset="DDR5_16Gb_x8", timing_preset="DDR5_3200AN")
    rng = np.random.default_rng(4)
    _, log = replay(ms, rng.integers(0, 2**27, size=3000).astype(np.uint64) * 64)
    two_cycle = np.isin(log.cmd, [log.code(c) for c in ("ACT", "RD", "WR")])
    gaps = np.diff(log.cycle)
    assert (gaps[two_cycle[:-1]] >= 2).all()
    pre = log.cycle[log.cmd == log.code("PRE")]
    assert np.diff(pre).min() >= ms.resolved.timings["nPPD"] == 2


def test_tick_until_completions_stops_at_the_completion_cycle():
    # One read to a closed bank accepted at cycle 0 returns at 1 + nRCD + nCL + nBL (as above);
    # the C loop ticks one cycle at a time and stops exactly then, or after max_cycles.
    ms = system(completions=True)
    lat = 1 + T["nRCD"] + T["nCL"] + T["nBL"]
    ms.backend.run_trace(np.array([address(ms, bankgroup=2, row=5)], np.uint64),
                         np.zeros(1, bool), np.zeros(1, np.int64), base_tag=0)
    c0 = ms.backend.cycle
    assert ms.backend.tick_until_completions(1, 5) == 5  # capped: nothing returned yet
    assert len(ms.pop_completions()[0]) == 0
    ticked = ms.backend.tick_until_completions(1, 10**6)
    tags, done = ms.pop_completions()
    assert list(tags) == [0] and list(done) == [lat]
    assert c0 + 5 + ticked == lat
    # with nothing in flight it still ticks at least once, then stops at the cap
    assert ms.backend.tick_until_completions(1, 3) == 3
