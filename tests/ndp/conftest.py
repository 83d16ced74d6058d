"""Shared helpers: a small NDP system on the tiny models, hand-made work lists."""

from __future__ import annotations

import numpy as np
import pytest

from hermes_hw.lowering.work import BlockWork, TokenInput
from hermes_hw.ndp.config import NdpSystemConfig
from hermes_hw.workload.models import load_model


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HERMES_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture
def tiny():
    return load_model("tiny-opt")


def system(n_dimms: int = 2, **layout) -> NdpSystemConfig:
    return NdpSystemConfig(n_dimms=n_dimms, layout=layout)


def homes_mod(model, n_dimms: int) -> list[np.ndarray]:
    """Neuron i of every block homed on DIMM i % n_dimms."""
    return [(np.arange(g.count) % n_dimms).astype(np.int8) for g in model.blocks]


def token(model, step: int, prompt: int, active: dict[int, list[np.ndarray]],
          extra: dict | None = None) -> TokenInput:
    """TokenInput with ``active[b][j]`` neurons on DIMM j of block b (others empty)."""
    n = len(next(iter(active.values()))) if active else 2
    blocks = []
    for b in range(len(model.blocks)):
        lists = active.get(b, [np.zeros(0, np.int64)] * n)
        blocks.append(BlockWork(block=b, dimm_neurons=tuple(np.asarray(x, np.int64)
                                                            for x in lists),
                                **(extra or {}).get(b, {})))
    return TokenInput(token=step, context_tokens=prompt + step + 1, blocks=tuple(blocks))
