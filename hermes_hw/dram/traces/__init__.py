"""Memory-request traces: streaming readers and writers.

Text traces use Ramulator2's formats: LoadStoreTrace (``LD 0x1f40`` / ``ST 123``) and
ReadWriteTrace (``R <address>`` / ``W <address>``, where the address is a byte address or a
Ramulator2 address vector such as ``0,0,1,2,100,5``); plain or gzip-compressed. Parsing is done in
C (``ramulator_bridge._traceio``), chunk by chunk, so memory stays constant however long the trace.
A binary ``.npz`` form (arrays ``addr`` uint64 and ``is_write`` bool) is read the same way.

Every problem with a trace file raises :class:`hermes_hw.errors.InputError` naming the file and
the 1-based line (or request) number.
"""

from hermes_hw.dram.traces.reader import (
    FORMATS,
    TraceChunk,
    TraceReader,
    open_trace,
)
from hermes_hw.dram.traces.writer import write_loadstore, write_npz

__all__ = [
    "FORMATS",
    "TraceChunk",
    "TraceReader",
    "open_trace",
    "write_loadstore",
    "write_npz",
]
