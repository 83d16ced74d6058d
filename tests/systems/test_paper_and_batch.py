"""`hermes validate paper` on one cell, the physical bound on the NDP unit's cycles per op,
placement-independent prefill, the batch sweep of Hermes, and the DIMM time model choice."""

from __future__ import annotations

import pytest
import yaml

from hermes_hw.cli.main import main
from hermes_hw.errors import InputError
from hermes_hw.systems import RunOptions, load_system_config, simulate
from hermes_hw.systems.dimm_time import BandwidthDimmModel, DimmOp
from hermes_hw.systems.paper import PAPER_CELLS, format_results, run_cells, summary

SHORT = RunOptions(input_tokens=16, output_tokens=6)


@pytest.fixture(autouse=True)
def _private_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("HERMES_CACHE_DIR", str(tmp_path / "cache"))


def test_validate_paper_one_cell_matches_simulate():
    cell = ("llama2-13b", "hermes-base")  # no workload pipeline: about a second
    [res] = run_cells({cell: PAPER_CELLS[cell]})
    direct = simulate(*cell, 1)
    assert res.sim_tokens_per_s == direct.tokens_per_s
    # error by hand: simulated / paper - 1, paper value from hermes_paper.md §8
    assert res.error == pytest.approx(direct.tokens_per_s / 30.90 - 1.0)
    s = summary([res])
    assert s["cells"] == 1 and s["median_abs_error"] == pytest.approx(abs(res.error))
    text = format_results([res])
    assert "llama2-13b" in text and "hermes-base" in text and "1 cells" in text


def test_cli_validate_paper_cell(capsys):
    code = main(["validate", "paper", "--cell", "llama2-13b/hermes-base", "--markdown"])
    out = capsys.readouterr().out
    assert "| llama2-13b | hermes-base | 30.9 |" in out
    assert code in (0, 1)


def test_cli_validate_paper_config_per_system(tmp_path, capsys):
    # hermes-base's cell with a layered YAML equals simulate with that YAML; the accelerate
    # cell, not named, keeps its built-in config
    cfg = tmp_path / "fast_ndp.yaml"
    cfg.write_text("ndp:\n  streaming_efficiency: 0.9\n")
    code = main(["validate", "paper", "--cell", "llama2-13b/hermes-base", "--cell",
                 "llama2-13b/accelerate", "--config", f"hermes-base={cfg}"])
    out = capsys.readouterr().out
    layered = simulate("llama2-13b", "hermes-base", 1, config_path=str(cfg)).tokens_per_s
    plain = simulate("llama2-13b", "accelerate", 1).tokens_per_s
    assert layered != simulate("llama2-13b", "hermes-base", 1).tokens_per_s
    assert f"{layered:.3f}" in out and f"{plain:.3f}" in out
    assert code in (0, 1)


def test_cli_validate_paper_config_errors(tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("gqa: mha\n")
    assert main(["validate", "paper", "--cell", "llama2-13b/hermes-base", "--config",
                 f"hermes-bas={cfg}"]) == 2
    assert "did you mean 'hermes-base'" in capsys.readouterr().err
    assert main(["validate", "paper", "--cell", "llama2-13b/hermes-base", "--config", str(cfg),
                 "--config", str(cfg)]) == 2
    assert "twice" in capsys.readouterr().err


def test_cli_validate_paper_unknown_cell(capsys):
    assert main(["validate", "paper", "--cell", "llama2-13b/flexgen"]) == 2
    assert "llama2-13b/flexgen" in capsys.readouterr().err


def test_cycles_per_op_above_one_bit_per_cycle_is_rejected(tmp_path):
    cfg = tmp_path / "slow.yaml"
    cfg.write_text("ndp:\n  cycles_per_op: 17\n")
    with pytest.raises(InputError, match="ndp.cycles_per_op"):
        load_system_config("hermes", cfg)


@pytest.mark.parametrize("system", ["hermes", "hermes-base"])
def test_committed_ndp_unit_is_bandwidth_bound_at_batch_1(system):
    # 256 multipliers x 8 FP16 lanes consume 256 * 8 * 2 B per op of cycles_per_op ns at 1 GHz;
    # one weight (2 B) needs one MAC at batch 1, so the unit takes 4096 / cycles_per_op GB/s
    ndp = load_system_config(system).ndp
    consume_gbps = ndp.multipliers * ndp.fp16_lanes_per_multiplier * 2 / ndp.cycles_per_op \
        * ndp.clock_ghz
    assert consume_gbps >= ndp.streaming_gbps
    op = DimmOp("gemv", read_bytes=1e6, macs=0.5e6)  # 1 MB of FP16 weights, batch 1
    t = BandwidthDimmModel(ndp).op_time_ns(0, op)
    assert t == pytest.approx(ndp.op_overhead_ns + 1e6 / ndp.streaming_gbps)


def test_prefill_does_not_depend_on_the_placement():
    a = simulate("tiny-llama", "hermes-random", 1, run=SHORT)
    b = simulate("tiny-llama", "hermes-ilp", 1, run=SHORT)
    streamed = [sum(x["nbytes"] for x in (a.timeline.args[i] or {},) if "nbytes" in x)
                for i in range(len(a.timeline.names)) if a.timeline.names[i] == "stream weights"]
    streamed_b = [sum(x["nbytes"] for x in (b.timeline.args[i] or {},) if "nbytes" in x)
                  for i in range(len(b.timeline.names))
                  if b.timeline.names[i] == "stream weights"]
    assert streamed == streamed_b


def test_dimm_model_cycle_on_hermes_base_is_a_clear_error():
    # (hermes itself runs cycle-level: tests/systems/test_dimm_cycle.py)
    with pytest.raises(InputError, match="cycle"):
        simulate("tiny-opt", "hermes-base", 1, run=SHORT, overrides={"dimm_model": "cycle"})


@pytest.mark.slow
@pytest.mark.parametrize("model", ["llama2-70b", "opt-30b"])
def test_hermes_throughput_does_not_drop_from_batch_1_to_16(model):
    tps = [simulate(model, "hermes", b).tokens_per_s for b in (1, 2, 4, 8, 16)]
    assert all(later >= earlier for earlier, later in zip(tps, tps[1:], strict=False)), tps


@pytest.mark.slow
def test_fast_dimm_model_runs_and_stays_near_the_bandwidth_model():
    cfg = {"dimm_model": "fast"}
    fast = simulate("tiny-llama", "hermes", 1, run=SHORT, overrides=cfg)
    assert fast.info["dimm_model"]["model"] == "fast"
    assert fast.tokens_per_s > 0


def test_system_yaml_can_name_the_dimm_model(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({"inherits": "hermes", "dimm_model": "fast"}))
    assert load_system_config(None, path).dimm_model == "fast"
