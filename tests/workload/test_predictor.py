"""The Hermes predictor rule on hand-worked sequences, table sizes, and the cost models."""

import numpy as np
import pytest

from hermes_hw.errors import InputError
from hermes_hw.workload.activations.base import ActivationTrace, BlockLayout
from hermes_hw.workload.models import ModelConfig, ModelSpec, load_model
from hermes_hw.workload.predictors import (
    HermesPredictor,
    PredictorContext,
    hermes_state_table_bytes,
    initial_state,
    make_predictor,
)


def _ctx(n, freq, partners):
    model = load_model("tiny-opt")
    layout = BlockLayout(sizes=np.array([n]), bit_offsets=np.array([0, n]))
    trace = ActivationTrace(model, layout, np.zeros((1, (n + 7) // 8), np.uint8), 1)
    return PredictorContext(trace, np.asarray(freq, np.float32), np.asarray(partners, np.int32),
                            np.ones(n, bool))


def test_band_initialisation_matches_paper_ends():
    # paper: > 90% -> 15, < 2% -> 0; in between 14 equal-width bands (our [O] choice)
    f = np.array([0.0, 0.019, 0.02, 0.021, 0.5, 0.90, 0.901, 1.0])
    st = initial_state(f, np.linspace(0.02, 0.90, 15))
    assert st[0] == st[1] == st[2] == 0
    assert st[3] == 1
    assert st[5] == 14 and st[6] == 15 and st[7] == 15
    # 0.5 lies above edges 0.02 + k*0.0628 for k = 0..7 -> state 8
    assert st[4] == 8


def test_update_rule_hand_worked_sequence():
    # neuron 0 starts at state 0 (freq 0), fires 5 times then misses 3 times:
    # 0 -> 4 -> 8 -> 12 -> 15 -> 15 (saturate) -> 14 -> 13 -> 12
    p = HermesPredictor()
    p.start(_ctx(2, [0.0, 0.0], [[-1, -1], [-1, -1]]))
    seq = [1, 1, 1, 1, 1, 0, 0, 0]
    states = []
    for fired in seq:
        p.update(np.array([bool(fired), False]))
        states.append(int(p.state[0]))
    assert states == [4, 8, 12, 15, 15, 14, 13, 12]
    assert int(p.state[1]) == 0  # saturates at 0


def test_decision_rule_gt_and_ge():
    # neuron 2 has partners 0 and 1; s1 chosen via frequency bands
    partners = [[-1, -1], [-1, -1], [0, 1]]
    for comparison, s1, s2_bits, expected in [
        (">", 4, (1, 1), True),    # 4 + 12 = 16 > 15
        (">", 3, (1, 1), False),   # 3 + 12 = 15, not > 15
        (">=", 3, (1, 1), True),   # 15 >= 15
        (">", 10, (1, 0), True),   # 10 + 6 = 16
        (">", 9, (0, 1), False),   # 9 + 6 = 15
        (">", 15, (0, 0), False),  # with '>' and s2 = 0 a neuron is never predicted
        (">=", 15, (0, 0), True),
    ]:
        p = HermesPredictor(comparison=comparison)
        p.start(_ctx(3, [0, 0, 0], partners))
        p.state[2] = s1
        truth = np.array([bool(s2_bits[0]), bool(s2_bits[1]), False])
        assert bool(p.predict(truth)[2]) is expected, (comparison, s1, s2_bits)


def test_first_layer_uses_stand_in_s2():
    p = HermesPredictor(first_layer_s2=1)
    p.start(_ctx(2, [0, 0], [[-1, -1], [-1, -1]]))
    p.state[:] = [10, 9]
    assert p.predict(np.zeros(2, bool)).tolist() == [True, False]  # 10 + 6 > 15, 9 + 6 not


def test_state_table_llama7b_is_232_kib():
    # paper: 32 layers x (4096 + 10752) neurons x 4 bits = 232 KiB
    cfg = load_model("tiny-llama").config.model_copy(deep=True)
    arch = cfg.architecture.model_copy(update={"hidden_size": 4096, "ffn_size": 10752,
                                               "num_layers": 32, "num_attention_heads": 32,
                                               "num_kv_heads": 32})
    spec = ModelSpec(ModelConfig(**{**cfg.model_dump(), "architecture": arch.model_dump()}))
    assert hermes_state_table_bytes(spec) == 232 * 1024


def test_bad_options_are_input_errors():
    with pytest.raises(InputError):
        HermesPredictor(comparison="<")
    with pytest.raises(InputError, match="did you mean 'oracle'"):
        make_predictor("oracel")


def test_cost_models_scale_with_model():
    m = load_model("llama2-70b")
    pi = make_predictor("powerinfer").cost(m)
    # PowerInfer Table 6: LLaMA(ReGLU)-70B predictor 5.66B parameters (within 1% after sizing)
    assert abs(pi["params"] - 5.66e9) / 5.66e9 < 0.01
    dv = make_predictor("dejavu").cost(m)
    assert dv["params"] == 80 * 1000 * (8192 + 28672)
    assert make_predictor("hermes").cost(m)["state_table_bytes"] == 80 * (8192 + 28672) // 2
