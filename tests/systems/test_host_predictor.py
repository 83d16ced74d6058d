"""Hermes-host's ``host.predictor: powerinfer_mlp`` (PowerInfer's per-layer MLP predictors in
VRAM, run on the GPU) against hand calculations.

tiny-opt (configs/models/tiny-opt.yaml): hidden 64, FFN 256, 4 layers, vocab 1000, learned
positions (max 128 + offset 2), biases, two LayerNorms per layer, tied LM head, FP16."""

from __future__ import annotations

import pytest

from hermes_hw.errors import InputError
from hermes_hw.systems import RunOptions, simulate
from hermes_hw.systems.base import SimContext, make_system
from hermes_hw.systems.config import load_system_config
from hermes_hw.systems.hermes import prefill_residency
from hermes_hw.workload.models import load_model

RUN = RunOptions(input_tokens=16, output_tokens=4)
GIB = 2**30

# tiny-opt by hand: per layer 12 h^2 weights + 9 h biases + 2 LayerNorms x 2 h = 12 h^2 + 13 h
H, FFN, LAYERS = 64, 256, 4
TINY_PARAMS = LAYERS * (12 * H * H + 13 * H) + (1000 + 130) * H + 2 * H  # 272,384
SHARE = 0.05
# hidden = round(0.05 x 272,384 / (4 x (64 + 256))) = round(10.64) = 11
PRED_HIDDEN = 11
PRED_LAYER_BYTES = 2 * PRED_HIDDEN * (H + FFN)  # 7,040
PRED_BYTES = LAYERS * PRED_LAYER_BYTES  # 28,160
LM_HEAD = 1000 * 64 * 2  # 128,000 (kept on the GPU)
O_PROJ = LAYERS * (64 * 64 + 64) * 2  # 33,280 (GPU-only output projections with bias)


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HERMES_CACHE_DIR", str(tmp_path / "cache"))


def _host(predictor: str = "powerinfer_mlp", budget_bytes: float | None = None, **host):
    over: dict = {"host": {"predictor": predictor, **host}}
    if predictor == "powerinfer_mlp":
        over["host"].setdefault("predictor_share", SHARE)
    if budget_bytes is not None:
        over["gpu_weight_budget_gib"] = budget_bytes / GIB
    return simulate("tiny-opt", "powerinfer", 1, run=RUN, overrides=over)


def _events(r, lane: str, name: str) -> list[int]:
    tl = r.timeline
    return [i for i in range(len(tl)) if tl.phases[i] == "decode"
            and tl.lane_order[tl.lane_idx[i]] == lane and tl.names[i] == name]


def _ctx(model: str, **host) -> SimContext:
    cfg = load_system_config("powerinfer", overrides={"host": host})
    return SimContext(load_model(model), cfg, 1, RUN)


def test_opt13b_predictor_bytes_from_powerinfer_share_and_the_budget_the_ilp_sees():
    # OPT-13B by hand: 40 x (12 x 5120^2 + 13 x 5120) + (50272 + 2050) x 5120 + 2 x 5120
    params = 40 * (12 * 5120**2 + 13 * 5120) + (50272 + 2050) * 5120 + 2 * 5120
    assert params == 12_853_473_280
    # PowerInfer Table 6: 6.71% -> hidden = round(0.0671 x params / (40 x 25,600)) = 842
    hidden = 842
    assert abs(0.0671 * params / (40 * 25_600) - 842.25) < 0.01
    layer_bytes = 2 * hidden * (5120 + 20480)  # 43,110,400
    total = 40 * layer_bytes  # 1,724,416,000 B (cited: 0.88 B params x 2 = 1.76 GB)
    ctx = _ctx("opt-13b", predictor="powerinfer_mlp")
    host = make_system("hermes-host")
    shape = host.predictor_shape(ctx)
    assert (shape.hidden, shape.bytes_per_layer, shape.total_bytes) == (842, layer_bytes, total)
    assert host.gpu_predictor_bytes(ctx) == 1_724_416_000
    budget = int(ctx.config.gpu_weight_budget_gib * GIB)
    assert host.system_params(ctx).gpu_weight_budget_bytes == budget - 1_724_416_000
    off = _ctx("opt-13b", predictor="table")
    assert host.system_params(off).gpu_weight_budget_bytes == budget
    assert host.gpu_predictor_bytes(off) == 0


def test_tiny_run_places_predictors_in_vram_and_runs_them_on_the_gpu_every_layer():
    assert load_model("tiny-opt").params == TINY_PARAMS
    budget = LM_HEAD + O_PROJ + PRED_BYTES + 60_000
    r = _host(budget_bytes=budget)
    assert r.info["gpu_predictor_bytes"] == PRED_BYTES
    # the hot neurons get what the LM head, output projections and predictors leave: the
    # placement's GPU capacity (budget less gpu_dense_bytes, placement/base.py) is 60,000 B
    ctx = SimContext(load_model("tiny-opt"), r.config, 1, RUN)
    host = make_system("hermes-host")
    assert ctx.model.gpu_dense_bytes == LM_HEAD + O_PROJ
    assert host.system_params(ctx).gpu_weight_budget_bytes - (LM_HEAD + O_PROJ) == 60_000
    assert r.info["gpu_resident_neuron_bytes"] <= 60_000
    # one GPU prediction per layer and decode step, d_model -> 11 -> n_ffn, none on the host
    tl = r.timeline
    gpu_pred = _events(r, "gpu", "predict MLP")
    steps = r.run.decode_steps
    assert steps >= 1 and len(gpu_pred) == LAYERS * steps
    assert not _events(r, "host", "predict MLP")
    assert len(_events(r, "host", "predict QKV")) == LAYERS * steps  # QKV keeps the table
    assert {tl.event(i).category for i in gpu_pred} == {"predictor"}
    # GPU bytes read: the weights (PRED_LAYER_BYTES = 1,408 + 5,632) and each GEMV's input and
    # output vector, (64 + 11) + (11 + 256) FP16 values = 684 B
    assert 2 * 11 * 64 + 2 * 256 * 11 == PRED_LAYER_BYTES
    assert [tl.args[i]["nbytes"] for i in gpu_pred] == [PRED_LAYER_BYTES + 684] * len(gpu_pred)
    gpu = ctx.gpu
    expect_ns = gpu.gemv(11, 64, 1).time_ns + gpu.gemv(256, 11, 1).time_ns
    assert {round(tl.ends[i] - tl.starts[i], 6) for i in gpu_pred} == {round(expect_ns, 6)}
    # the predictor's output reaches the CPU (PCIe d2h) before its cold MLP rows
    pred_out = _events(r, "pcie.d2h", "predicted neurons")
    assert len(pred_out) == LAYERS * steps
    cold = _events(r, "cpu", "MLP cold")
    assert all(tl.starts[c] >= tl.ends[p] for p, c in zip(pred_out, cold, strict=True))


def test_predictors_that_do_not_fit_run_on_the_cpu_and_leave_no_room_for_hot_neurons():
    # room for 3 of the 4 layers' predictors after the LM head and output projections
    r = _host(budget_bytes=LM_HEAD + O_PROJ + PRED_BYTES - 1)
    assert r.info["gpu_predictor_bytes"] == 3 * PRED_LAYER_BYTES
    assert r.info["gpu_resident_neuron_bytes"] == 0
    tl = r.timeline
    assert {tl.layers[i] for i in _events(r, "gpu", "predict MLP")} == {0, 1, 2}
    cpu_pred = _events(r, "cpu", "predict MLP")
    assert {tl.layers[i] for i in cpu_pred} == {3}
    assert {tl.args[i]["read_bytes"] for i in cpu_pred} == {PRED_LAYER_BYTES}


def test_predictors_shrink_prefill_residency_by_their_bytes():
    ctx = _ctx("tiny-opt", predictor="powerinfer_mlp", predictor_share=SHARE)
    layer = (12 * 64 * 64 + 13 * 64) * 2  # 12 h^2 + 13 h params per layer, FP16: 99,968 B
    assert ctx.layer_weight_bytes == layer
    small = ctx.config.model_copy(update={"gpu_weight_budget_gib": (LM_HEAD + 2.5 * layer
                                                                    + PRED_BYTES) / GIB})
    ctx = SimContext(load_model("tiny-opt"), small, 1, RUN)
    host = make_system("hermes-host")
    assert host.gpu_predictor_bytes(ctx) == PRED_BYTES
    during = prefill_residency(ctx, reserved_bytes=host.gpu_predictor_bytes(ctx))
    assert during.tolist() == pytest.approx([layer, layer, 0.5 * layer, 0.0])
    assert prefill_residency(ctx).sum() == pytest.approx(2.5 * layer + PRED_BYTES)


def test_option_off_changes_nothing():
    r_table = _host("table")
    base = load_system_config("powerinfer", overrides={"host": {"predictor": "table"}})
    assert base.host.predictor_share is None
    r_plain = simulate("tiny-opt", "powerinfer", 1, run=RUN, config=base)
    assert r_table.total_ns == r_plain.total_ns
    assert "gpu_predictor_bytes" not in r_table.info
    assert not _events(r_table, "gpu", "predict MLP")
    assert len(_events(r_table, "host", "predict MLP")) == LAYERS * r_table.run.decode_steps
    ctx = SimContext(load_model("tiny-opt"), base, 1, RUN)
    host = make_system("hermes-host")
    assert host.system_params(ctx).gpu_weight_budget_bytes == int(base.gpu_weight_budget_gib
                                                                  * GIB)
    assert host.mlp_predictor_plan(ctx) is None
    with pytest.raises(InputError, match="predictor_share"):
        _host("table", predictor_share=0.05)


def test_default_is_the_table_predictor():
    assert load_system_config("powerinfer").host.predictor == "table"


@pytest.mark.parametrize("host, match", [
    ({"predictor": "mlp"}, "powerinfer_mlp"),
    ({"predictor": "powerinfer_mlp", "predictor_share": 1.5}, "predictor_share"),
    ({"predictor": "powerinfer_mlp", "attention": "dense_gpu_first"}, "split"),
])
def test_bad_values_are_one_line_errors(host, match):
    with pytest.raises(InputError, match=match) as err:
        simulate("tiny-opt", "powerinfer", 1, run=RUN, overrides={"host": host})
    assert "\n" not in str(err.value)


def test_unknown_model_share_and_other_system_are_errors():
    with pytest.raises(InputError, match="host.predictor_share") as err:
        simulate("tiny-opt", "powerinfer", 1, run=RUN,
                 overrides={"host": {"predictor": "powerinfer_mlp"}})
    assert "opt-13b" in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(InputError, match="hermes-host"):
        simulate("tiny-opt", "hermes", 1, run=RUN,
                 overrides={"host": {"predictor": "powerinfer_mlp", "predictor_share": SHARE}})
