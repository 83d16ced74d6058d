"""Round trip of a lowered LLaMA2-13B layer through gem5's packet format: `hermes lower`, then
`hermes gem5 from-ndp`, then the gem5 reader gives back the same request stream (addresses,
kinds, order) and, after the clock conversion, the issue cycles of a direct engine replay."""

import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("google.protobuf", reason="protobuf (the gem5 extra) is not installed")

from hermes_hw.dram.memory_system import MemorySystem  # noqa: E402
from hermes_hw.gem5 import read_gem5_trace  # noqa: E402
from hermes_hw.lowering.trace import TraceDir, expand_segments  # noqa: E402
from hermes_hw.ndp.replay import trace_system  # noqa: E402


def hermes(*args):
    proc = subprocess.run([sys.executable, "-m", "hermes_hw", *map(str, args)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_lowered_llama2_13b_layer_round_trips_through_gem5(tmp_path):
    trace_dir, out = tmp_path / "lowered", tmp_path / "gem5"
    hermes("lower", "--model", "llama2-13b", "--tokens", "1", "--out", trace_dir)
    hermes("gem5", "from-ndp", trace_dir, "--out", out, "--dimms", "0", "--layers", "0")

    # expected stream: DIMM 0's segments of layer-0 ops, expanded in issue order
    td = TraceDir(trace_dir)
    ops = td.ops(0)
    segs = np.concatenate(list(td.iter_segments(0)))
    segs = segs[ops["layer"][segs["op"]] == 0]
    addr, is_write, _ = expand_segments(segs)
    assert len(addr) > 10_000

    # expected issue cycles: the same stream replayed back to back on the DIMM's DRAM config
    ms = MemorySystem.from_yaml(trace_system(td).dram_mapping())
    accepted = np.empty(len(addr), dtype=np.int64)
    assert ms.backend.run_trace(addr, is_write, None, -1, accepted) == len(addr)

    got = read_gem5_trace(out / "dimm0.gem5.gz")
    parts = list(got.iter_timed(ms.tck_ns))
    g_addr = np.concatenate([p[0] for p in parts])
    g_write = np.concatenate([p[1] for p in parts])
    g_cycles = np.concatenate([p[2] for p in parts])
    assert np.array_equal(g_addr, addr)
    assert np.array_equal(g_write, is_write)
    assert np.array_equal(g_cycles, accepted)
