"""Tick <-> memory-cycle conversion (pure arithmetic; no protobuf needed)."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hermes_hw.gem5 import cycles_to_ticks, ticks_per_cycle, ticks_to_cycles


def test_hand_values_at_ddr4_3200():
    # tCK 0.625 ns at 1e12 ticks/s = 625 ticks per cycle
    assert ticks_per_cycle(10**12, 0.625) == 625
    assert ticks_to_cycles([0, 1, 624, 625, 626, 1250], 10**12, 0.625).tolist() == [
        0,
        1,
        1,
        1,
        2,
        2,
    ]
    assert cycles_to_ticks([0, 1, 3], 10**12, 0.625).tolist() == [0, 625, 1875]


def test_decimal_period_is_exact():
    # 0.833 is not a binary float; it must be read as 833/1000 ns = 833 ticks exactly
    assert ticks_per_cycle(10**12, 0.833) == 833
    assert ticks_to_cycles([833 * 10**6], 10**12, 0.833).tolist() == [10**6]
    # 5/6 ns (2.4 GHz) as a fraction: 2500/3 ticks; cycle 3 starts at tick 2500
    assert cycles_to_ticks([1, 3], 10**12, Fraction(5, 6)).tolist() == [833, 2500]
    assert ticks_to_cycles([833, 834, 2500], 10**12, Fraction(5, 6)).tolist() == [1, 2, 3]


def test_origin_tick():
    assert ticks_to_cycles([1000, 1625, 1626], 10**12, 0.625, origin_tick=1000).tolist() == [
        0,
        1,
        2,
    ]
    with pytest.raises(ValueError, match="before origin_tick"):
        ticks_to_cycles([999], 10**12, 0.625, origin_tick=1000)


def test_huge_values_stay_exact():
    # products beyond int64 take the exact Python-integer path
    tick = 2**62 + 12345
    period = Fraction(1, 21) * 10**12 / 10**9  # tCK 1/21 ns = 1000/21 ticks; tick * 21 > 2**63
    got = ticks_to_cycles([tick], 10**12, Fraction(1, 21)).tolist()
    assert got == [math.ceil(Fraction(tick) / period)]


@given(
    cycles=st.lists(st.integers(0, 2**36), min_size=1, max_size=50),
    milli_ns=st.integers(1, 20_000),  # tCK from 0.001 ns to 20 ns in 1 ps steps
    tick_freq=st.sampled_from([10**12, 10**13]),  # ticks stay within int64
)
def test_cycles_to_ticks_to_cycles_is_identity(cycles, milli_ns, tick_freq):
    tck = f"{milli_ns / 1000:.3f}"
    ticks = cycles_to_ticks(np.array(cycles), tick_freq, tck)
    assert ticks_to_cycles(ticks, tick_freq, tck).tolist() == cycles


@given(ticks=st.lists(st.integers(0, 2**50), min_size=1, max_size=50), num=st.integers(1, 10**6))
def test_ticks_to_cycles_matches_the_ceiling_formula(ticks, num):
    tck = Fraction(num, 7919)  # ns, an awkward period
    per_cycle = tck * 10**12 / 10**9
    want = [math.ceil(Fraction(t) / per_cycle) for t in ticks]
    assert ticks_to_cycles(np.array(ticks), 10**12, tck).tolist() == want
