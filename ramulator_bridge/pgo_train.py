"""Training run for the profile-guided build of the DRAM engine and trace parser (setup.py).

Run by the build in a subprocess against the *instrumented* libraries just compiled:
``python pgo_train.py SOURCE_ROOT ENGINE_SO TRACEIO_SO``. It replays sequential, random,
strided and mixed read/write streams through the repository's DRAM configs (host and NDP
access mode) and a few variants, and parses a LoadStoreTrace text file, so the compiler sees
the branch and call frequencies of real replays. The profile changes code layout and
inlining, never what the engine computes: the reference validation and the
scheduler-equivalence tests give the same results with and without it.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

REQUESTS = 200_000

#: Variants of configs/dram/ddr4_3200_1ch.yaml replayed besides the repository's configs (ranks,
#: row policy, DDR5), so every common code path gets a profile.
VARIANTS: list[dict] = [
    {"DRAM": {"impl": "DDR4", "org": {"preset": "DDR4_8Gb_x8", "channel": 1, "rank": 2},
              "timing": {"preset": "DDR4_3200AA"}}},
    {"Controller": {"impl": "Generic", "RowPolicy": {"impl": "ClosedRowPolicy", "cap": 4}}},
    {"DRAM": {"impl": "DDR5", "org": {"preset": "DDR5_16Gb_x8", "channel": 1, "rank": 1},
              "timing": {"preset": "DDR5_4800B"}}},
]


def _load_extension(name: str, so_path: str) -> None:
    """Make ``ramulator_bridge.<name>`` the given (instrumented) library."""
    import ramulator_bridge

    spec = importlib.util.spec_from_file_location(f"ramulator_bridge.{name}", so_path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.modules[f"ramulator_bridge.{name}"] = module
    setattr(ramulator_bridge, name, module)


def main(root: str, engine_so: str, traceio_so: str) -> None:
    sys.path.insert(0, root)
    _load_extension("_engine", engine_so)
    _load_extension("_traceio", traceio_so)
    import numpy as np

    from hermes_hw.dram.memory_system import MemorySystem

    rng = np.random.default_rng(7)
    n = REQUESTS
    streams = {
        "seq": (np.arange(n, dtype=np.uint64) * 64, np.zeros(n, np.uint8)),
        "rand": (rng.integers(0, 2**27, n).astype(np.uint64) * 64, np.zeros(n, np.uint8)),
        "stride8k": ((np.arange(n, dtype=np.uint64) * 8192) % (2**33), np.zeros(n, np.uint8)),
        "mix70": (rng.integers(0, 2**27, n).astype(np.uint64) * 64,
                  (rng.random(n) < 0.3).astype(np.uint8)),
    }
    import yaml

    configs = sorted((Path(root) / "configs" / "dram").glob("*.yaml"))
    base = yaml.safe_load((Path(root) / "configs" / "dram" / "ddr4_3200_1ch.yaml").read_text())
    variants = []
    for over in VARIANTS:
        data = {"MemorySystem": {**base["MemorySystem"], **over}}
        variants.append(data)
    for cfg in [*map(str, configs), *variants]:
        for addr, write in streams.values():
            ms = MemorySystem.from_yaml(cfg)
            ms.run_trace(addr, write)
            if ms.stats()["reads"] + ms.stats()["writes"] == 0:
                raise SystemExit(f"training replay on {cfg} served nothing")
    # the trace parser (ramulator_bridge._traceio): LoadStoreTrace text, hex addresses
    import tempfile

    from hermes_hw.dram.traces import open_trace

    addr, write = streams["mix70"]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "train.trace"
        path.write_text("".join(f"{'ST' if w else 'LD'} {a:#x}\n"
                                for a, w in zip(addr.tolist(), write.tolist(), strict=True)))
        ms = MemorySystem.from_yaml(str(configs[0]))
        chunk = open_trace(str(path), capacity_bytes=ms.capacity_bytes).read_all()
        ms.run_trace(chunk.addr, chunk.is_write)


if __name__ == "__main__":
    main(*sys.argv[1:4])
