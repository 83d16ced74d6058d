"""PCIe, DIMM-Link and host barriers: transfer times against the link formulas, lane placement."""

import pytest
from pydantic import ValidationError

from hermes_hw.interconnect import (
    DimmLinkConfig,
    DimmLinkNetwork,
    HostBarrier,
    LaneSchedule,
    PcieConfig,
    PcieLink,
)


def test_pcie_raw_rates_from_the_spec():
    # 16 GT/s x 128/130 / 8 bits x 16 lanes = 31.5 GB/s per direction (peers.md §5)
    assert PcieConfig(generation=4, lanes=16).raw_gbps == pytest.approx(16 * 128 / 130 / 8 * 16)
    assert PcieConfig(generation=4).raw_gbps == pytest.approx(31.5, abs=0.01)
    assert PcieConfig(generation=3, lanes=16).raw_gbps == pytest.approx(15.75, abs=0.01)
    assert PcieConfig(generation=5, lanes=8).raw_gbps == pytest.approx(31.5, abs=0.01)
    assert PcieConfig(bandwidth_override_gbps=64).raw_gbps == 64  # the paper's stated figure


def test_small_transfers_are_latency_bound():
    link = PcieLink(PcieConfig(latency_ns=2000, d2h_latency_ns=None))
    t = link.duration_ns(64, "h2d")
    assert t == pytest.approx(2000, rel=0.002)
    assert link.duration_ns(64, "d2h") == pytest.approx(2000, rel=0.002)


def test_large_transfers_approach_bytes_over_effective_bandwidth():
    cfg = PcieConfig(generation=4, lanes=16, h2d_efficiency=0.8, latency_ns=2000)
    nbytes = 1 << 30
    t = PcieLink(cfg).duration_ns(nbytes, "h2d")
    assert t == pytest.approx(2000 + nbytes / (31.5077 * 0.8), rel=1e-4)
    assert nbytes / t == pytest.approx(31.5077 * 0.8, rel=0.001)


def test_zero_bytes_cost_nothing_and_negative_is_refused():
    link = PcieLink()
    assert link.duration_ns(0) == 0
    with pytest.raises(ValueError):
        link.duration_ns(-1)


def test_pcie_config_rejects_bad_values():
    with pytest.raises(ValidationError):
        PcieConfig(lanes=3)
    with pytest.raises(ValidationError):
        PcieConfig(h2d_efficiency=1.2)
    with pytest.raises(ValidationError):
        PcieConfig(generation=7)
    with pytest.raises(ValidationError):
        PcieConfig(lane=16)  # typo: extra fields are forbidden


def test_pcie_directions_are_separate_lanes():
    link, sched = PcieLink(), LaneSchedule()
    a = link.transfer(1 << 20, 0.0, "h2d", schedule=sched)
    b = link.transfer(1 << 20, 0.0, "h2d", schedule=sched)
    c = link.transfer(1 << 20, 0.0, "d2h", schedule=sched)
    assert (a.start_ns, b.start_ns) == (0.0, a.end_ns)  # same lane: serialised
    assert c.start_ns == 0.0 and c.lane == "pcie.d2h"  # full duplex
    assert a.to_dict()["nbytes"] == 1 << 20 and a.src == "host" and a.dst == "gpu"


def test_dimmlink_bandwidth_is_the_papers_25_gbps():
    # Hermes Table II: 8 lanes x 25 Gb/s = 25 GB/s per link
    assert DimmLinkConfig().link_gbps == pytest.approx(25.0)


def test_ring_routes_take_the_short_way_round():
    net = DimmLinkNetwork(DimmLinkConfig(n_dimms=8, topology="ring"))
    assert net.route(0, 3) == [(0, 1), (1, 2), (2, 3)]
    assert net.route(0, 6) == [(0, 7), (7, 6)]
    assert net.hops(2, 6) == 4 and net.hops(5, 5) == 0


def test_all_to_all_is_one_hop():
    net = DimmLinkNetwork(DimmLinkConfig(n_dimms=8, topology="all-to-all"))
    assert all(net.hops(0, j) == 1 for j in range(1, 8))


def test_dimmlink_duration_formula_and_energy():
    cfg = DimmLinkConfig(n_dimms=8, topology="ring", hop_latency_ns=50)
    net = DimmLinkNetwork(cfg)
    nbytes = 10_240  # one OPT-13B neuron row in FP16
    assert net.duration_ns(0, 2, nbytes) == pytest.approx(2 * 50 + nbytes / 25.0)
    events = net.transfer(0, 2, nbytes, ready_ns=100.0)
    assert [e.lane for e in events] == ["dimmlink.0->1", "dimmlink.1->2"]
    assert events[0].start_ns == 100.0 and events[1].start_ns == 150.0  # cut-through
    assert events[-1].end_ns == pytest.approx(100.0 + net.duration_ns(0, 2, nbytes))
    assert events[0].energy_pj == pytest.approx(nbytes * 8 * 1.17)  # 1.17 pJ/bit per hop


def test_transfers_sharing_a_link_wait_for_it():
    net, sched = DimmLinkNetwork(DimmLinkConfig(topology="ring")), LaneSchedule()
    first = net.transfer(0, 2, 25_000, 0.0, schedule=sched)  # uses 0->1 and 1->2
    second = net.transfer(1, 2, 25_000, 0.0, schedule=sched)  # needs 1->2
    assert second[0].start_ns >= first[1].end_ns
    other = net.transfer(3, 4, 25_000, 0.0, schedule=sched)  # disjoint link: no wait
    assert other[0].start_ns == 0.0


def test_half_duplex_links_share_one_lane():
    net = DimmLinkNetwork(DimmLinkConfig(full_duplex=False))
    assert net.lane(1, 0) == net.lane(0, 1) == "dimmlink.0-1"


def test_dimm_index_is_checked():
    with pytest.raises(ValueError, match="out of range"):
        DimmLinkNetwork(DimmLinkConfig(n_dimms=4)).route(0, 4)


def test_host_barrier_waits_for_the_last_arrival():
    barrier = HostBarrier()
    ev = barrier.barrier({"gpu": 1000.0, "dimm0": 4000.0, "dimm1": 2500.0})
    assert ev.start_ns == 4000.0
    assert ev.end_ns == 4000.0 + 6400.0  # peers.md §5: 6.4 us launch + synchronise
    assert ev.participants == ("dimm0", "dimm1", "gpu")
    with pytest.raises(ValueError):
        barrier.barrier({})


def test_lane_schedule_refuses_overlaps():
    sched = LaneSchedule()
    sched.reserve("x", 0.0, 10.0)
    with pytest.raises(ValueError, match="busy"):
        sched.reserve("x", 5.0, 20.0)
