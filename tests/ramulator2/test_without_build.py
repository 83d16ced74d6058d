"""Behaviour of the ramulator2 backend that needs no Ramulator2 build."""

from __future__ import annotations

import pytest

from hermes_hw.cli.main import main
from hermes_hw.dram.config import parse_config
from hermes_hw.dram.memory_system import MemorySystem
from hermes_hw.errors import InputError
from ramulator_bridge.ramulator2 import doctor_line, find_install
from ramulator_bridge.ramulator2.backend import (
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
    config, frontend_ratio = ramulator_config(_cfg(clock_ratio=200))
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
    config, _ = ramulator_config(cfg)
    assert config["MemorySystem"]["Controller"]["RowPolicy"] == {
        "impl": "ClosedRowPolicy", "cap": 1}


def test_features_ramulator_lacks_are_errors():
    with pytest.raises(Ramulator2Unsupported, match="access_mode"):
        ramulator_config(_cfg(access_mode="ndp"))
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
