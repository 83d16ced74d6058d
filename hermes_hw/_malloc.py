"""Keep freed memory in the heap (glibc only). The `hermes` command calls this at start; the
library does not (it would change the host process's allocator). ``HERMES_MALLOC_TUNE=0``
turns it off.

The workload pipeline makes many numpy temporaries of 3-21 MB per decode token (one entry per
neuron of a 70B model). glibc serves such blocks with fresh mappings or trims them off the heap
top when they are freed, so the next array page-faults its memory in again. Raising the mmap
and trim thresholds to 1 GiB keeps that memory mapped between arrays: LLaMA2-70B batch 16
`hermes simulate`, minor page faults 118k -> 66k, system time 0.88 -> 0.63 s, wall 4.89-5.17 ->
4.77-4.88 s (docs/performance.md); peak RSS +13%. Elsewhere (not glibc) this is a no-op.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

M_TRIM_THRESHOLD = -1  # glibc <malloc.h>
M_MMAP_THRESHOLD = -3
THRESHOLD_BYTES = 1 << 30


def keep_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds; True if the C library took both."""
    if os.environ.get("HERMES_MALLOC_TUNE", "1") == "0" or not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):
        return False  # not glibc (musl has no mallopt)
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, THRESHOLD_BYTES)
                and mallopt(M_TRIM_THRESHOLD, THRESHOLD_BYTES))
