"""Hermes-host's ``host.attention: dense_gpu_first`` (PowerInfer's attention placement): the
dense attention weights take the GPU budget first, layer by layer; the rest runs on the CPU.

Expected values are hand calculations on tiny-opt (configs/models/tiny-opt.yaml: hidden 64,
4 layers, 4 heads of 16 (no GQA), vocab 1000, LM head tied to the embedding, FP16)."""

from __future__ import annotations

import pytest

from hermes_hw.errors import InputError
from hermes_hw.systems import RunOptions, simulate
from hermes_hw.systems.base import SimContext, make_system
from hermes_hw.workload.models import load_model

RUN = RunOptions(input_tokens=16, output_tokens=4)
GIB = 2**30

# tiny-opt by hand, 2 bytes per weight
QKV_BYTES = 64 * (64 + 64 + 64) * 2  # 64 input rows x (q + k + v outputs) = 24,576
O_BYTES = 64 * 64 * 2  # output projection: 8,192
LAYER_ATTN = QKV_BYTES + O_BYTES  # 32,768
LM_HEAD = 1000 * 64 * 2  # 128,000 (kept on the GPU, as in every Hermes-family system)
MLP_BYTES = 4 * 256 * 64 * 2 * 2  # 4 layers x 256 neurons x (fc1 row + fc2 column): 262,144


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HERMES_CACHE_DIR", str(tmp_path / "cache"))


def _host(budget_bytes: float, attention: str = "dense_gpu_first", **extra):
    return simulate("tiny-opt", "powerinfer", 1, run=RUN,
                    overrides={"gpu_weight_budget_gib": budget_bytes / GIB,
                               "host": {"attention": attention}, **extra})


def _decode_events(r, lane: str, name: str, step: int = 0) -> list[int]:
    tl = r.timeline
    return [i for i in range(len(tl)) if tl.phases[i] == "decode" and tl.tokens[i] == step
            and tl.lane_order[tl.lane_idx[i]] == lane and tl.names[i] == name]


def test_attention_that_does_not_fit_runs_dense_on_the_cpu_and_the_mlp_stays_there():
    # room for the LM head and 2.5 layers' attention: layers 0-1 on the GPU, 2-3 on the CPU
    r = _host(LM_HEAD + 2.5 * LAYER_ATTN)
    tl = r.timeline
    gpu_qkv = _decode_events(r, "gpu", "QKV dense")
    cpu_qkv = _decode_events(r, "cpu", "QKV dense")
    cpu_o = _decode_events(r, "cpu", "output projection")
    assert sorted(tl.layers[i] for i in gpu_qkv) == [0, 1]
    assert sorted(tl.layers[i] for i in cpu_qkv) == [2, 3]
    assert sorted(tl.layers[i] for i in cpu_o) == [2, 3]
    cpu_attention_bytes = sum(tl.args[i]["read_bytes"] for i in cpu_qkv + cpu_o)
    assert cpu_attention_bytes == 2 * LAYER_ATTN  # 65,536 bytes per token
    # PowerInfer splits the FFN only once every dense tensor is on the GPU: no hot MLP here
    assert not _decode_events(r, "gpu", "MLP hot")
    assert r.info["gpu_resident_neuron_bytes"] == 0


def test_attention_that_fits_leaves_the_rest_of_the_budget_to_the_mlp():
    # all 4 layers' attention fit; the MLP gets budget - LM head - 4 x 32,768 = 1/2 of its bytes
    r = _host(LM_HEAD + 4 * LAYER_ATTN + MLP_BYTES / 2)
    assert len(_decode_events(r, "gpu", "QKV dense")) == 4
    assert not _decode_events(r, "cpu", "QKV dense")
    assert not _decode_events(r, "cpu", "QKV cold")  # QKV is never split by neurons
    assert r.info["gpu_resident_neuron_bytes"] <= MLP_BYTES / 2
    # the placement is offered exactly that: its GPU capacity (budget less the GPU-only dense
    # weights, hermes_hw/workload/placement/base.py) is the MLP's share, and only MLP neurons
    ctx = SimContext(load_model("tiny-opt"), r.config, 1, RUN)
    host = make_system("hermes-host")
    assert host.dense_attention_gpu_layers(ctx) == 4
    assert host.mlp_gpu_budget_bytes(ctx) == MLP_BYTES // 2
    problem_capacity = (host.system_params(ctx).gpu_weight_budget_bytes
                        - ctx.model.gpu_dense_bytes)
    assert problem_capacity == MLP_BYTES // 2
    assert host._count_args(ctx, host.system_params(ctx), True, True)[
        "placement_options"]["gpu_kinds"] == ["mlp"]


def test_split_default_is_unchanged_and_the_option_is_hermes_host_only():
    r = _host(LM_HEAD + 4 * LAYER_ATTN + MLP_BYTES / 2, attention="split")
    assert not _decode_events(r, "gpu", "QKV dense")
    assert _decode_events(r, "cpu", "QKV cold")
    with pytest.raises(InputError, match="hermes-host"):
        simulate("tiny-opt", "hermes", 1, run=RUN,
                 overrides={"host": {"attention": "dense_gpu_first"}})
    with pytest.raises(InputError, match="workload.placement"):
        _host(LM_HEAD + 4 * LAYER_ATTN, workload={"placement": "random"})
