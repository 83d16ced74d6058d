"""End-to-end workload runs: work-list consistency, determinism, remapping, CLI contract."""

import json

import numpy as np
import pytest

from hermes_hw.cli.main import main
from hermes_hw.workload.models import load_model
from hermes_hw.workload.pipeline import Workload, WorkloadOptions


def _run(model="tiny-llama", **kw):
    opts = WorkloadOptions(prompt_tokens=kw.pop("prompt_tokens", 20),
                           decode_tokens=kw.pop("decode_tokens", 20), **kw)
    w = Workload(load_model(model), opts)
    works = list(w.run())
    return w, works


def test_work_lists_match_predictions_and_placement():
    w, works = _run()
    assert len(works) == 20
    tr, model = w.trace, w.model
    for tok in works[:3]:
        t = tr.prompt_tokens + tok.token
        for b, lw in enumerate(tok.blocks()):
            truth_ids = set(tr.model_ids(b)[tr.block_masks(b)[t]].tolist())
            computed = set(lw.gpu_neurons.tolist())
            for ids in lw.dimm_neurons:
                assert not computed & set(ids.tolist())  # each neuron computed once
                computed |= set(ids.tolist())
            missed = set(lw.missed_neurons.tolist())
            assert missed <= truth_ids and not missed & computed
            assert len(lw.dimm_neurons) == 8
            assert lw.bytes_per_neuron == model.blocks[b].bytes_per_neuron
            assert lw.pcie_bytes == len(lw.promoted_neurons) * lw.bytes_per_neuron


def test_report_counts_are_consistent():
    w, works = _run()
    r = w.report
    # predicted-active counted in the report equals the work lists' total
    total = sum(len(lw.gpu_neurons) + sum(len(x) for x in lw.dimm_neurons)
                for tok in works for lw in tok.blocks())
    assert total == r.pred_active.sum()
    tp_fp = r.metrics.tp.sum() + r.metrics.fp.sum()
    assert tp_fp == total
    pcie = sum(lw.pcie_bytes for tok in works for lw in tok.blocks())
    assert pcie == r.pcie_bytes.sum()
    link = sum(lw.dimm_link_bytes for tok in works for lw in tok.blocks())
    assert link == r.dimm_link_bytes.sum()


def test_deterministic_report():
    a = _run(seed=5)[0].report.totals()
    b = _run(seed=5)[0].report.totals()
    a.pop("placement_seconds"), b.pop("placement_seconds")  # wall-clock time
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def test_oracle_is_perfect_and_hermes_is_good():
    oracle = _run(predictor="oracle")[0].report.totals()
    assert oracle["recall"] == 1.0 and oracle["precision"] == 1.0
    hermes = _run()[0].report.totals()
    assert hermes["recall"] > 0.8 and hermes["precision"] > 0.8


def test_remapping_balances_the_window_it_sees():
    w, _ = _run("llama2-13b", prompt_tokens=16, decode_tokens=20, build_worklists=False)
    t = w.report.totals()
    assert t["imbalance_in_window"] < 1.05 < t["imbalance_no_remap"]
    assert t["dimm_link_bytes_per_token"] > 0


def test_no_remap_no_adjust_move_nothing():
    w, _ = _run(adjust=False, remap=False)
    t = w.report.totals()
    assert t["pcie_bytes_per_token"] == 0 and t["dimm_link_bytes_per_token"] == 0


def test_cli_workload_prints_table(capsys):
    assert main(["workload", "--model", "tiny-llama", "--tokens", "12", "--prompt", "8"]) == 0
    out = capsys.readouterr().out
    for word in ("sparsity", "recall", "GPU share", "imb. static", "imb. remap"):
        assert word in out


def test_cli_workload_json_and_stats(capsys):
    assert main(["workload", "--model", "tiny-opt", "--tokens", "10", "--prompt", "8",
                 "--json", "--placement", "greedy"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["model"] == "tiny-opt" and len(data["groups"]) == 8
    assert main(["workload", "--model", "tiny-opt", "--tokens", "30", "--generator-stats"]) == 0
    assert "adjacent-token overlap" in capsys.readouterr().out


@pytest.mark.parametrize("argv,needle", [
    (["--model", "llama2-7b"], "did you mean"),
    (["--model", "tiny-opt", "--predictor", "hermez"], "did you mean 'hermes'"),
    (["--model", "tiny-opt", "--placement", "ilpp"], "did you mean 'ilp'"),
    (["--model", "tiny-opt", "--activations", "masks"], "needs --masks"),
    (["--model", "tiny-opt", "--window", "0"], "window"),
])
def test_cli_bad_input_exits_2(capsys, argv, needle):
    assert main(["workload", *argv]) == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1


def test_cli_masks_file(tmp_path, capsys):
    from hermes_hw.workload.activations.imports import save_masks

    rng = np.random.default_rng(0)
    path = tmp_path / "m.npz"
    save_masks(path, rng.random((20, 4, 256)) < 0.1, rng.random((20, 4, 64)) < 0.5,
               prompt_tokens=10)
    assert main(["workload", "--model", "tiny-opt", "--activations", "masks", "--masks",
                 str(path), "--groups", "2"]) == 0
    assert "recall" in capsys.readouterr().out
