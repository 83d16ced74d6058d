"""The 'simulate' runner against the hermes_hw.systems API, and its up-front checks."""

from __future__ import annotations

import pytest
from _sweep_helpers import write_grid

from hermes_hw.errors import InputError
from hermes_hw.sweep import load_grid, run_sweep
from hermes_hw.sweep.store import SweepStore

systems = pytest.importorskip("hermes_hw.systems", reason="hermes simulate not present")


def test_values_equal_the_simulate_api(tmp_path):
    grid = load_grid(write_grid(tmp_path / "g.yaml", (
        "runner: simulate\nset: {model: tiny-opt, output_tokens: 8, input_tokens: 16}\n"
        "axes:\n  system: [hermes, hermes-host]\n  overrides.n_dimms: [2, 4]\n")))
    report = run_sweep(grid, workers=1, progress=False)
    assert not report.failed and len(report.ran) == 4
    store = SweepStore(grid)
    for p in grid.points:
        direct = systems.simulate("tiny-opt", p.axes["system"], 1,
                                  overrides={"n_dimms": p.axes["overrides.n_dimms"]},
                                  run=systems.RunOptions(input_tokens=16, output_tokens=8))
        values = store.load_result(p)["values"]
        assert values["tokens_per_s"] == direct.tokens_per_s
        assert values["breakdown.fc"] == direct.breakdown_ns["fc"] * 1e-9
        assert (store.point_dir(p) / "stats.json").is_file()


@pytest.mark.parametrize(("axes", "message"), [
    ("  overrides.n_dimm: [2]\n", "overrides"),
    ("  system: [hermes, hermez]\n", "unknown system 'hermez'"),
    ("  batch: [1, 0]\n", "batch: must be at least 1"),
    ("  modell: [x]\n", "modell: unknown key"),
    ("  dimm_timing: [slow]\n", "dimm_timing: expected 'fast' or 'cycle'"),
])
def test_bad_simulate_grids(tmp_path, axes, message):
    path = write_grid(tmp_path / "g.yaml", f"runner: simulate\nset: {{model: tiny-opt}}\n"
                      f"axes:\n{axes}")
    with pytest.raises(InputError) as info:
        load_grid(path)
    assert message in str(info.value) and str(path) in str(info.value)
