"""`hermes gpu`: show / estimate / calibrate, and the bad-input contract (one line, exit 2)."""

import json
import subprocess
import sys

import pytest
import yaml

from hermes_hw.cli.main import main
from hermes_hw.gpu import GpuTimingModel, get_profile
from hermes_hw.gpu.registry import gpus_dir


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hermes_hw", *args], capture_output=True,
                          text=True)


def test_list_and_show(capsys):
    assert main(["gpu", "list"]) == 0
    assert "rtx4090" in capsys.readouterr().out
    assert main(["gpu", "show", "rtx4090"]) == 0
    out = capsys.readouterr().out
    assert "peak_memory_bandwidth_gbps" in out and "1008" in out
    assert "peers.md" in out  # sources are shown beside the values
    assert main(["gpu", "show", "t4", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["name"] == "t4"


def test_estimate_prints_the_models_numbers(capsys):
    assert main(["gpu", "estimate", "--gpu", "rtx4090", "--kernel", "gemv", "--rows", "4096",
                 "--cols", "4096", "--batch", "1"]) == 0
    out = capsys.readouterr().out
    est = GpuTimingModel(get_profile("rtx4090")).gemv(4096, 4096, 1)
    assert f"estimate  {est.time_ns / 1e3:10.3f} us" in out
    assert f"roofline  {est.roofline_ns / 1e3:10.3f} us" in out
    assert "memory-bound" in out


def test_estimate_json_for_every_kernel(capsys):
    shapes = {
        "gemv": ["--rows", "64", "--cols", "64"],
        "gemm": ["--m", "64", "--n", "64", "--k", "64"],
        "sparse_gemv": ["--gathered-rows", "64", "--cols", "64", "--batch", "4"],
        "output_projection": ["--hidden", "64"],
        "attention_decode": ["--heads", "8", "--kv-len", "64", "--head-dim", "64",
                             "--kv-heads", "2"],
        "prefill_attention": ["--heads", "8", "--seq-len", "128", "--head-dim", "64"],
        "prefill_linear": ["--tokens", "128", "--rows", "64", "--cols", "64"],
        "elementwise": ["--n-elements", "4096"],
    }
    for kernel, args in shapes.items():
        assert main(["gpu", "estimate", "--gpu", "t4", "--kernel", kernel, *args, "--json"]) == 0
        data = json.loads(capsys.readouterr().out)
        assert data["kernel"] == kernel and data["time_ns"] >= data["roofline_ns"] > 0


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--gpu", "rtx4909"], "did you mean 'rtx4090'?"),
        (["--kernel", "gemvv", "--rows", "4"], "did you mean 'gemv'?"),
        (["--kernel", "gemv", "--rows", "4"], "--kernel gemv needs --cols"),
        (["--kernel", "gemv", "--rows", "4", "--cols", "4", "--heads", "2"],
         "--kernel gemv does not take --heads"),
        (["--kernel", "gemv", "--rows", "0", "--cols", "4"], "expected a positive integer"),
        (["--kernel", "attention_decode", "--heads", "10", "--kv-len", "8", "--head-dim", "8",
          "--kv-heads", "3"], "multiple of kv_heads"),
    ],
)
def test_estimate_bad_input_is_one_line_exit_2(args, expected):
    proc = _run("gpu", "estimate", *args)
    assert proc.returncode == 2
    assert expected in proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""


def test_profile_missing_a_field_is_one_line_exit_2(tmp_path):
    data = yaml.safe_load((gpus_dir() / "rtx4090.yaml").read_text())
    del data["peak_fp16_tensor_fp32acc_tflops"]
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(data))
    proc = _run("gpu", "show", str(path))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip() == (
        f"hermes: error: {path}: missing required field 'peak_fp16_tensor_fp32acc_tflops'")


def test_calibrate_without_torch_or_cuda_fails_with_one_line(tmp_path):
    try:
        import torch

        if torch.cuda.is_available():
            pytest.skip("a CUDA GPU is present: calibrate would run")
    except ImportError:
        pass
    out = tmp_path / "x.yaml"
    proc = _run("gpu", "calibrate", "--out", str(out))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "needs PyTorch with a CUDA GPU" in lines[0]
    assert not out.exists()


def test_gpu_and_interconnect_import_without_torch_or_the_c_extension():
    code = (
        "import sys\n"
        "sys.modules['ramulator_bridge'] = None\n"  # any import of the C bridge would fail
        "sys.modules['torch'] = None\n"
        "import hermes_hw.gpu, hermes_hw.interconnect, hermes_hw.gpu.fit, hermes_hw.cli.gpu\n"
        "m = hermes_hw.gpu.GpuTimingModel(hermes_hw.gpu.get_profile('rtx4090'))\n"
        "print(round(m.gemv(4096, 4096).time_ns))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert int(proc.stdout) > 0
