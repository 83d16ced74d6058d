"""Every organisation x timing preset of every standard resolves into a working engine, and the
resolved numbers obey the JEDEC relations the presets are built from."""

import pytest

from hermes_hw.dram.config import parse_config
from hermes_hw.dram.memory_system import MemorySystem
from hermes_hw.dram.resolve import resolve
from hermes_hw.dram.standards import available_standards, load_standard


def _config(std: str, org: str, timing: str) -> dict:
    return {"MemorySystem": {"DRAM": {"impl": std, "org": {"preset": org},
                                      "timing": {"preset": timing}}}}


@pytest.mark.parametrize("std", available_standards())
def test_every_preset_pair_resolves(std):
    s = load_standard(std)
    for org in s.org_presets:
        for timing in s.timing_presets:
            r = resolve(parse_config(_config(std, org, timing)))
            t = r.timings
            # tCK from the data rate (two transfers per clock), as Ramulator2 computes it
            assert r.tck_ps == int(1e6 / (t["rate"] / 2))
            # JEDEC: a row cycle holds an activate and a precharge (v2.0a's DDR5 3200 presets
            # are one cycle short, see DDR5.yaml)
            assert t["nRC"] >= t["nRAS"] + t["nRP"] - 1
            assert t["nRCD"] <= t["nRAS"]
            assert t["nREFI"] > t["nRFC" if std == "DDR4" else "nRFC1"]
            # capacity = product of the organisation
            o = r.org
            tx_per_rank = o["bankgroup"] * o["bank"] * o["row"] * r.transactions_per_row
            assert r.capacity_bytes == o["channel"] * o["rank"] * tx_per_rank * r.tx_bytes


@pytest.mark.parametrize("std,org,timing", [
    ("DDR4", "DDR4_8Gb_x8", "DDR4_2400R"), ("DDR4", "DDR4_8Gb_x16", "DDR4_3200AA"),
    ("DDR4", "DDR4_16Gb_x8", "DDR4_3200AC"), ("DDR4", "DDR4_16Gb_x16", "DDR4_3200AC"),
    ("DDR5", "DDR5_16Gb_x8", "DDR5_3200AN"), ("DDR5", "DDR5_32Gb_x8", "DDR5_4800B"),
])
def test_issue_presets_build_an_engine_and_serve_a_read(std, org, timing):
    ms = MemorySystem.from_yaml(_config(std, org, timing))
    assert ms.send(0, False)
    ms.drain()
    st = ms.stats()
    r = ms.resolved
    # one read to a closed bank: 1 issue cycle + nRCD + nCL + nBL
    assert st["avg_read_latency_cycles"] == 1 + r.timings["nRCD"] + r.read_latency_cycles
