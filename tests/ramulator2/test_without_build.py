"""Behaviour of the ramulator2 backend that needs no Ramulator2 build."""

from __future__ import annotations

import numpy as np
import pytest

from hermes_hw.cli.main import main
from hermes_hw.dram.config import parse_config
from hermes_hw.dram.memory_system import MemorySystem
from hermes_hw.dram.resolve import resolve
from hermes_hw.errors import InputError
from ramulator_bridge.ramulator2 import doctor_line, find_install
from ramulator_bridge.ramulator2.backend import (
    NdpRemap,
    Ramulator2Unsupported,
    flatten_stats,
    ramulator_config,
)

BASE = {
    "MemorySystem": {
        "impl": "GenericDRAM",
        "clock_ratio": 1,
        "DRAM": {
            "impl": "DDR4",
            "org": {"preset": "DDR4_8Gb_x8", "channel": 1, "rank": 1},
            "timing": {"preset": "DDR4_3200AA"},
        },
        "Controller": {
            "impl": "Generic",
            "Scheduler": {"impl": "FRFCFS"},
            "RefreshManager": {"impl": "AllBank"},
            "RowPolicy": {"impl": "OpenRowPolicy"},
            "plugins": [{"ControllerPlugin": {"impl": "CommandCounter", "path": "x.csv"}}],
        },
        "AddrMapper": {"impl": "RoBaRaCoCh"},
    }
}


def _cfg(**mem_overrides):
    import copy

    data = copy.deepcopy(BASE)
    data["MemorySystem"].update(mem_overrides)
    return parse_config(data, "test.yaml")


def test_unset_root_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("RAMULATOR2_ROOT", raising=False)
    with pytest.raises(InputError, match="set RAMULATOR2_ROOT="):
        MemorySystem(_cfg(), backend="ramulator2")
    assert "not configured" in doctor_line()


def test_cli_without_build_exits_2_with_one_line(monkeypatch, capsys, tmp_path):
    monkeypatch.delenv("RAMULATOR2_ROOT", raising=False)
    import yaml

    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(BASE))
    trace = tmp_path / "t.trace"
    trace.write_text("LD 0x0\n")
    code = main(["dram", "replay", "--config", str(cfg), "--trace", str(trace),
                 "--backend", "ramulator2", "--json"])
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1 and "RAMULATOR2_ROOT" in err


def test_folder_checks(tmp_path):
    with pytest.raises(InputError, match="not a Ramulator 2.0 checkout"):
        find_install(tmp_path)
    v21 = tmp_path / "v21"
    (v21 / "src" / "ramulator" / "base").mkdir(parents=True)
    (v21 / "src" / "ramulator" / "base" / "base.h").write_text("")
    with pytest.raises(InputError, match="Ramulator 2.1"):
        find_install(v21)
    v20 = tmp_path / "v20"
    (v20 / "src" / "base").mkdir(parents=True)
    (v20 / "src" / "base" / "base.h").write_text("")
    with pytest.raises(InputError, match="libramulator.so not found"):
        find_install(v20)
    (v20 / "libramulator.so").write_bytes(b"")
    (v20 / "CMakeLists.txt").write_text("project(\n  Ramulator\n  VERSION 2.0\n  LANGUAGES CXX\n)")
    assert find_install(v20).version == "2.0"
    (v20 / "CMakeLists.txt").write_text("project(Ramulator VERSION 2.1 LANGUAGES CXX)")
    with pytest.raises(InputError, match="supports Ramulator 2.0"):
        find_install(v20)


def test_config_translation_drops_hermes_extensions_and_plugins():
    config, frontend_ratio, remap = ramulator_config(_cfg(clock_ratio=200))
    assert remap is None
    mem = config["MemorySystem"]
    assert frontend_ratio == 1 and mem["clock_ratio"] == 200
    assert "access_mode" not in mem and "backend" not in mem
    assert "plugins" not in mem["Controller"]
    assert not any(k.endswith("_buffer_size") for k in mem["Controller"])
    assert "cap" not in mem["Controller"]["RowPolicy"]  # open-row policy has no cap
    assert mem["DRAM"]["org"] == {"preset": "DDR4_8Gb_x8", "channel": 1, "rank": 1}


def test_closed_row_cap_is_kept():
    cfg = _cfg()
    cfg.MemorySystem.Controller.RowPolicy.impl = "ClosedRowPolicy"
    cfg.MemorySystem.Controller.RowPolicy.cap = 1
    config, _, _ = ramulator_config(cfg)
    assert config["MemorySystem"]["Controller"]["RowPolicy"] == {
        "impl": "ClosedRowPolicy", "cap": 1}


def test_features_ramulator_lacks_are_errors():
    with pytest.raises(Ramulator2Unsupported, match="access_mode"):
        ramulator_config(_cfg(access_mode="ndp"))  # NDP needs the resolved organisation
    ndp = _cfg(access_mode="ndp", AddrMapper={"impl": "MOP4CLXOR"})
    with pytest.raises(Ramulator2Unsupported, match="RoBaRaCoCh"):
        ramulator_config(ndp, resolve(ndp))
    cfg = _cfg()
    cfg.MemorySystem.Controller.read_buffer_size = 64
    with pytest.raises(Ramulator2Unsupported, match="read_buffer_size"):
        ramulator_config(cfg)


def test_flatten_sums_repeated_controller_blocks():
    text = """
MemorySystem:
  impl: GenericDRAM
  memory_system_cycles: 10
  Controller:
    impl: Generic
    id: Channel 0
    row_hits_0: 3
    avg_read_latency_0: 1.5
  Controller:
    impl: Generic
    id: Channel 1
    row_hits_1: 4
"""
    flat = flatten_stats(text)
    assert flat == {"memory_system_cycles": 10, "row_hits_0": 3, "avg_read_latency_0": 1.5,
                    "row_hits_1": 4}


def test_ndp_config_has_one_channel_per_rank():
    cfg = _cfg(access_mode="ndp")
    cfg.MemorySystem.DRAM.org.channel = 2
    cfg.MemorySystem.DRAM.org.rank = 4
    config, _, remap = ramulator_config(cfg, resolve(cfg))
    assert config["MemorySystem"]["DRAM"]["org"] == {
        "preset": "DDR4_8Gb_x8", "channel": 8, "rank": 1}
    assert (remap.channels, remap.ranks) == (2, 4)


def test_ndp_remap_moves_rank_bits_next_to_channel_bits():
    # DDR4_8Gb_x8, 2 channels, 4 ranks; bits above the 6 offset bits: ch 1, col 7, rank 2, ...
    remap = NdpRemap(channels=2, ranks=4, transactions_per_row=128, tx_bytes=64)
    ch, col, rank, rest, offset = 1, 0b1010101, 0b10, 0b111001, 5
    ours = offset | ch << 6 | col << 7 | rank << 14 | rest << 16
    # Ramulator: channel' = ch * ranks + rank in 3 bits, then the column, then the rest
    theirs = offset | (ch * 4 + rank) << 6 | col << 9 | rest << 16
    assert remap.address(ours) == theirs
    rng = np.random.default_rng(3)
    a = rng.integers(0, 2**36, 10_000, dtype=np.uint64)
    assert len(set(remap.addresses(a).tolist())) == len(set(a.tolist()))  # a bijection
    rec = np.zeros(2, dtype=[("channel", "<i4"), ("rank", "<i4")])
    rec["channel"], rec["rank"] = [6, 3], [0, -1]
    remap.commands(rec)
    assert rec["channel"].tolist() == [1, 0] and rec["rank"].tolist() == [2, -1]
