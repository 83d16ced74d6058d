"""Kernel-time estimates: checked against the closed-form roofline formulas and hand counts."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hermes_hw.gpu import GpuTimingModel, get_profile, kernels

DATASHEET = ("rtx4090", "rtx3090", "t4", "a100-40gb")
ALL = (*DATASHEET, "h100-80gb-hbm3", "h200")


@pytest.fixture(scope="module")
def rtx4090():
    return GpuTimingModel(get_profile("rtx4090"))


def test_gemv_bytes_and_flops_by_hand():
    work = kernels.gemv(rows=4096, cols=1024, batch=2)
    # weights 4096*1024, input 2*1024, output 2*4096 FP16 values; 2 FLOPs per multiply-add
    assert work.nbytes == (4096 * 1024 + 2 * 1024 + 2 * 4096) * 2
    assert work.flops == 2 * 4096 * 1024 * 2


def test_large_gemv_approaches_bytes_over_streaming_bandwidth(rtx4090):
    stream_gbps = 1008 * rtx4090.profile.bandwidth_curve.points[-1][1]  # ~920 GB/s measured
    for n, tol in ((16384, 0.02), (65536, 0.002)):
        est = rtx4090.gemv(n, n)
        ideal = est.nbytes / stream_gbps
        assert est.bound == "memory"
        assert est.time_ns == pytest.approx(ideal, rel=tol)
    big = rtx4090.gemv(65536, 65536)
    assert big.achieved_gbps == pytest.approx(stream_gbps, rel=0.002)


def test_estimate_is_overhead_plus_the_larger_term(rtx4090):
    p = rtx4090.profile
    est = rtx4090.gemv(5120, 5120, batch=4)
    memory_ns = est.nbytes / (1008 * p.bandwidth_curve.at(est.nbytes))
    compute_ns = est.flops / (165.2e3 * p.flops_curve.at(est.flops))  # FP32 accumulate peak
    assert est.memory_ns == pytest.approx(memory_ns)
    assert est.compute_ns == pytest.approx(compute_ns)
    assert est.time_ns == pytest.approx(p.kernel_overhead_ns.value + max(memory_ns, compute_ns))


def test_small_kernels_are_latency_bound(rtx4090):
    # below the bandwidth curve's smallest size a kernel's time no longer depends on its size:
    # kernel overhead + the memory time of the smallest point
    size0, eff0 = rtx4090.profile.bandwidth_curve.points[0]
    floor = rtx4090.profile.kernel_overhead_ns.value + size0 / (1008 * eff0)
    for n in (1, 4, 16, 32):
        tiny = rtx4090.gemv(n, n)
        assert tiny.nbytes < size0
        assert tiny.time_ns == pytest.approx(floor)
        assert tiny.roofline_ns < 0.01 * tiny.time_ns  # the roofline alone would be far too fast


def test_large_gemm_is_compute_bound(rtx4090):
    est = rtx4090.gemm(8192, 8192, 8192)
    assert est.bound == "compute" and est.roofline_bound == "compute"
    cap = rtx4090.profile.flops_curve.points[-1][1]
    assert est.time_ns == pytest.approx(2 * 8192**3 / (165.2e3 * cap), rel=0.01)
    assert est.intensity_flop_per_byte > est.ridge_flop_per_byte


def test_roofline_is_the_datasheet_bound(rtx4090):
    est = rtx4090.gemv(8192, 8192)
    assert est.roofline_ns == pytest.approx(est.nbytes / 1008)
    assert est.ridge_flop_per_byte == pytest.approx(165.2e3 / 1008)


def test_fp16_accumulate_uses_the_higher_peak():
    profile = get_profile("rtx4090")
    fp16 = GpuTimingModel(profile.model_copy(update={"matmul_accumulate": "fp16"}))
    fp32 = GpuTimingModel(profile)
    assert fp32.gemm(8192, 8192, 8192).compute_ns == pytest.approx(
        2 * fp16.gemm(8192, 8192, 8192).compute_ns, rel=0.01)


def test_sparse_gemv_reads_only_the_gathered_rows(rtx4090):
    dense = kernels.gemv(13824, 5120)
    sparse = kernels.sparse_gemv(2764, 5120)
    # rows of 10240 bytes are whole 32-byte sectors; + one int32 index per row
    assert sparse.nbytes == 2764 * 5120 * 2 + 2764 * 4 + (5120 + 2764) * 2
    assert sparse.nbytes < 0.21 * dense.nbytes
    assert rtx4090.sparse_gemv(2764, 5120).time_ns < rtx4090.gemv(13824, 5120).time_ns


def test_gathered_rows_round_up_to_sectors():
    # 20 FP16 values = 40 bytes -> two 32-byte sectors per row
    work = kernels.sparse_gemv(gathered_rows=10, cols=20)
    assert work.nbytes == 10 * 64 + 10 * 4 + (20 + 10) * 2


def test_gather_efficiency_slows_only_the_memory_term():
    profile = get_profile("rtx4090")
    slow = GpuTimingModel(profile.model_copy(update={"gathered_row_efficiency": profile
                                                      .gathered_row_efficiency.model_copy(
                                                          update={"value": 0.5})}))
    fast = GpuTimingModel(profile)
    a, b = slow.sparse_gemv(4096, 8192), fast.sparse_gemv(4096, 8192)
    assert a.memory_ns == pytest.approx(2 * b.memory_ns)
    assert slow.gemv(4096, 8192).time_ns == fast.gemv(4096, 8192).time_ns


def test_attention_decode_reads_the_kv_cache():
    # LLaMA2-70B-like GQA: 64 query heads, 8 KV heads, head_dim 128, 1024 cached tokens
    work = kernels.attention_decode(batch=2, heads=64, kv_len=1024, head_dim=128, kv_heads=8)
    kv = 2 * 2 * 8 * 1024 * 128 * 2  # K and V, batch 2
    qo = 2 * 2 * 64 * 128 * 2  # q in, output out
    assert work.nbytes == kv + qo
    assert work.flops == 4 * 2 * 64 * 1024 * 128
    with pytest.raises(ValueError, match="multiple"):
        kernels.attention_decode(1, 10, 16, 64, kv_heads=3)


def test_attention_time_grows_with_kv_length(rtx4090):
    times = [rtx4090.attention_decode(1, 40, kv, 128).time_ns for kv in (128, 1024, 8192)]
    assert times == sorted(times)


def test_output_projection_is_a_dense_hidden_square(rtx4090):
    assert rtx4090.output_projection(5120, 2).time_ns == rtx4090.gemv(5120, 5120, 2).time_ns


def test_prefill_kernels():
    attn = kernels.prefill_attention(batch=1, heads=40, seq_len=128, head_dim=128)
    assert attn.flops == 4 * 40 * 128 * 128 * 128 / 2  # causal halves the score matrix
    lin = kernels.prefill_linear(tokens=128, rows=5120, cols=5120)
    assert lin.flops == 2 * 128 * 5120 * 5120
    assert lin.nbytes == (128 * 5120 + 5120 * 5120 + 128 * 5120) * 2


def test_shapes_must_be_positive():
    with pytest.raises(ValueError, match="rows must be > 0"):
        kernels.gemv(0, 5)


def test_stream_time_eager_is_launch_bound_for_tiny_kernels():
    profile = get_profile("rtx4090")
    enqueue = 5000.0  # longer than a tiny kernel (about 3.3 us on this profile)
    gpu = GpuTimingModel(profile.model_copy(update={
        "launch_enqueue_ns": profile.launch_enqueue_ns.model_copy(update={"value": enqueue})}))
    tiny = [gpu.elementwise(32) for _ in range(100)]
    assert tiny[0].time_ns < enqueue
    # kernel i starts when it is enqueued at (i + 1) * enqueue: the host is the bottleneck
    assert gpu.stream_time_ns(tiny, eager=True) == pytest.approx(100 * enqueue + tiny[-1].time_ns)
    assert gpu.stream_time_ns(tiny, eager=False) == pytest.approx(sum(e.time_ns for e in tiny))
    big = [gpu.gemv(8192, 8192) for _ in range(10)]  # kernels longer than a launch
    assert gpu.stream_time_ns(big, eager=True) == pytest.approx(
        enqueue + sum(e.time_ns for e in big))


def test_estimate_to_dict_is_json_ready(rtx4090):
    import json

    out = json.loads(json.dumps(rtx4090.gemv(64, 64).to_dict()))
    assert {"time_ns", "roofline_ns", "bound", "achieved_gbps"} <= set(out)


@settings(max_examples=150, deadline=None)
@given(
    name=st.sampled_from(ALL),
    kind=st.sampled_from(["gemv", "sparse", "gemm", "attn", "elem"]),
    a=st.integers(1, 40000),
    b=st.integers(1, 40000),
    c=st.integers(1, 64),
)
def test_estimate_never_beats_the_roofline(name, kind, a, b, c):
    gpu = GpuTimingModel(get_profile(name))
    est = {
        "gemv": lambda: gpu.gemv(a, b, c),
        "sparse": lambda: gpu.sparse_gemv(a, b, c),
        "gemm": lambda: gpu.gemm(c * 64, a, b),
        "attn": lambda: gpu.attention_decode(c, 8, a, 128),
        "elem": lambda: gpu.elementwise(a * b),
    }[kind]()
    assert est.time_ns >= est.roofline_ns
    assert est.time_ns >= gpu.profile.kernel_overhead_ns.value


@settings(max_examples=100, deadline=None)
@given(name=st.sampled_from(DATASHEET), rows=st.integers(1, 60000), cols=st.integers(1, 60000))
def test_more_rows_never_take_less_time(name, rows, cols):
    gpu = GpuTimingModel(get_profile(name))
    assert gpu.gemv(rows + 1, cols).time_ns >= gpu.gemv(rows, cols).time_ns
