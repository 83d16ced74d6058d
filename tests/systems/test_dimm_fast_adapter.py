"""The timeline's fast DIMM model fits the same coefficients as issue 4's fast mode."""

from __future__ import annotations

from hermes_hw.lowering.driver import lower_to_dir, workload_tokens
from hermes_hw.ndp.config import parse_system
from hermes_hw.ndp.fast import coefficients
from hermes_hw.paths import configs_dir
from hermes_hw.systems.config import load_system_config
from hermes_hw.systems.dimm_fast import _fit_coefficients, ndp_unit_for
from hermes_hw.workload.models import load_model


def test_adapter_coefficients_equal_the_fast_modes_classes(tmp_path, monkeypatch):
    # the adapter lowers its one token from memory with the homes it collected; `hermes lower`
    # runs the workload twice (homes, then lowering): the traces, and so the fits, must agree
    monkeypatch.setenv("HERMES_CACHE_DIR", str(tmp_path / "cache"))
    model = load_model("tiny-llama")
    cfg = load_system_config("hermes")
    system = parse_system({"dram": str(configs_dir() / cfg.dram_config),
                           "n_dimms": cfg.n_dimms, "unit": ndp_unit_for(cfg.ndp)},
                          source="test")
    tokens = workload_tokens(model, tokens=1, prompt_tokens=16, batch=2, seed=0,
                             n_dimms=system.n_dimms)
    out = tmp_path / "trace"
    lower_to_dir(model, system, tokens, out, batch=2, prompt_tokens=16, decode_tokens=1)
    full = coefficients(str(out))["classes"]
    adapter = _fit_coefficients(model, system, batch=2, prompt_tokens=16, seed=0)
    assert adapter == full
