"""Hermes-host as the paper's cells imply (every active neuron row on the CPU, GQA sized as MHA)
against the described PowerInfer-style system (`powerinfer`: hot neurons on the GPU)."""

from __future__ import annotations

import pytest

from hermes_hw.systems import RunOptions, load_system_config, simulate
from hermes_hw.systems.base import SimContext
from hermes_hw.workload.models import load_model

RUN = RunOptions(input_tokens=16, output_tokens=4)


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HERMES_CACHE_DIR", str(tmp_path / "cache"))


def _decode_names(r, lane: str) -> set[str]:
    tl = r.timeline
    return {tl.names[i] for i in range(len(tl)) if tl.phases[i] == "decode"
            and tl.lane_order[tl.lane_idx[i]] == lane}


def test_hermes_host_has_no_neuron_rows_on_the_gpu():
    r = simulate("tiny-opt", "hermes-host", 1, run=RUN)
    assert r.info["workload"]["gpu_share"] == 0.0  # no active neuron on the GPU
    gpu = _decode_names(r, "gpu")
    assert "QKV hot" not in gpu and "MLP hot" not in gpu
    cpu = _decode_names(r, "cpu")
    assert {"QKV cold", "MLP cold"} <= cpu
    # the GPU-only dense output projection stays on the GPU (paper step 3)
    assert any("proj" in n for n in gpu)


def test_powerinfer_keeps_hot_neurons_on_the_gpu():
    # OPT-13B (on tiny-opt the placement finds the GPU's fixed per-block costs not worth it)
    r = simulate("opt-13b", "powerinfer", 1, run=RUN)
    assert r.info["workload"]["gpu_share"] > 0.5
    assert {"QKV hot", "MLP hot"} & _decode_names(r, "gpu")


def test_gqa_handling_of_the_two_configs():
    spec = load_model("llama2-70b")
    host = SimContext(spec, load_system_config("hermes-host"), 1, RUN)
    described = SimContext(spec, load_system_config("powerinfer"), 1, RUN)
    assert host.model.num_kv_heads == 64 and described.model.num_kv_heads == 8
    # the CPU profile is shared: one fitted CPU for both
    assert load_system_config("hermes-host").cpu == load_system_config("powerinfer").cpu
