"""Helpers for the engine tests: build small memory systems from dict configs."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np

from hermes_hw.dram.memory_system import MemorySystem
from hermes_hw.dram.replay import command_log_from_records

REFERENCE = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "ramulator2"

BASE = {
    "MemorySystem": {
        "impl": "GenericDRAM",
        "clock_ratio": 1,
        "DRAM": {"impl": "DDR4", "org": {"preset": "DDR4_8Gb_x8", "channel": 1, "rank": 1},
                 "timing": {"preset": "DDR4_3200AA"}},
        "Controller": {"impl": "Generic"},
        "AddrMapper": {"impl": "RoBaRaCoCh"},
    }
}

#: Configurations (overrides for :func:`config` / :func:`system`) the randomised engine tests
#: draw from: ranks, NDP access mode, both schedulers and row policies, a XOR mapper, DDR5 with
#: all-bank and same-bank refresh, the Table II DIMM with tightened activation windows.
CONFIG_VARIANTS: list[dict] = [
    {},
    {"ranks": 2},
    {"ranks": 2, "access_mode": "ndp"},
    {"Scheduler": {"impl": "FCFS"}},
    {"RowPolicy": {"impl": "ClosedRowPolicy", "cap": 2}},
    {"AddrMapper": "MOP4CLXOR"},
    {"standard": "DDR5", "org_preset": "DDR5_16Gb_x8", "timing_preset": "DDR5_3200AN"},
    {"standard": "DDR5", "org_preset": "DDR5_16Gb_x8", "timing_preset": "DDR5_3200AN",
     "RefreshManager": {"impl": "SameBank"}},
    {"standard": "DDR5", "org_preset": "DDR5_16Gb_x8", "timing_preset": "DDR5_4800B",
     "ranks": 2},
    {"org_preset": "DDR4_16Gb_x16", "timing_preset": "DDR4_3200AC", "ranks": 4,
     "access_mode": "ndp", "timing": {"nRRDS": 4, "nRRDL": 6, "nFAW": 26}},
]


def config(**over) -> dict:
    cfg = copy.deepcopy(BASE)
    ms = cfg["MemorySystem"]
    for key, value in over.items():
        if key in ("standard", "org_preset", "timing_preset", "ranks", "timing"):
            dram = ms["DRAM"]
            if key == "standard":
                dram["impl"] = value
            elif key == "org_preset":
                dram["org"]["preset"] = value
            elif key == "ranks":
                dram["org"]["rank"] = value
            elif key == "timing_preset":
                dram["timing"]["preset"] = value
            else:
                dram["timing"].update(value)
        elif key in ("Scheduler", "RowPolicy", "RefreshManager"):
            ms["Controller"][key] = value
        elif key == "AddrMapper":
            ms["AddrMapper"] = {"impl": value}
        else:
            ms[key] = value
    return cfg


def system(log: bool = True, completions: bool = False, **over) -> MemorySystem:
    return MemorySystem.from_yaml(config(**over), command_log=log,
                                  record_completions=completions)


def replay(ms: MemorySystem, addrs, writes=None):
    addrs = np.asarray(addrs, dtype=np.uint64)
    writes = np.zeros(len(addrs), bool) if writes is None else np.asarray(writes, bool)
    batches = []
    return ms.replay([(addrs, writes)], on_commands=batches.append), \
        command_log_from_records(batches)


def address(ms: MemorySystem, bankgroup=0, bank=0, row=0, column=0, rank=0) -> int:
    """Byte address of a (rank, bankgroup, bank, row, column) under RoBaRaCoCh."""
    org = ms.resolved.org
    bits = [int(x).bit_length() - 1 for x in (ms.resolved.transactions_per_row, org["rank"],
                                              org["bankgroup"], org["bank"])]
    tx = column
    shift = bits[0]
    for value, width in zip((rank, bankgroup, bank), bits[1:], strict=True):
        tx |= value << shift
        shift += width
    tx |= row << shift
    return tx * ms.resolved.tx_bytes
