"""Synthetic generator statistics against their targets; determinism; imported masks."""

import numpy as np
import pytest

from hermes_hw.errors import InputError
from hermes_hw.workload.activations import SyntheticSource
from hermes_hw.workload.activations.imports import load_masks, save_masks
from hermes_hw.workload.activations.stats import cofire, generator_stats, token_overlap, top_share
from hermes_hw.workload.activations.synthetic.calibration import (
    discrete_frequencies,
    persistence_from_targets,
    solve_power_law,
)
from hermes_hw.workload.models import load_model


@pytest.fixture(scope="module")
def llama13_trace():
    # a full-width model (per-layer widths as published) over 160 tokens: ~1 s
    return SyntheticSource().trace(load_model("llama2-13b"), prompt_tokens=80,
                                   decode_tokens=80, seed=3)


def test_power_law_solver_hits_mean_and_concentration():
    means = np.array([0.005, 0.05, 0.2])
    x0, s = solve_power_law(means, np.full(3, 0.7), 0.995)
    for m, a, b in zip(means, x0, s, strict=True):
        p = discrete_frequencies(28672, m, a, b, 0.995)
        assert p.mean() == pytest.approx(m, rel=1e-6)
        assert (p**2).sum() / p.sum() == pytest.approx(0.7, abs=0.02)


def test_persistence_formula():
    # overlap(d) = C + (1 - C) q^d  ->  q = (0.92 - 0.7) / 0.3
    assert persistence_from_targets(0.92, 0.70) == pytest.approx(0.22 / 0.30)


def test_generator_statistics_within_tolerance(llama13_trace):
    tr = llama13_trace
    active = np.array([tr.block_masks(b).mean() for b in range(len(tr.model.blocks))])
    assert np.max(np.abs(active / tr.meta["block_targets"] - 1)) < 0.05
    # Hermes sec. 4 targets; tolerances: finite-sample noise over 160 tokens
    assert token_overlap(tr, 1) > 0.90
    assert token_overlap(tr, 10) == pytest.approx(0.70, abs=0.05)
    assert token_overlap(tr, 25) == pytest.approx(0.70, abs=0.05)
    assert abs(token_overlap(tr, 50) - token_overlap(tr, 25)) < 0.02  # flat beyond 25
    assert top_share(tr) == pytest.approx(0.80, abs=0.08)
    assert cofire(tr) > 0.88
    # PowerInfer Table 3: LLaMA2(ReGLU)-13B average MLP sparsity 78%
    mlp = np.array([g.kind == "mlp" for g in tr.model.blocks])
    assert 1 - active[mlp].mean() == pytest.approx(0.78, abs=0.01)


def test_opt_early_layers_nearly_silent():
    tr = SyntheticSource().trace(load_model("opt-13b"), prompt_tokens=8, decode_tokens=8, seed=1)
    layers = tr.model.num_layers
    early = [tr.block_masks(b).mean() for b, g in enumerate(tr.model.blocks)
             if g.kind == "mlp" and g.layer < layers // 2]
    late = [tr.block_masks(b).mean() for b, g in enumerate(tr.model.blocks)
            if g.kind == "mlp" and g.layer == layers - 1]
    assert max(early) < 0.01 and late[0] > 0.05  # PowerInfer sec. 3.1 / 3.2


def test_falcon_adjacent_overlap_target():
    tr = SyntheticSource().trace(load_model("falcon-40b").__class__(
        load_model("tiny-llama").config.model_copy(update={
            "activity": load_model("falcon-40b").config.activity})),
        prompt_tokens=100, decode_tokens=100, seed=2)
    assert token_overlap(tr, 1) == pytest.approx(0.95, abs=0.015)


def test_same_seed_same_bytes_and_batch_union():
    m = load_model("tiny-llama")
    src = SyntheticSource()
    a = src.trace(m, prompt_tokens=10, decode_tokens=10, batch=2, seed=7)
    b = src.trace(m, prompt_tokens=10, decode_tokens=10, batch=2, seed=7)
    c = src.trace(m, prompt_tokens=10, decode_tokens=10, batch=2, seed=8)
    one = src.trace(m, prompt_tokens=10, decode_tokens=10, batch=1, seed=7)
    assert a.bits.tobytes() == b.bits.tobytes()
    assert a.bits.tobytes() != c.bits.tobytes()
    # the batch mask is the union: it contains request 0 (= the batch-1 trace)
    assert np.array_equal(a.bits & one.bits, one.bits)
    assert np.bitwise_count(a.bits).sum() > np.bitwise_count(one.bits).sum()


def test_generator_stats_rows(llama13_trace):
    rows = {r["name"]: r for r in generator_stats(llama13_trace)["rows"]}
    assert rows["adjacent-token overlap (MLP)"]["measured"] > 0.9


def test_mask_file_round_trip(tmp_path):
    m = load_model("tiny-opt")
    rng = np.random.default_rng(0)
    mlp = rng.random((6, 4, 256)) < 0.1
    att = rng.random((6, 4, 64)) < 0.5
    path = tmp_path / "masks.npz"
    save_masks(path, mlp, att, prompt_tokens=3)
    tr = load_masks(path, m)
    assert tr.prompt_tokens == 3 and tr.tokens == 6
    assert np.array_equal(tr.block_masks(1), mlp[:, 0])  # block 1 = MLP of layer 0
    assert np.array_equal(tr.block_masks(2), att[:, 1])
    # a requests axis is reduced to the union
    save_masks(path, np.stack([mlp, ~mlp]), prompt_tokens=3)
    assert load_masks(path, m).block_masks(1).all()


@pytest.mark.parametrize("shape,message", [
    ((6, 3, 256), "has 3 layers, the model has 4"),
    ((6, 4, 255), "has 255 neurons per layer, the model has 256"),
    ((6, 256), "must have shape"),
])
def test_mismatched_mask_files(tmp_path, shape, message):
    path = tmp_path / "bad.npz"
    save_masks(path, np.zeros(shape, bool))
    with pytest.raises(InputError, match=rf"bad.npz: '.*' {message}|bad.npz: .*{message}"):
        load_masks(path, load_model("tiny-opt"))


def test_corrupt_and_foreign_files(tmp_path):
    path = tmp_path / "corrupt.npz"
    path.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(InputError, match="corrupt.npz: not a readable .npz"):
        load_masks(path, load_model("tiny-opt"))
    other = tmp_path / "other.npz"
    np.savez(other, mlp=np.zeros((2, 4, 256), bool))
    with pytest.raises(InputError, match="'format' is ''"):
        load_masks(other, load_model("tiny-opt"))
    with pytest.raises(InputError, match="no such file"):
        load_masks(tmp_path / "missing.npz", load_model("tiny-opt"))


def test_model_without_activity_cannot_be_synthetic(tmp_path):
    import json
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps({"model_type": "llama", "hidden_size": 64,
                               "intermediate_size": 128, "num_hidden_layers": 2,
                               "num_attention_heads": 4, "vocab_size": 100}))
    with pytest.raises(InputError, match="no 'activity:' calibration"):
        SyntheticSource().trace(load_model(str(cfg)), prompt_tokens=2, decode_tokens=2)




def test_powerinfer_counts_import(tmp_path):
    torch_mod = pytest.importorskip("torch", reason="torch (optional extra) is not installed")
    from hermes_hw.workload.activations.imports import load_powerinfer_counts

    m = load_model("tiny-opt")
    for i in range(4):
        torch_mod.save(torch_mod.arange(256, dtype=torch_mod.float32), tmp_path /
                       f"activation_{i}.pt")
    freqs = load_powerinfer_counts(tmp_path, m)
    assert len(freqs) == 4 and freqs[0].max() == 1.0
    torch_mod.save(torch_mod.zeros(10), tmp_path / "activation_2.pt")
    with pytest.raises(InputError, match="activation_2.pt: expected a 1-D tensor of 256"):
        load_powerinfer_counts(tmp_path, m)


def test_hf_recorder_on_tiny_opt_style_model(tmp_path):
    torch_mod = pytest.importorskip("torch", reason="torch (optional extra) is not installed")
    from hermes_hw.workload.activations.imports import record_hf_masks
    nn = torch_mod.nn

    class Attn(nn.Module):
        def __init__(self, h):
            super().__init__()
            self.q_proj = nn.Linear(h, h)

        def forward(self, x):
            return self.q_proj(torch_mod.relu(x))

    class Layer(nn.Module):
        def __init__(self, h, f):
            super().__init__()
            self.self_attn, self.fc1, self.fc2 = Attn(h), nn.Linear(h, f), nn.Linear(f, h)

        def forward(self, x):
            x = x + self.self_attn(x)
            return x + self.fc2(torch_mod.relu(self.fc1(x)))

    class Decoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(1000, 64)
            self.layers = nn.ModuleList([Layer(64, 256) for _ in range(4)])

        def forward(self, ids):
            x = self.embed(ids)
            for layer in self.layers:
                x = layer(x)
            return x

    class OptStyle(nn.Module):
        def __init__(self):
            super().__init__()
            self.model = nn.Module()
            self.model.decoder = Decoder()

        def forward(self, ids):
            return self.model.decoder(ids)

    torch_mod.manual_seed(0)
    path = tmp_path / "rec.npz"
    record_hf_masks(OptStyle(), torch_mod.randint(0, 1000, (1, 12)), path, prompt_tokens=6)
    tr = load_masks(path, load_model("tiny-opt"))
    assert tr.tokens == 12 and 0 < tr.block_masks(1).mean() < 1
