"""Systems: breakdown = sums of timeline events, the all-on-GPU reduction to the dense GPU time,
every model/system pair at batch 1-16, and impossible configurations."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from hermes_hw.cli.main import main
from hermes_hw.errors import InputError
from hermes_hw.gpu import GpuTimingModel, get_profile
from hermes_hw.paths import configs_dir
from hermes_hw.systems import RunOptions, list_system_configs, load_system_config, simulate
from hermes_hw.systems.config import SystemConfig, field_table
from hermes_hw.timeline import CATEGORIES
from hermes_hw.workload.activations.imports import save_masks
from hermes_hw.workload.models import load_model

SHORT = RunOptions(input_tokens=16, output_tokens=6)
ALL_SYSTEMS = list_system_configs()


@pytest.fixture(autouse=True)
def _no_disk_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("HERMES_CACHE_DIR", str(tmp_path / "cache"))


def test_every_paper_system_id_has_a_config():
    need = {"hermes", "hermes-host", "hermes-base", "accelerate", "flexgen", "dejavu",
            "trtllm-5xa100", "hermes-random", "hermes-ilp", "hermes-adjust",
            "hermes-token-only", "hermes-layer-only"}
    assert need <= set(ALL_SYSTEMS)


def test_every_config_field_has_default_unit_description_source():
    rows = field_table(SystemConfig)
    own = [r for r in rows if not r["key"].startswith(("pcie.", "dimm_link.", "sync."))]
    assert len(own) > 30
    for r in own:
        assert r["unit"] and r["description"] and r["source"], r["key"]


@pytest.mark.parametrize("system", ["hermes", "hermes-host", "hermes-base", "accelerate",
                                    "dejavu", "trtllm-5xa100"])
def test_breakdown_is_the_sum_of_timeline_events(system):
    r = simulate("tiny-llama", system, 2, run=SHORT)
    tl = r.timeline
    path = tl.critical_path()
    for cat in CATEGORIES:
        assert r.breakdown_ns[cat] == pytest.approx(
            sum(e.duration_ns for e in path if e.category == cat), rel=1e-12, abs=1e-9)
    # the critical path is gap-free and ends at the makespan
    assert path[0].start_ns == 0.0
    for a, b in zip(path, path[1:], strict=False):
        assert b.start_ns == pytest.approx(a.end_ns)
    assert sum(r.breakdown_ns.values()) == pytest.approx(r.total_ns)
    busy_total = sum(sum(d.values()) for d in r.busy_ns.values())
    assert busy_total == pytest.approx(sum(e.duration_ns for e in tl.events))
    # prefill time = end of the prefill phase's events; tokens/s from the makespan
    assert r.prefill_ns == max(e.end_ns for e in tl.events if e.phase == "prefill")
    assert r.tokens_per_s == pytest.approx(2 * 6 / (tl.makespan_ns * 1e-9))


def _dense_gpu_config(tmp_path, model) -> str:
    """Hermes with every neuron on a GPU of unbounded memory, everything else free."""
    prof = yaml.safe_load((configs_dir() / "gpus" / "rtx4090.yaml").read_text())
    prof["name"] = "rtx4090-unbounded"
    prof["memory_capacity_gib"] = {"value": 1e6, "source": "test: unbounded"}
    gpu_path = tmp_path / "rtx4090-unbounded.yaml"
    gpu_path.write_text(yaml.safe_dump(prof))
    tokens = SHORT.input_tokens + SHORT.decode_steps
    masks = tmp_path / "all.npz"
    save_masks(masks, np.ones((tokens, model.num_layers, model.ffn_size), bool),
               np.ones((tokens, model.num_layers, model.hidden_size), bool),
               prompt_tokens=SHORT.input_tokens, model_id=model.id)
    cfg = {
        "inherits": "hermes", "gpu": str(gpu_path), "gpu_weight_budget_gib": 1e5,
        "sync": {"latency_ns": 0.0},
        "pcie": {"latency_ns": 0.0, "d2h_latency_ns": 0.0, "bandwidth_override_gbps": 1e12},
        "ndp": {"internal_bandwidth_gbps": 1e12, "cycles_per_op": 1e-9, "op_overhead_ns": 0.0,
                "activation_lanes": 10**12},
        "dimm_link": {"hop_latency_ns": 0.0, "lane_gbit_per_s": 1e15},
        "workload": {"predictor": "oracle", "placement": "fixed", "adjust": False,
                     "remap": False, "source": "masks", "source_options": {"path": str(masks)},
                     "predictor_ns_per_neuron": 0.0},
    }
    path = tmp_path / "dense.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return str(path)


def test_all_neurons_on_gpu_reduces_to_dense_gpu_time(tmp_path):
    model = load_model("tiny-llama")
    r = simulate(model, "hermes", 1, config_path=_dense_gpu_config(tmp_path, model), run=SHORT)
    gpu = GpuTimingModel(get_profile("rtx4090"))
    h, f = model.hidden_size, model.ffn_size
    qkv = model.q_dim + 2 * model.kv_dim
    dense_layer_ns = (gpu.gemv(qkv, h).time_ns + gpu.gemv(h, model.q_dim).time_ns
                      + gpu.gemv(2 * f, h).time_ns + gpu.gemv(h, f).time_ns)
    dense_step_ns = model.num_layers * dense_layer_ns + gpu.gemv(model.arch.vocab_size,
                                                                 h).time_ns
    assert r.info["workload"]["gpu_share"] == 1.0
    # the only difference left: the hot-neuron kernel reads a 4-byte index per row
    assert r.decode_ns_per_token == pytest.approx(dense_step_ns, rel=0.02)


@pytest.mark.parametrize("system", ALL_SYSTEMS)
@pytest.mark.parametrize("model", ["tiny-opt", "tiny-llama"])
def test_batch_1_to_16_runs_and_throughput_grows(model, system):
    tps = []
    for batch in (1, 2, 4, 8, 16):
        r = simulate(model, system, batch, run=SHORT)
        assert r.total_ns > r.prefill_ns > 0
        tps.append(r.tokens_per_s)
    assert tps[-1] > tps[0]


@pytest.mark.slow
@pytest.mark.parametrize("system", ALL_SYSTEMS)
@pytest.mark.parametrize("model", ["opt-13b", "opt-30b", "opt-66b", "llama2-13b",
                                   "llama2-70b", "falcon-40b"])
def test_paper_models_batch_1_to_16(model, system):
    for batch in (1, 2, 4, 8, 16):
        r = simulate(model, system, batch, run=RunOptions(128, 9))
        assert r.tokens_per_s > 0


def test_same_inputs_same_numbers():
    a = simulate("tiny-opt", "hermes", 4, run=SHORT)
    b = simulate("tiny-opt", "hermes", 4, run=SHORT)
    assert a.stats()["breakdown"] == b.stats()["breakdown"]
    assert a.timeline.ends == b.timeline.ends


# --- impossible configurations ---------------------------------------------------------------
def test_model_larger_than_all_memory(tmp_path):
    cfg = tmp_path / "two.yaml"
    cfg.write_text("n_dimms: 2\n")
    with pytest.raises(InputError, match="model larger than all memory"):
        simulate("llama2-70b", "hermes", 1, config_path=str(cfg))


def test_kv_cache_does_not_fit(tmp_path):
    cfg = tmp_path / "small.yaml"
    cfg.write_text("max_batch: 100000\n")
    with pytest.raises(InputError, match="KV cache of batch"):
        simulate("llama2-70b", "flexgen", 4000, config_path=str(cfg))


def test_batch_above_limit_and_unknown_names():
    with pytest.raises(InputError, match="max_batch"):
        simulate("tiny-opt", "hermes", 17)
    with pytest.raises(InputError, match="did you mean 'hermes-base'"):
        load_system_config("hermes-bse")


def test_gpu_profile_missing_a_field(tmp_path):
    prof = yaml.safe_load((configs_dir() / "gpus" / "rtx4090.yaml").read_text())
    del prof["peak_memory_bandwidth_gbps"]
    gpu = tmp_path / "broken.yaml"
    gpu.write_text(yaml.safe_dump(prof))
    cfg = tmp_path / "s.yaml"
    cfg.write_text(f"gpu: {gpu}\n")
    with pytest.raises(InputError, match="missing required field 'peak_memory_bandwidth_gbps'"):
        simulate("tiny-opt", "hermes", 1, config_path=str(cfg))


def test_bad_system_config_names_key_path(tmp_path):
    cfg = tmp_path / "s.yaml"
    cfg.write_text("ndp:\n  cycles_per_op: -3\n")
    with pytest.raises(InputError, match="ndp.cycles_per_op"):
        simulate("tiny-opt", "hermes", 1, config_path=str(cfg))
    cfg.write_text("ndp:\n  cycle_per_op: 3\n")
    with pytest.raises(InputError, match="unknown field 'ndp.cycle_per_op'"):
        simulate("tiny-opt", "hermes", 1, config_path=str(cfg))


# --- CLI ---------------------------------------------------------------------------------------
def test_cli_simulate_writes_outputs(tmp_path, capsys):
    out = tmp_path / "run"
    rc = main(["simulate", "--model", "tiny-llama", "--system", "hermes", "--batch", "2",
               "--input-tokens", "16", "--output-tokens", "6", "--out", str(out), "--json"])
    assert rc == 0
    import json

    stats = json.loads(capsys.readouterr().out)
    for key in ("tokens_per_s", "prefill_s", "decode_s_per_token", "breakdown"):
        assert key in stats
    assert sum(stats["breakdown"].values()) == pytest.approx(stats["total_s"])
    for name in ("stats.json", "resolved_config.yaml", "timeline.json", "summary.png"):
        assert (out / name).is_file()
    resolved = yaml.safe_load((out / "resolved_config.yaml").read_text())
    assert SystemConfig.model_validate(resolved).system == "hermes"
    trace = json.loads((out / "timeline.json").read_text())
    assert any(e.get("ph") == "X" for e in trace["traceEvents"])


@pytest.mark.parametrize("argv, message", [
    (["--system", "nope"], "unknown system 'nope'"),
    (["--batch", "0"], "--batch must be at least 1"),
    (["--model", "nope"], "unknown model 'nope'"),
    (["--config", "/nonexistent.yaml"], "no such file"),
    (["--output-tokens", "0"], "at least 1"),
])
def test_cli_bad_input_exit_2(argv, message, capsys, tmp_path):
    out = tmp_path / "o"
    assert main(["simulate", "--model", "tiny-opt", *argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not out.exists()
