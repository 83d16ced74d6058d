"""gem5 coupling: read and write gem5 packet traces (the format of gem5's memory-trace probes
and of TrafficGen's TRACE mode). Needs the optional ``protobuf`` package (``hermes-hw[gem5]``).

Public API:
    read_gem5_trace(path, transaction_bytes=64, gem5_version="v22.1") -> Gem5Trace
    write_gem5_trace(path, ticks, addrs, is_write, size=64, tick_freq=10**12) -> packets
    Gem5TraceWriter (streaming writer), ticks_to_cycles / cycles_to_ticks (clock.py),
    summarize_gem5_trace(path) -> dict (summary.py).
"""

from hermes_hw.gem5.clock import cycles_to_ticks, ticks_per_cycle, ticks_to_cycles
from hermes_hw.gem5.commands import DEFAULT_GEM5_VERSION, command_table
from hermes_hw.gem5.reader import Gem5Chunk, Gem5Header, Gem5ScanStats, Gem5Trace, read_gem5_trace
from hermes_hw.gem5.schema import protobuf_available
from hermes_hw.gem5.writer import DEFAULT_TICK_FREQ_HZ, Gem5TraceWriter, write_gem5_trace

__all__ = [
    "DEFAULT_GEM5_VERSION",
    "DEFAULT_TICK_FREQ_HZ",
    "Gem5Chunk",
    "Gem5Header",
    "Gem5ScanStats",
    "Gem5Trace",
    "Gem5TraceWriter",
    "command_table",
    "cycles_to_ticks",
    "protobuf_available",
    "read_gem5_trace",
    "ticks_per_cycle",
    "ticks_to_cycles",
    "write_gem5_trace",
]
