"""Conversion between gem5 ticks and memory (DRAM command clock) cycles, in exact arithmetic.

One memory cycle lasts ``tck_ns`` nanoseconds, i.e. ``T = tck_ns * tick_freq_hz / 1e9`` ticks
(625 ticks for DDR4-3200's 0.625 ns at gem5's default 1e12 ticks/s). ``tck_ns`` is read as the
decimal number it prints as (0.833 means 833/1000 ns, not the nearest binary float), so the
conversion has no floating-point error.

Rounding (documented contract):

* ticks -> cycles rounds **up**: a request recorded at tick ``t`` is available at the first
  memory clock edge at or after ``t`` (``ceil((t - origin_tick) / T)``), as gem5 itself aligns
  an event to the next edge of a slower clock.
* cycles -> ticks rounds **down** (``floor(c * T)``).

Hence ``ticks_to_cycles(cycles_to_ticks(c)) == c`` for every cycle ``c`` whenever a memory
cycle is at least one tick long (T >= 1), which holds for any DRAM clock at gem5's 1 ps ticks.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

_INT64_MAX = 2**63 - 1


def ticks_per_cycle(tick_freq_hz: int, tck_ns: float | str | Fraction) -> Fraction:
    """Exact length of one memory cycle in ticks."""
    if isinstance(tck_ns, Fraction):
        period_ns = tck_ns
    else:
        period_ns = Fraction(repr(tck_ns) if isinstance(tck_ns, float) else str(tck_ns))
    if period_ns <= 0:
        raise ValueError(f"tck_ns must be positive, got {tck_ns}")
    if int(tick_freq_hz) <= 0:
        raise ValueError(f"tick_freq_hz must be positive, got {tick_freq_hz}")
    return period_ns * int(tick_freq_hz) / 10**9


def _as_int_array(values: np.ndarray | list[int] | int) -> np.ndarray:
    arr = np.asarray(values)
    if arr.dtype.kind not in "iu":
        raise ValueError(f"expected integer ticks or cycles, got dtype {arr.dtype}")
    return arr


def _scaled(values: np.ndarray, mul: int, div: int, round_up: bool) -> np.ndarray:
    """values * mul / div rounded down or up, exactly; int64 result."""
    if values.size == 0:
        return np.zeros(values.shape, dtype=np.int64)
    if int(values.min()) < 0:
        raise ValueError("ticks and cycles must be non-negative")
    top = int(values.max())
    if top * mul + div <= _INT64_MAX:
        v = values.astype(np.int64)
        num = v * mul + (div - 1 if round_up else 0)
        return num // div
    # Rare: products beyond int64; exact Python integers, then range-checked back.
    objs = values.astype(object) * mul
    out = -((-objs) // div) if round_up else objs // div
    if int(out.max()) > _INT64_MAX:
        raise ValueError("converted value does not fit in int64")
    return out.astype(np.int64)


def ticks_to_cycles(
    ticks: np.ndarray | list[int] | int,
    tick_freq_hz: int,
    tck_ns: float | str | Fraction,
    origin_tick: int = 0,
) -> np.ndarray:
    """Memory cycle (int64) at which each tick falls, rounded up; ``origin_tick`` is cycle 0.

    Raises ValueError for a tick before ``origin_tick``.
    """
    period = ticks_per_cycle(tick_freq_hz, tck_ns)
    arr = _as_int_array(ticks)
    if origin_tick:
        if arr.size and int(arr.min()) < origin_tick:
            raise ValueError(f"tick {int(arr.min())} is before origin_tick {origin_tick}")
        arr = arr.astype(np.int64) - np.int64(origin_tick)
    return _scaled(arr, period.denominator, period.numerator, round_up=True)


def cycles_to_ticks(
    cycles: np.ndarray | list[int] | int,
    tick_freq_hz: int,
    tck_ns: float | str | Fraction,
    origin_tick: int = 0,
) -> np.ndarray:
    """Tick (int64) of each memory cycle, rounded down, plus ``origin_tick``."""
    period = ticks_per_cycle(tick_freq_hz, tck_ns)
    out = _scaled(_as_int_array(cycles), period.numerator, period.denominator, round_up=False)
    return out + np.int64(origin_tick) if origin_tick else out
