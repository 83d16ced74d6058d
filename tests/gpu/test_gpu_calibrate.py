"""Calibration fitting (no GPU needed): recovers a known profile from synthetic timings, refits
the committed H100 measurements exactly, and reports the held-out error."""

import json
import statistics
from pathlib import Path

import pytest
from _gpu_fakebench import (
    D2H,
    ENQUEUE_NS,
    GATHER_EFF,
    H2D,
    INFO,
    OVERHEAD_NS,
    PEAK_BW,
    SYNC_NS,
    FakeBench,
    truth_profile,
)

from hermes_hw.cli.main import main
from hermes_hw.gpu import get_profile
from hermes_hw.gpu.calibrate import (
    device_facts,
    fit_and_write,
    measure_grid,
    measurements_from_json,
    measurements_to_json,
    slug,
)
from hermes_hw.gpu.datasheets import find_datasheet
from hermes_hw.gpu.fit import _merge_points, default_grid, fit_pcie_line, prediction_rows

REPO = Path(__file__).resolve().parents[2]
H100_RAW = REPO / "docs" / "gpu_calibration" / "h100-80gb-hbm3.raw.json"
H200_RAW = REPO / "docs" / "gpu_calibration" / "h200.raw.json"


def _fit(tmp_path, bench=None):
    meas = measure_grid(bench or FakeBench(), default_grid(), log=lambda line: None)
    profile, table = fit_and_write(INFO, meas, out=tmp_path / "p.yaml", table=tmp_path / "t.md",
                                   name=None)
    return meas, profile, table


def test_fit_recovers_the_profile_that_generated_the_timings(tmp_path):
    _, fitted, _ = _fit(tmp_path)
    truth = truth_profile()
    assert fitted.kernel_overhead_ns.value == pytest.approx(OVERHEAD_NS)
    for (s1, e1), (s2, e2) in zip(fitted.bandwidth_curve.points, truth.bandwidth_curve.points,
                                  strict=True):
        assert s1 == s2 and e1 == pytest.approx(e2, abs=1e-4)
    for (s1, e1), (s2, e2) in zip(fitted.flops_curve.points, truth.flops_curve.points,
                                  strict=True):
        assert s1 == s2 and e1 == pytest.approx(e2, abs=1e-4)
    assert fitted.gathered_row_efficiency.value == pytest.approx(GATHER_EFF, abs=1e-3)
    link = fitted.host_link
    assert (link.generation, link.lanes) == (5, 16)  # from nvidia-smi's answer
    assert link.h2d_efficiency == pytest.approx(H2D["efficiency"], abs=1e-4)
    assert link.d2h_efficiency == pytest.approx(D2H["efficiency"], abs=1e-4)
    assert link.latency_ns == pytest.approx(H2D["latency_ns"], abs=0.5)
    assert fitted.launch_enqueue_ns.value == ENQUEUE_NS
    assert fitted.launch_sync_ns.value == SYNC_NS
    # datasheet peaks for an 'H100 80GB HBM3' (SXM5), not the measured rates
    assert fitted.peak_memory_bandwidth_gbps.value == 3350
    assert "datasheet" in fitted.peak_memory_bandwidth_gbps.source


def test_every_case_is_predicted_back_exactly_from_exact_data(tmp_path):
    meas, fitted, table = _fit(tmp_path)
    rows = [r for r in prediction_rows(fitted, meas) if r.error is not None]
    assert len(rows) == len(meas) - 3  # all but the three launch/empty measurements
    assert max(abs(r.error) for r in rows) < 2e-3
    assert table.count("\n| ") > len(rows)


def test_failed_cases_are_reported_not_fitted(tmp_path):
    meas, fitted, _ = _fit(tmp_path, FakeBench(fail=("attention_decode",)))
    assert sum(not m.ok for m in meas) == 6
    header = (tmp_path / "p.yaml").read_text()
    assert "failed: attention_decode" in header
    assert fitted.kernel_overhead_ns.value == pytest.approx(OVERHEAD_NS)


def test_without_the_empty_kernel_the_fit_refuses(tmp_path):
    with pytest.raises(ValueError, match="empty-kernel"):
        _fit(tmp_path, FakeBench(fail=("empty",)))


def test_pcie_line_fit_by_hand():
    samples = [(n, 1500 + n / 40.0) for n in (4096, 65536, 1 << 20, 1 << 24)]
    latency, gbps = fit_pcie_line(samples)
    assert latency == pytest.approx(1500, rel=1e-6) and gbps == pytest.approx(40, rel=1e-6)


def test_device_names():
    assert slug("NVIDIA H100 80GB HBM3") == "h100-80gb-hbm3"
    assert find_datasheet("NVIDIA H100 80GB HBM3").peak_memory_bandwidth_gbps == 3350
    assert find_datasheet("NVIDIA H100 PCIe").peak_memory_bandwidth_gbps == 2000
    assert find_datasheet("NVIDIA A100-SXM4-40GB").peak_memory_bandwidth_gbps == 1555
    assert find_datasheet("NVIDIA GeForce GTX 1080") is None


def test_unknown_device_uses_the_best_measured_rates():
    meas = measure_grid(FakeBench(), default_grid(), log=lambda line: None)
    facts = device_facts({**INFO, "name": "Mystery GPU"}, meas)
    assert facts.name == "mystery-gpu"
    assert "no datasheet entry" in facts.peaks_source
    assert 0 < facts.peak_memory_bandwidth_gbps < 3350  # measured rates stay below the truth


def test_from_raw_round_trip_through_the_cli(tmp_path, capsys):
    meas = measure_grid(FakeBench(), default_grid(), log=lambda line: None)
    raw = tmp_path / "raw.json"
    raw.write_text(measurements_to_json(INFO, meas))
    out, table = tmp_path / "gpu.yaml", tmp_path / "table.md"
    assert main(["gpu", "calibrate", "--from-raw", str(raw), "--out", str(out),
                 "--table", str(table), "--name", "mine"]) == 0
    assert get_profile(str(out)).name == "mine"
    assert "predicted vs measured" in table.read_text()
    assert "All held-out (check) cases" in capsys.readouterr().out


def test_prefill_attention_case_work_by_hand():
    """batch 1, 40 heads, 128 tokens, head dim 128, causal: Q, K, V, O of 128 x 40 x 128 FP16
    = 4 x 1,310,720 B; FLOPs 4 x 40 x 128^2 x 128 / 2 (causal half)."""
    from hermes_hw.gpu.fit import BenchCase, work_of

    case = next(c for c in default_grid() if c.kernel == "prefill_attention"
                and c.shape == {"batch": 1, "heads": 40, "seq_len": 128, "head_dim": 128})
    work = work_of(case)
    assert case.role == "check"
    assert work.nbytes == 4 * 128 * 40 * 128 * 2 == 5_242_880
    assert work.flops == 4 * 40 * 128**2 * 128 / 2
    assert work_of(BenchCase("prefill_attention", {"batch": 2, "heads": 8, "seq_len": 64,
                                                   "head_dim": 64})).flops == 4 * 2 * 8 * 64**3 / 2


def test_validate_gpu_reports_a_profile_against_recorded_times(tmp_path, capsys):
    """The profile that generated the times predicts them back; one with twice the memory
    bandwidth predicts a memory-bound GEMV's body (time - overhead) at half: hand-worked."""
    from hermes_hw.gpu.profile import profile_to_yaml

    meas = measure_grid(FakeBench(), default_grid(), log=lambda line: None)
    raw = tmp_path / "raw.json"
    raw.write_text(measurements_to_json(INFO, meas))
    truth = truth_profile()
    (tmp_path / "truth.yaml").write_text(profile_to_yaml(truth))
    assert main(["validate", "gpu", str(raw), "--profile", str(tmp_path / "truth.yaml")]) == 0
    out = capsys.readouterr().out
    assert "All timed cases" in out and "max 0.0%" in out.splitlines()[-1]

    fast = truth.model_copy(update={"peak_memory_bandwidth_gbps": truth.peak_memory_bandwidth_gbps
                                    .model_copy(update={"value": 2 * PEAK_BW})})
    (tmp_path / "fast.yaml").write_text(profile_to_yaml(fast))
    assert main(["validate", "gpu", str(raw), "--profile", str(tmp_path / "fast.yaml")]) == 0
    big = next(m for m in meas if m.case.kernel == "gemv" and m.case.shape["rows"] == 16384)
    expected = (OVERHEAD_NS + (big.time_ns - OVERHEAD_NS) / 2 - big.time_ns) / big.time_ns
    row = next(line for line in capsys.readouterr().out.splitlines()
               if line.startswith("| gemv | rows=16384 cols=16384 batch=1 |"))
    assert row.split("|")[7].strip() == f"{100 * expected:+.1f}%"


def test_bad_raw_file_is_a_clear_error(tmp_path, capsys):
    bad = tmp_path / "raw.json"
    bad.write_text(json.dumps({"device": {}, "measurements": []}))
    rc = main(["gpu", "calibrate", "--from-raw", str(bad), "--out", str(tmp_path / "x.yaml")])
    err = capsys.readouterr().err
    assert rc == 2 and "missing required field 'device.name'" in err
    assert not (tmp_path / "x.yaml").exists()


@pytest.mark.parametrize(("raw", "name"), [(H100_RAW, "h100-80gb-hbm3"), (H200_RAW, "h200")])
def test_committed_profile_is_the_fit_of_the_committed_measurements(tmp_path, raw, name):
    info, meas = measurements_from_json(raw)
    refit, _ = fit_and_write(info, meas, out=tmp_path / "h.yaml", table=None, name=None)
    assert refit == get_profile(name)


def test_a_smaller_kernel_slower_than_a_larger_one_is_pooled_with_it():
    """Curve points are (size, eff) with time proportional to size / eff. Hand-worked cases of
    the monotone least-squares fit in log-time (pool adjacent violators)."""
    def times(points):
        return [s / e for s, e in _merge_points(points)]

    # times 1, 3, 4: already non-decreasing, kept
    assert times([(1.0, 1.0), (2.0, 2 / 3), (4.0, 1.0)]) == pytest.approx([1, 3, 4], rel=1e-4)
    # times 2, 6, 4: the middle point is slower than the larger one; both become sqrt(6 x 4)
    pooled = (6 * 4) ** 0.5
    assert times([(1.0, 0.5), (2.0, 1 / 3), (4.0, 1.0)]) == pytest.approx([2, pooled, pooled],
                                                                        rel=1e-4)
    # two measurements at size 2 weigh twice: 6^(2/3) x 4^(1/3)
    pooled = (6 * 6 * 4) ** (1 / 3)
    assert times([(1.0, 0.5), (2.0, 1 / 3), (2.0, 1 / 3), (4.0, 1.0)]) == pytest.approx(
        [2, pooled, pooled], rel=1e-4)


@pytest.mark.parametrize(("raw", "name"), [(H100_RAW, "h100-80gb-hbm3"), (H200_RAW, "h200")])
def test_held_out_error_is_recorded_and_bounded(raw, name):
    """Validation on the committed measurements (docs/gpu_model.md has the whole tables)."""
    info, meas = measurements_from_json(raw)
    rows = prediction_rows(get_profile(name), meas)
    by_kernel: dict[str, list[float]] = {}
    for r in rows:
        if r.error is not None and r.case.role == "check":
            by_kernel.setdefault(r.case.kernel, []).append(abs(r.error))
    for kernel in ("gemv", "gemm", "memcpy_h2d", "memcpy_d2h", "sparse_gemv"):
        assert statistics.median(by_kernel[kernel]) < 0.10, kernel
    assert statistics.median(by_kernel["attention_decode"]) < 0.15
