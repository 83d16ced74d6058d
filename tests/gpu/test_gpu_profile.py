"""GPU profiles: schema, citations, error messages with key paths, registry look-up."""

import math

import pytest
import yaml

from hermes_hw.errors import InputError
from hermes_hw.gpu import (
    CitedFloat,
    EfficiencyCurve,
    GpuProfile,
    get_profile,
    list_profiles,
    load_profile_file,
    profile_from_dict,
)
from hermes_hw.gpu.profile import profile_to_yaml
from hermes_hw.gpu.registry import gpus_dir

BUILTIN = ("rtx4090", "rtx3090", "t4", "a100-40gb", "h100-80gb-hbm3", "h200")


def _raw(name: str) -> dict:
    return yaml.safe_load((gpus_dir() / f"{name}.yaml").read_text())


def test_every_issue_gpu_has_a_builtin_profile():
    assert set(BUILTIN) <= set(list_profiles())


@pytest.mark.parametrize("name", BUILTIN)
def test_every_number_in_a_profile_cites_a_source(name):
    profile = get_profile(name)
    assert profile.name == name
    for key in GpuProfile.model_fields:
        value = getattr(profile, key)
        if hasattr(value, "source"):
            assert len(value.source) > 10, f"{name}.{key} has no real citation"


def test_paper_and_datasheet_peaks():
    # Hermes paper §3 / peers.md §5: 4090 330 TFLOPS FP16-acc, 165.2 FP32-acc, 1008 GB/s datasheet.
    p = get_profile("rtx4090")
    assert p.peak_fp16_tensor_tflops.value == pytest.approx(330, rel=0.01)
    assert p.peak_fp16_tensor_fp32acc_tflops.value == pytest.approx(165.2)
    assert p.peak_memory_bandwidth_gbps.value == 1008
    assert p.bandwidth_curve.points[-1][1] == pytest.approx(920 / 1008, abs=1e-3)  # measured
    assert get_profile("rtx3090").peak_fp16_tensor_tflops.value == 142
    assert get_profile("t4").peak_memory_bandwidth_gbps.value == 320
    assert get_profile("t4").host_link.generation == 3


def test_missing_field_is_an_input_error_naming_the_key_path():
    data = _raw("rtx4090")
    del data["peak_memory_bandwidth_gbps"]
    with pytest.raises(InputError) as err:
        profile_from_dict(data, source="my.yaml")
    assert str(err.value) == "my.yaml: missing required field 'peak_memory_bandwidth_gbps'"


def test_missing_nested_field_names_the_nested_path():
    data = _raw("t4")
    del data["flops_curve"]["source"]
    data["bandwidth_curve"]["points"][2] = [100.0, 1.5]
    with pytest.raises(InputError) as err:
        profile_from_dict(data, source="t4.yaml")
    msg = str(err.value)
    assert "missing required field 'flops_curve.source'" in msg
    assert "'bandwidth_curve.points'" in msg and "(0, 1]" in msg
    assert "\n" not in msg


def test_unknown_field_and_bad_type_are_rejected():
    data = _raw("t4")
    data["peak_bandwith_gbps"] = 1
    data["sm_count"] = {"value": "many", "source": "a datasheet"}
    with pytest.raises(InputError) as err:
        profile_from_dict(data)
    assert "unknown field 'peak_bandwith_gbps'" in str(err.value)
    assert "'sm_count.value'" in str(err.value)


def test_curve_sizes_must_increase():
    with pytest.raises(ValueError, match="strictly increasing"):
        EfficiencyCurve(points=[(10, 0.5), (10, 0.6)], source="a test")


def test_curve_interpolates_in_log_log_and_is_flat_outside():
    curve = EfficiencyCurve(points=[(1e3, 0.1), (1e5, 0.4)], source="a test")
    assert curve.at(1e4) == pytest.approx(0.2)  # geometric midpoint -> geometric mean
    assert curve.at(10 ** 3.5) == pytest.approx(0.1 * 4**0.25)
    assert curve.at(1.0) == 0.1 and curve.at(1e9) == 0.4


def test_curve_may_not_make_a_larger_kernel_faster():
    with pytest.raises(ValueError, match="larger kernel would take less time"):
        EfficiencyCurve(points=[(1e3, 0.01), (2e3, 0.05)], source="a test")


def test_yaml_syntax_error_names_the_line(tmp_path):
    bad = tmp_path / "x.yaml"
    bad.write_text("name: x\nmemory_capacity_gib: {value: 1\n  source: [\n")
    with pytest.raises(InputError, match=r"x\.yaml:\d+: not valid YAML"):
        load_profile_file(bad)


def test_unknown_gpu_name_gives_the_closest_match():
    with pytest.raises(InputError) as err:
        get_profile("rtx4909")
    assert "did you mean 'rtx4090'?" in str(err.value)
    assert "a100-40gb" in str(err.value)  # the valid choices are listed


def test_profile_file_by_path_and_yaml_round_trip(tmp_path):
    original = get_profile("a100-40gb")
    path = tmp_path / "mine.yaml"
    path.write_text(profile_to_yaml(original, "a header\nline two"))
    assert path.read_text().startswith("# a header\n# line two\n")
    assert get_profile(str(path)) == original


def test_missing_profile_file():
    with pytest.raises(InputError, match="not found"):
        get_profile("/nonexistent/gpu.yaml")


def test_defaults_cite_their_sources():
    data = _raw("rtx4090")
    for key in ("gathered_row_efficiency", "kernel_overhead_ns", "launch_enqueue_ns",
                "launch_sync_ns", "host_link"):
        del data[key]
    profile = profile_from_dict(data)
    assert profile.launch_sync_ns.value == 6400  # peers.md §5: 6.4 us launch + sync
    assert "peers.md" in profile.launch_sync_ns.source
    assert profile.host_link.generation == 4 and profile.host_link.lanes == 16


def test_cited_values_must_be_positive():
    with pytest.raises(ValueError):
        CitedFloat(value=0, source="a datasheet")
    assert math.isfinite(CitedFloat(value=1e-3, source="a datasheet").value)
