"""The read-latency histogram file: CSV ``latency_cycles,latency_ns,reads``, one row per read
latency that occurred (written by ``hermes dram replay --latency-histogram FILE``; read by
``hermes plot latency``). No matplotlib import here, so the replay command stays light."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from hermes_hw.errors import InputError

LATENCY_HEADER = ("latency_cycles", "latency_ns", "reads")


def write_latency_histogram(hist: np.ndarray, tck_ns: float, path: str | Path) -> None:
    """CSV with one row per read latency that occurred: cycles, ns, number of reads. The engine's
    last bucket collects every longer latency (its value is then a lower bound)."""
    hist = np.asarray(hist, dtype=np.int64)
    lines = [",".join(LATENCY_HEADER)]
    for lat in np.flatnonzero(hist).tolist():
        lines.append(f"{lat},{float(lat * tck_ns)!r},{int(hist[lat])}")
    try:
        Path(path).write_text("\n".join(lines) + "\n")
    except OSError as err:
        raise InputError(f"cannot write latency histogram ({err.strerror})",
                         source=str(path)) from None


def read_latency_histogram(path: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """-> (latency_cycles, latency_ns, reads) arrays."""
    try:
        with open(path, newline="") as f:
            rows = list(csv.reader(f))
    except OSError as err:
        raise InputError(f"cannot read latency histogram ({err.strerror})",
                         source=str(path)) from None
    if not rows or tuple(rows[0]) != LATENCY_HEADER:
        raise InputError(f"expected a CSV with header {','.join(LATENCY_HEADER)} (written by "
                         "`hermes dram replay --latency-histogram`)", source=f"{path}:1")
    try:
        data = np.array([[float(v) for v in r] for r in rows[1:] if r], dtype=np.float64)
    except ValueError as err:
        raise InputError(f"non-numeric value ({err})", source=str(path)) from None
    data = data.reshape(-1, 3)
    return data[:, 0].astype(np.int64), data[:, 1], data[:, 2].astype(np.int64)


def percentile_cycles(latency: np.ndarray, reads: np.ndarray, q: float) -> int:
    """Smallest latency L with at least ``q`` of the reads at or below L."""
    cdf = np.cumsum(reads) / reads.sum()
    return int(latency[np.searchsorted(cdf, q)])


