"""Grid expansion, stable ids and up-front rejection of bad grids (key path in the message)."""

from __future__ import annotations

import hashlib
import json

import pytest
from _sweep_helpers import NDP_CONFIG, SAMPLE_TRACE, dram_grid, write_grid

from hermes_hw.cli.main import main
from hermes_hw.errors import InputError
from hermes_hw.sweep import load_grid


def _sha12(runner: str, config: dict) -> str:
    # written out independently of hermes_hw.sweep.ids: sorted keys, no spaces
    text = json.dumps({"config": config, "runner": runner}, sort_keys=True,
                      separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def test_product_order_ids_and_configs(tmp_path):
    grid = load_grid(write_grid(tmp_path / "g.yaml", (
        "runner: test-arith\n"
        "axes:\n  x: [1, 2, 3]\n  y: [10, 20]\n")))
    assert [(p.axes["x"], p.axes["y"]) for p in grid.points] == [
        (1, 10), (1, 20), (2, 10), (2, 20), (3, 10), (3, 20)]
    for p in grid.points:
        expected = {"x": p.axes["x"], "y": p.axes["y"], "sleep_s": 0.0}
        assert p.config == expected
        assert p.id == _sha12("test-arith", expected)
    assert len({p.id for p in grid.points}) == 6
    assert grid.out == tmp_path / "g.sweep"


def test_ids_do_not_depend_on_axis_order_or_file_location(tmp_path):
    a = load_grid(write_grid(tmp_path / "a.yaml",
                             "runner: test-arith\naxes: {x: [1, 2], y: [5]}\n"))
    (tmp_path / "sub").mkdir()
    b = load_grid(write_grid(tmp_path / "sub" / "b.yaml",
                             "runner: test-arith\naxes: {y: [5], x: [2, 1]}\n"))
    assert {p.id for p in a.points} == {p.id for p in b.points}


def test_zip_groups_vary_together(tmp_path):
    grid = load_grid(write_grid(tmp_path / "g.yaml", (
        "runner: test-arith\naxes:\n  x: [1, 2]\n  y: [3, 4]\n  sleep_s: [0.0, 0.001]\n"
        "zip: [[x, y]]\n")))
    assert [(p.axes["x"], p.axes["y"], p.axes["sleep_s"]) for p in grid.points] == [
        (1, 3, 0.0), (1, 3, 0.001), (2, 4, 0.0), (2, 4, 0.001)]


def test_dram_grid_sets_nested_keys_and_keeps_base(tmp_path):
    grid = load_grid(dram_grid(tmp_path, "axes:\n  MemorySystem.DRAM.timing.nFAW: [26, 48]\n"))
    assert [p.config["MemorySystem"]["DRAM"]["timing"]["nFAW"] for p in grid.points] == [26, 48]
    for p in grid.points:  # base values survive (Table II preset and overrides)
        assert p.config["MemorySystem"]["DRAM"]["timing"]["preset"] == "DDR4_3200AC"
        assert p.config["MemorySystem"]["access_mode"] == "ndp"
        assert p.config["Frontend"]["path"] == str(SAMPLE_TRACE)


def test_base_file_paths_are_rebased_to_the_grid_folder(tmp_path):
    cfgdir = tmp_path / "cfg"
    cfgdir.mkdir()
    (cfgdir / "mem.yaml").write_text(NDP_CONFIG.read_text() + (
        "Frontend:\n  impl: LoadStoreTrace\n  path: ../t/s.trace\n"))
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "s.trace").write_text(SAMPLE_TRACE.read_text())
    (tmp_path / "grids").mkdir()
    grid = load_grid(write_grid(tmp_path / "grids" / "g.yaml", (
        "base: ../cfg/mem.yaml\naxes: {MemorySystem.DRAM.timing.nFAW: [26]}\n")))
    assert grid.points[0].config["Frontend"]["path"] == "../t/s.trace"


BAD_GRIDS = [
    ("axes:\n  MemorySystem.DRAM.timing.nFAW: []\n",
     "axes.MemorySystem.DRAM.timing.nFAW: empty axis"),
    ("axes:\n  MemorySystem.DRAM.orgg.rank: [1]\n",
     "MemorySystem.DRAM.orgg: unknown key"),
    ("axes:\n  MemorySystem.DRAM.org.rank: [2, two]\n",
     'axes.MemorySystem.DRAM.org.rank = "two": MemorySystem.DRAM.org.rank: Input should be a '
     "valid integer"),
    ("axes:\n  MemorySystem.DRAM.timing.nFAWW: [20]\n",
     "MemorySystem.DRAM.timing.nFAWW: unknown timing; did you mean 'nFAW'?"),
    ("axes:\n  MemorySystem.DRAM.impl.x: [1]\n",
     "'MemorySystem.DRAM.impl' is a value ('DDR4'), not a section"),
    ("axes:\n  MemorySystem.DRAM.org.rank: 4\n",
     "axes.MemorySystem.DRAM.org.rank: Input should be a valid list"),
    ("axes: {}\n", "axes: no axis given"),
    ("axis:\n  MemorySystem.DRAM.org.rank: [1]\n", "axis: unknown key"),
    ("axes:\n  MemorySystem.DRAM.org.rank: [1, 1]\n",
     "axes.MemorySystem.DRAM.org.rank: value 1 appears more than once"),
    ("axes:\n  Frontend.path: [missing.trace]\n", "Frontend.path: trace file 'missing.trace'"),
    ("axes:\n  MemorySystem.DRAM.org.rank: [1]\n  MemorySystem.DRAM.org.channel: [1, 2]\n"
     "zip: [[MemorySystem.DRAM.org.rank, MemorySystem.DRAM.org.channel]]\n",
     "zip.0: zipped axes must have equal lengths"),
    ("runner: dram-replayy\naxes:\n  MemorySystem.DRAM.org.rank: [1]\n",
     "unknown sweep runner 'dram-replayy'; did you mean 'dram-replay'?"),
]


@pytest.mark.parametrize(("axes", "message"), BAD_GRIDS)
def test_bad_grid_rejected_before_any_point_runs(tmp_path, capsys, axes, message):
    path = dram_grid(tmp_path, axes)
    if axes.startswith("runner:"):  # a second 'runner' key: rebuild without the default one
        path.write_text(path.read_text().replace("runner: dram-replay\n", "", 1))
    out = tmp_path / "out"
    with pytest.raises(InputError, match=None) as info:
        load_grid(path, out=out)
    assert message in str(info.value)
    assert str(path) in str(info.value)
    rc = main(["sweep", str(path), "--out", str(out), "--workers", "1"])
    err = capsys.readouterr().err
    assert rc == 2
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not out.exists()  # nothing ran, nothing written


def test_combination_error_names_the_point(tmp_path):
    # each value is fine alone; the type error is in the runner check of a full point
    path = write_grid(tmp_path / "g.yaml", "runner: test-arith\naxes:\n  x: [1, '2']\n  y: [3]\n")
    with pytest.raises(InputError, match=r"axes\.x = \"2\": x: expected an integer"):
        load_grid(path)


def test_unknown_rerun_id_suggests_the_closest(tmp_path, capsys):
    path = write_grid(tmp_path / "g.yaml", "runner: test-arith\naxes: {x: [1, 2]}\n")
    grid = load_grid(path)
    rc = main(["sweep", str(path), "--rerun", "zz" + grid.points[0].id[2:], "--workers", "1"])
    assert rc == 2
    assert f"did you mean '{grid.points[0].id}'" in capsys.readouterr().err
