"""Timed replay of gem5 packet traces: recorded idle gaps are kept (unloaded-stream formula)."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("google.protobuf", reason="protobuf (the gem5 extra) is not installed")

from hermes_hw.gem5 import write_gem5_trace  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "configs" / "dram" / "ddr4_3200_1ch.yaml"
NRCD, NCL, NBL, TCK_PS = 22, 22, 4, 625  # DDR4-3200AA (reference README section 5)


def test_gem5_trace_gaps_are_kept(tmp_path):
    # 6 reads to 6 different banks (8 KiB apart: RoBaRaCoCh moves to the next bank), 3,000 cycles
    # apart (1 tick = 1 ps); the refresh due at nREFI = 12,480 is over (nRFC = 576) before the
    # sixth arrives at 15,000, and the fifth (12,000) is served before it. Each is an isolated
    # miss served 1 + nRCD + nCL + nBL cycles after its arrival; the run drains at the last
    # arrival plus that latency, and the ticks map to cycles exactly.
    n, gap_cycles = 6, 3_000
    ticks = np.arange(n, dtype=np.int64) * gap_cycles * TCK_PS
    addrs = np.arange(n, dtype=np.uint64) * 8192
    trace = tmp_path / "t.gem5.gz"
    write_gem5_trace(trace, ticks, addrs, np.zeros(n, bool))
    proc = subprocess.run([sys.executable, "-m", "hermes_hw", "dram", "replay", "--config", CONFIG,
                           "--trace", trace, "--trace-format", "gem5", "--json"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    latency = 1 + NRCD + NCL + NBL
    assert out["reads"] == n
    assert out["avg_read_latency_cycles"] == latency
    assert out["cycles"] == (n - 1) * gap_cycles          # the last request's arrival
    assert out["drain_cycles"] == (n - 1) * gap_cycles + latency
