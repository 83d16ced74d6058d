"""Summary of a gem5 packet trace (for ``hermes gem5 info``): header, counts and tick range."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

from hermes_hw.gem5.clock import ticks_to_cycles
from hermes_hw.gem5.commands import DEFAULT_GEM5_VERSION
from hermes_hw.gem5.reader import read_gem5_trace


def summarize_gem5_trace(
    path: str | Path,
    *,
    transaction_bytes: int = 64,
    gem5_version: str = DEFAULT_GEM5_VERSION,
    tck_ns: float | str | Fraction | None = None,
    addr_base: int = 0,
) -> dict[str, Any]:
    """Scan a trace once; return its header, packet/request counts and tick range.

    With ``tck_ns`` the tick range is also given in memory cycles (clock.py rounding).
    """
    trace = read_gem5_trace(
        path, transaction_bytes=transaction_bytes, gem5_version=gem5_version, addr_base=addr_base
    )
    for _ in trace:
        pass
    stats = trace.stats
    assert stats is not None
    freq = trace.header.tick_freq_hz
    first, last = stats.first_tick, stats.last_tick
    out: dict[str, Any] = {
        "path": str(path),
        "obj_id": trace.header.obj_id,
        "format_version": trace.header.version,
        "tick_freq_hz": freq,
        "requestors": len(trace.header.id_strings),
        "gem5_command_layout": trace.commands.layout,
        "packets": stats.packets,
        "commands": stats.commands,
        "skipped_packets": stats.skipped_packets,
        "transaction_bytes": transaction_bytes,
        "requests": stats.requests,
        "read_requests": stats.read_requests,
        "write_requests": stats.write_requests,
        "first_tick": first,
        "last_tick": last,
        "span_ns": None if first is None else float(Fraction(last - first, freq) * 10**9),
        "non_monotonic_ticks": stats.non_monotonic_ticks,
    }
    if tck_ns is not None and first is not None:
        first_c, last_c = ticks_to_cycles([first, last], freq, tck_ns).tolist()
        out.update(tck_ns=float(Fraction(str(tck_ns))), first_cycle=first_c, last_cycle=last_c)
    return out
