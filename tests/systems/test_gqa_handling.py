"""The system config's GQA handling (`gqa: native | mha`): shapes by hand, MHA models unchanged."""

from __future__ import annotations

import pytest

from hermes_hw.errors import InputError
from hermes_hw.systems.base import RunOptions, SimContext, simulate
from hermes_hw.systems.config import load_system_config
from hermes_hw.workload.models import load_model


def test_multi_head_widens_the_kv_projections_and_cache_by_hand():
    native = load_model("llama2-70b")
    wide = native.as_multi_head()
    h, layers = 8192, 80
    # native: 64 query heads of 128, 8 KV heads -> W_QKV row of 8192 + 2 x 1024 values
    assert native.attention_weights_per_neuron == h + 2 * 1024
    # widened: one KV head per query head -> 3 x 8192 values per W_QKV row (FP16: 2 B each)
    assert wide.attention_weights_per_neuron == 3 * h
    assert wide.neuron_group("attention", 0).bytes_per_neuron == 3 * h * 2
    # KV cache per token: K and V, 80 layers, 8192 values, 2 B
    assert wide.kv_bytes_per_token == 2 * layers * h * 2
    assert native.kv_bytes_per_token == 2 * layers * 1024 * 2
    # nothing else changes: the MLP, the output projection, the heads
    assert wide.neuron_group("mlp", 0) == native.neuron_group("mlp", 0)
    assert wide.arch.num_attention_heads == 64 and wide.id == native.id
    o_native = next(m for m in native.layer_matrices if m.name == "o_proj")
    o_wide = next(m for m in wide.layer_matrices if m.name == "o_proj")
    assert o_native == o_wide


def test_sim_context_applies_the_config_choice():
    spec = load_model("falcon-40b")
    for gqa, kv_heads in (("native", 8), ("mha", 128)):
        cfg = load_system_config("hermes-base", None, {"gqa": gqa})
        assert SimContext(spec, cfg, 1, RunOptions()).model.num_kv_heads == kv_heads


def test_mha_models_are_unchanged():
    spec = load_model("tiny-opt")
    assert spec.as_multi_head() is spec
    run = RunOptions(input_tokens=8, output_tokens=4)
    a = simulate(spec, "hermes-base", 1, run=run)
    b = simulate(spec, "hermes-base", 1, run=run, overrides={"gqa": "mha"})
    assert a.tokens_per_s == b.tokens_per_s


def test_a_dense_gqa_model_gets_slower_when_widened():
    # hermes-base streams every QKV row it does not hold on the GPU: wider rows cost time
    run = RunOptions(input_tokens=8, output_tokens=4)
    a = simulate("tiny-llama", "hermes-base", 1, run=run)
    b = simulate("tiny-llama", "hermes-base", 1, run=run, overrides={"gqa": "mha"})
    assert b.decode_ns_per_token > a.decode_ns_per_token


def test_bad_value_names_the_key_and_choices(tmp_path):
    bad = tmp_path / "s.yaml"
    bad.write_text("gqa: grouped\n")
    with pytest.raises(InputError) as err:
        load_system_config("hermes", str(bad))
    msg = str(err.value)
    assert "gqa" in msg and "native" in msg and "mha" in msg
