"""The Hermes builder writes each work sample's token as a program and runs it per token
(hermes_hw/timeline/program.py): the timeline must be exactly the one built token by token."""

from __future__ import annotations

import pytest

from hermes_hw.systems import hermes, simulate
from hermes_hw.systems.base import RunOptions

COLUMNS = ("lane_order", "lane_idx", "names", "cat_idx", "starts", "ends", "phases", "tokens",
           "layers", "preds", "args")


@pytest.mark.parametrize("model,system,batch,overrides", [
    ("tiny-llama", "hermes", 3, None),  # remapping windows, promotions
    ("tiny-opt", "hermes-host", 1, None),
    ("tiny-opt", "hermes-host", 2, {"host": {"attention": "dense_gpu_first"}}),
    ("tiny-llama", "hermes-host", 1,
     {"host": {"predictor": "powerinfer_mlp", "predictor_share": 0.07}}),
])
def test_programs_give_the_token_by_token_timeline(monkeypatch, model, system, batch,
                                                   overrides):
    run = RunOptions(input_tokens=16, output_tokens=40)  # 39 decode steps over 16 samples
    monkeypatch.setattr(hermes._Flow, "replay_tokens", False)
    direct = simulate(model, system, batch, overrides=overrides, run=run)
    monkeypatch.setattr(hermes._Flow, "replay_tokens", True)
    programmed = simulate(model, system, batch, overrides=overrides, run=run)
    for col in COLUMNS:
        assert getattr(direct.timeline, col) == getattr(programmed.timeline, col), col
    assert direct.tokens_per_s == programmed.tokens_per_s
