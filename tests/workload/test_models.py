"""Model shapes: parameter counts against published counts, HF import, derived bytes, errors."""

import json

import pytest

from hermes_hw.cli.main import main
from hermes_hw.errors import InputError
from hermes_hw.workload.models import load_model

# Published parameter counts and their sources.
#  LLaMA2: exact counts of the released checkpoints (model.num_parameters(); the same numbers are
#    listed e.g. in Together's fine-tuning API model table: 13,015,864,320 and 68,976,648,192).
#  OPT: Hugging Face Hub "Model size" of facebook/opt-{13b,30b,66b} (safetensors metadata,
#    3 significant digits): 12.9B, 30.0B, 65.7B. (The OPT paper's names 13B/30B/66B are rounded.)
#  Falcon-40B: Hugging Face Hub "Model size" of tiiuae/falcon-40b: 41.8B.
PUBLISHED = {
    "opt-13b": 12.9e9,
    "opt-30b": 30.0e9,
    "opt-66b": 65.7e9,
    "llama2-13b": 13_015_864_320,
    "llama2-70b": 68_976_648_192,
    "falcon-40b": 41.8e9,
}


@pytest.mark.parametrize("model_id", sorted(PUBLISHED))
def test_param_count_matches_published_within_half_a_percent(model_id):
    spec = load_model(model_id)
    assert abs(spec.params - PUBLISHED[model_id]) / PUBLISHED[model_id] < 0.005


def test_llama2_70b_hand_count():
    # Hand count: per layer qkv 8192*(8192+2*1024) + o 8192^2 + mlp 3*8192*28672 + 2 RMSNorm
    # 8192 = 855,654,400; x80 + embed and LM head 2*32000*8192 + final norm 8192.
    per_layer = 8192 * 10240 + 8192 * 8192 + 3 * 8192 * 28672 + 2 * 8192
    assert load_model("llama2-70b").params == 80 * per_layer + 2 * 32000 * 8192 + 8192


def test_derived_neuron_groups_and_bytes_fp16_and_int8():
    spec = load_model("llama2-70b")
    att, mlp = spec.neuron_group("attention", 0), spec.neuron_group("mlp", 0)
    assert att.count == 8192 and mlp.count == 28672
    # attention neuron = one W_QKV row: q (64*128) + k and v (8*128 each) FP16 values
    assert att.bytes_per_neuron == (8192 + 2 * 1024) * 2
    # MLP neuron = gate row + up row + down column
    assert mlp.bytes_per_neuron == 3 * 8192 * 2
    assert len(spec.blocks) == 160
    assert spec.kv_bytes_per_token == 2 * 80 * 8 * 128 * 2  # K and V, GQA 8 KV heads, FP16
    int8 = load_model("llama2-70b", dtype="int8")
    assert int8.weight_bytes * 2 == spec.weight_bytes
    group = load_model("llama2-70b", dtype="int4").neuron_group("mlp", 3)
    assert group.bytes_per_neuron == 3 * 8192 // 2
    assert spec.weight_bytes == spec.params * 2
    assert spec.neuron_bytes + spec.dense_bytes == spec.weight_bytes


def test_opt_kv_cache_without_gqa():
    spec = load_model("opt-13b")
    assert spec.kv_bytes_per_token == 2 * 40 * 5120 * 2
    assert spec.neuron_group("mlp", 0).bytes_per_neuron == 2 * 5120 * 2


def _write_json(tmp_path, data, name="config.json"):
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


def test_hf_config_json_llama_matches_builtin(tmp_path):
    cfg = {
        "model_type": "llama", "hidden_size": 8192, "intermediate_size": 28672,
        "num_hidden_layers": 80, "num_attention_heads": 64, "num_key_value_heads": 8,
        "vocab_size": 32000, "tie_word_embeddings": False, "hidden_act": "silu",
        "max_position_embeddings": 4096, "_name_or_path": "meta-llama/Llama-2-70b-hf",
    }
    spec = load_model(str(_write_json(tmp_path, cfg)))
    assert spec.params == load_model("llama2-70b").params
    assert spec.num_kv_heads == 8


def test_hf_config_json_opt_and_falcon(tmp_path):
    opt = {"model_type": "opt", "hidden_size": 5120, "ffn_dim": 20480, "num_hidden_layers": 40,
           "num_attention_heads": 40, "vocab_size": 50272, "max_position_embeddings": 2048,
           "word_embed_proj_dim": 5120, "do_layer_norm_before": True}
    assert load_model(str(_write_json(tmp_path, opt))).params == load_model("opt-13b").params
    falcon = {"model_type": "falcon", "hidden_size": 8192, "n_layer": 60, "n_head": 128,
              "n_head_kv": 8, "new_decoder_architecture": True, "vocab_size": 65024,
              "bias": False, "parallel_attn": True, "tie_word_embeddings": False}
    spec = load_model(str(_write_json(tmp_path, falcon, "f.json")))
    assert spec.params == load_model("falcon-40b").params


def test_hf_config_missing_key_names_file_and_key(tmp_path):
    path = _write_json(
        tmp_path, {"model_type": "llama", "hidden_size": 64, "num_attention_heads": 4}
    )
    with pytest.raises(InputError, match=r"config.json: missing key 'intermediate_size'"):
        load_model(str(path))


def test_corrupt_json_names_line(tmp_path):
    path = tmp_path / "config.json"
    path.write_text('{"hidden_size": 64,\n "x": }')
    with pytest.raises(InputError, match=r"config.json: line 2: not valid JSON"):
        load_model(str(path))


def test_bad_yaml_value_names_key_path(tmp_path):
    text = (load_model.__globals__["models_dir"]() / "tiny-opt.yaml").read_text()
    path = tmp_path / "bad.yaml"
    path.write_text(text.replace("ffn_size: 256", "ffn_size: -3"))
    with pytest.raises(InputError, match=r"bad.yaml: architecture.ffn_size: "):
        load_model(str(path))
    path.write_text(text.replace("ffn_size: 256", "ffn_sise: 256"))
    with pytest.raises(InputError, match=r"architecture.ffn_si[sz]e: "):
        load_model(str(path))
    path.write_text("id: x\n  bad: [\n")
    with pytest.raises(InputError, match=r"bad.yaml: line \d+: not valid YAML"):
        load_model(str(path))


def test_gqa_heads_must_divide(tmp_path):
    text = (load_model.__globals__["models_dir"]() / "tiny-llama.yaml").read_text()
    path = tmp_path / "gqa.yaml"
    path.write_text(text.replace("num_kv_heads: 2 ", "num_kv_heads: 3 "))
    with pytest.raises(InputError, match="multiple of num_kv_heads"):
        load_model(str(path))


def test_unknown_model_and_dtype():
    with pytest.raises(InputError, match="did you mean 'llama2-70b'"):
        load_model("llama2-07b")
    with pytest.raises(InputError, match="unknown weight dtype 'fp9'"):
        load_model("opt-13b", dtype="fp9")


def test_cli_model_show_json(capsys):
    assert main(["model", "show", "llama2-70b", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["layers"] == 80 and info["hidden_size"] == 8192 and info["ffn_size"] == 28672
    assert info["params"] == 68_976_648_192 and info["weight_bytes"] == 2 * 68_976_648_192


def test_cli_model_list_and_bad_name(capsys):
    assert main(["model", "list"]) == 0
    out = capsys.readouterr().out
    for model_id in PUBLISHED:
        assert model_id in out
    assert main(["model", "show", "opt-14b"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "did you mean" in err
