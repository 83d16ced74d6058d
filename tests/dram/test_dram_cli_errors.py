"""Bad input to `hermes dram replay` / `hermes validate dram`: one line naming the file and the
line or key, exit code 2, no traceback."""

import gzip
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
GOOD = ROOT / "configs" / "dram" / "ddr4_3200_1ch.yaml"


def run(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "hermes_hw", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd)


def edited(tmp_path, edit):
    cfg = yaml.safe_load(GOOD.read_text())
    edit(cfg)
    p = tmp_path / "c.yaml"
    p.write_text(yaml.safe_dump(cfg))
    return p


def trace(tmp_path, text, name="t.trace"):
    p = tmp_path / name
    p.write_text(text)
    return p


def assert_one_line_error(proc, *needles):
    assert proc.returncode == 2, proc.stderr + proc.stdout
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert proc.stdout == ""


def test_good_config_replays_the_sample_trace():
    proc = run("dram", "replay", "--config", GOOD, "--json")
    assert proc.returncode == 0, proc.stderr
    assert '"cycles"' in proc.stdout


def test_malformed_yaml_names_file_and_line(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("MemorySystem:\n  impl: GenericDRAM\n   DRAM: [\n")
    assert_one_line_error(run("dram", "replay", "--config", p), "bad.yaml:", "malformed YAML")


def test_unknown_timing_preset_suggests_close_match(tmp_path):
    p = edited(tmp_path, lambda c: c["MemorySystem"]["DRAM"]["timing"].update(
        preset="DDR4_3200A"))
    assert_one_line_error(run("dram", "replay", "--config", p),
                          "MemorySystem.DRAM.timing.preset", "DDR4_3200AA")


def test_unknown_org_preset_and_unknown_scheduler(tmp_path):
    p = edited(tmp_path, lambda c: c["MemorySystem"]["DRAM"]["org"].update(preset="DDR4_8Gb_x9"))
    assert_one_line_error(run("dram", "replay", "--config", p), "org.preset", "DDR4_8Gb_x8")
    p = edited(tmp_path, lambda c: c["MemorySystem"]["Controller"]["Scheduler"].update(
        impl="FRFCS"))
    assert_one_line_error(run("dram", "replay", "--config", p),
                          "MemorySystem.Controller.Scheduler.impl", "FRFCFS")


def test_unknown_key_is_named(tmp_path):
    p = edited(tmp_path, lambda c: c["MemorySystem"]["Controller"].update(queue_depth=8))
    assert_one_line_error(run("dram", "replay", "--config", p),
                          "MemorySystem.Controller.queue_depth", "unknown key")
    p = edited(tmp_path, lambda c: c["MemorySystem"]["DRAM"]["timing"].update(nRCDD=3))
    assert_one_line_error(run("dram", "replay", "--config", p), "timing.nRCDD", "nRCD")


@pytest.mark.parametrize("depth", [0, -4])
def test_zero_or_negative_queue_depth(tmp_path, depth):
    p = edited(tmp_path, lambda c: c["MemorySystem"]["Controller"].update(read_buffer_size=depth))
    assert_one_line_error(run("dram", "replay", "--config", p),
                          "MemorySystem.Controller.read_buffer_size")


def test_unparsable_address_names_line(tmp_path):
    t = trace(tmp_path, "LD 0x40\nLD 0x80\nLD 0xZZ\n")
    assert_one_line_error(run("dram", "replay", "--config", GOOD, "--trace", t), "t.trace:3")


def test_address_beyond_capacity_names_line(tmp_path):
    t = trace(tmp_path, "LD 0x40\nST 0x200000000\n")  # 8 GiB: one past the last byte
    assert_one_line_error(run("dram", "replay", "--config", GOOD, "--trace", t), "t.trace:2")


def test_address_vector_trace_replays_and_rejects_vectors_outside_the_memory(tmp_path):
    # ReadWriteTrace address vectors (channel, rank, bankgroup, bank, row, column) bypass the
    # mapper: two reads to one row (miss then hit), then a vector with bank group 4 of 4.
    t = trace(tmp_path, "R 0,0,0,0,5,0\nR 0,0,0,0,5,1\n")
    proc = run("dram", "replay", "--config", GOOD, "--trace", t, "--json")
    assert proc.returncode == 0, proc.stderr
    assert '"row_hits": 1' in proc.stdout and '"row_misses": 1' in proc.stdout
    t = trace(tmp_path, "R 0,0,0,0,5,0\nR 0,0,4,0,5,1\n", name="bad.trace")
    assert_one_line_error(run("dram", "replay", "--config", GOOD, "--trace", t),
                          "bad.trace", "request 2", "bankgroup=4", "bankgroup<4")


def test_truncated_gzip_trace(tmp_path):
    data = gzip.compress(b"".join(b"LD 0x%x\n" % (64 * i) for i in range(20000)))
    p = tmp_path / "t.trace.gz"
    p.write_bytes(data[: len(data) // 2])
    assert_one_line_error(run("dram", "replay", "--config", GOOD, "--trace", p), "t.trace.gz")


def test_missing_reference_folder(tmp_path):
    assert_one_line_error(run("validate", "dram", tmp_path), "manifest.json")
