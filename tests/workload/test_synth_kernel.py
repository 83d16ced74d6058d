"""The synthetic source's C kernel against the chain rule of its docstring, element by element;
its PCG64 against numpy's; the one-call-per-request path against the numpy-raws path it replaced;
and the trace's independence of the number of generation threads. The kernel's chain loop has
three paths (plain C, SSE2, AVX2; ``hs_set_simd_level``): every kernel test runs on each path
this machine has, and the paths are compared with each other."""

from __future__ import annotations

import contextlib
import platform
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hermes_hw.workload.activations.base import BlockLayout
from hermes_hw.workload.activations.synthetic import generator
from hermes_hw.workload.activations.synthetic.calibration import persistence_from_targets
from hermes_hw.workload.activations.synthetic.generator import SyntheticSource
from hermes_hw.workload.models.loader import load_model
from ramulator_bridge import synth_lib

# hs_set_simd_level's levels (synth.h: HS_SIMD_C, HS_SIMD_SSE2, HS_SIMD_AVX2, HS_SIMD_IFMA)
LEVELS = {"c": 0, "sse2": 1, "avx2": 2, "ifma": 3}


@contextlib.contextmanager
def _simd(name):
    """Run the kernel at level ``name`` (skip the test where this machine lacks it)."""
    lib = synth_lib()[1]
    try:
        if lib.hs_set_simd_level(LEVELS[name]) != LEVELS[name]:
            pytest.skip(f"this machine has no {name} path")
        yield
    finally:
        lib.hs_set_simd_level(-1)


def _cpu_flags() -> set[str]:
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.exists():
        return set()
    for line in cpuinfo.read_text().splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


@pytest.mark.skipif(platform.machine() != "x86_64" or not _cpu_flags(),
                    reason="needs Linux on x86-64 to read the CPU's flags")
def test_best_level_is_the_cpus_best():
    """x86-64 always has SSE2; AVX2 where /proc/cpuinfo lists it, the IFMA draws where it also
    lists avx512f and avx512ifma (the GCC/Clang build)."""
    lib = synth_lib()[1]
    flags = _cpu_flags()
    expected = (LEVELS["ifma"] if {"avx2", "avx512f", "avx512ifma"} <= flags
                else LEVELS["avx2"] if "avx2" in flags else LEVELS["sse2"])
    assert lib.hs_set_simd_level(-1) == expected == lib.hs_simd_level()
    assert lib.hs_set_simd_level(LEVELS["c"]) == LEVELS["c"] == lib.hs_simd_level()
    assert lib.hs_set_simd_level(99) == expected  # a request above the best gets the best
    lib.hs_set_simd_level(-1)


def _reference(w, inherit, couple_thr, parent, fresh, fire0, keep_thr, state):
    """The rule written out per element: pair k of row t takes the parent's lane 2k if its
    byte < couple_thr; then keep the previous state if w < keep_thr, else fire iff w < fresh;
    the first row without a state fires iff w < fire0."""
    w = w.astype(np.int64).copy()
    tokens, n = w.shape
    if inherit is not None:
        for t in range(tokens):
            for k in range(n // 2):
                if inherit[t, k] < couple_thr:
                    w[t, 2 * k] = w[t, 2 * k + 1] = parent[t, 2 * k]
    out = np.zeros((tokens, n), dtype=bool)
    prev = None if state is None else np.unpackbits(state, bitorder="little")[:n].astype(bool)
    for t in range(tokens):
        if prev is None:
            row = w[t] < fire0
        else:
            row = np.where(w[t] < keep_thr, prev, w[t] < fresh)
        out[t] = prev = row
    return w, out


def _kernel(w, inherit, couple_thr, parent, fresh, fire0, keep_thr, state):
    ffi, lib = synth_lib()
    tokens, n = w.shape
    nbytes = (n + 7) // 8
    w = np.ascontiguousarray(w, dtype=np.uint16).copy()
    st_buf = np.zeros(nbytes, np.uint8) if state is None else state.copy()
    dest = np.zeros((tokens, nbytes + 3), np.uint8)  # wider rows: the stride is honoured
    dest[:, nbytes:] = 0xA5  # must stay untouched
    p = ffi.from_buffer
    lib.hs_markov_block(
        ffi.cast("uint16_t *", p(w)),
        ffi.NULL if inherit is None else ffi.cast("uint8_t *", p(np.ascontiguousarray(inherit))),
        couple_thr,
        ffi.NULL if inherit is None else ffi.cast("uint16_t *", p(np.ascontiguousarray(parent))),
        ffi.cast("uint16_t *", p(fresh)), ffi.cast("uint16_t *", p(fire0)), keep_thr,
        ffi.cast("uint8_t *", p(st_buf)), int(state is not None),
        ffi.cast("uint8_t *", p(dest)), dest.shape[1], tokens, n)
    assert (dest[:, nbytes:] == 0xA5).all()
    bits = np.unpackbits(dest[:, :nbytes], axis=1, bitorder="little")[:, :n].astype(bool)
    assert (np.unpackbits(dest[:, :nbytes], axis=1, bitorder="little")[:, n:] == 0).all()
    return w, bits, st_buf


def _chain_case(tokens, n, coupled, has_state, keep, seed):
    """Random inputs of hs_markov_block (fresh >= keep, as the generator's)."""
    rng = np.random.default_rng(seed)
    coupled = coupled and n % 2 == 0
    w = rng.integers(0, 65536, (tokens, n), dtype=np.uint16)
    p = rng.random(n)
    q = keep / 65536
    fire0 = np.minimum(np.floor(p * 65536), 65535).astype(np.uint16)
    fresh = np.maximum(np.minimum(np.floor((q + (1 - q) * p) * 65536), 65535),
                       keep).astype(np.uint16)  # fresh >= keep, as the generator's
    parent = rng.integers(0, 65536, (tokens, n), dtype=np.uint16) if coupled else None
    inherit = rng.integers(0, 256, (tokens, n // 2), dtype=np.uint8) if coupled else None
    state = rng.integers(0, 256, (n + 7) // 8, dtype=np.uint8) if has_state else None
    if state is not None and n % 8:
        state[-1] &= (1 << (n % 8)) - 1  # padding bits of a packed state are zero
    return w, inherit, parent, fresh, fire0, state


CHAIN_CASES = dict(tokens=st.integers(1, 5), n=st.integers(1, 130), coupled=st.booleans(),
                   has_state=st.booleans(), keep=st.integers(0, 65535),
                   couple=st.integers(0, 255), seed=st.integers(0, 2**32 - 1))


@pytest.mark.parametrize("level", list(LEVELS))
@settings(max_examples=60, deadline=None)
@given(**CHAIN_CASES)
def test_kernel_follows_the_chain_rule(level, tokens, n, coupled, has_state, keep, couple, seed):
    w, inherit, parent, fresh, fire0, state = _chain_case(tokens, n, coupled, has_state, keep,
                                                          seed)
    ref_w, ref_bits = _reference(w, inherit, couple, parent, fresh, fire0, keep, state)
    with _simd(level):
        got_w, got_bits, got_state = _kernel(w, inherit, couple, parent, fresh, fire0, keep,
                                             state)
    np.testing.assert_array_equal(got_w, ref_w)
    np.testing.assert_array_equal(got_bits, ref_bits)
    np.testing.assert_array_equal(
        np.unpackbits(got_state, bitorder="little")[:n].astype(bool), ref_bits[-1])


@settings(max_examples=60, deadline=None)
@given(**CHAIN_CASES)
def test_kernel_paths_agree(tokens, n, coupled, has_state, keep, couple, seed):
    """The chain loops (AVX2, SSE2, plain C) give the same uniforms, bits and state."""
    case = _chain_case(tokens, n, coupled, has_state, keep, seed)
    w, inherit, parent, fresh, fire0, state = case
    results = {}
    lib = synth_lib()[1]
    for level in LEVELS:
        if lib.hs_set_simd_level(LEVELS[level]) == LEVELS[level]:
            results[level] = _kernel(w, inherit, couple, parent, fresh, fire0, keep, state)
    lib.hs_set_simd_level(-1)
    assert {"c", "sse2"} <= set(results) or platform.machine() != "x86_64"
    first, *others = results.values()
    for other in others:
        for got, ref in zip(other, first, strict=True):
            np.testing.assert_array_equal(got, ref)


@pytest.mark.parametrize("extra_bytes", [1 << 30, 0])  # 0: no room for extra buffers
def test_trace_does_not_depend_on_the_thread_count(monkeypatch, extra_bytes):
    model = load_model("tiny-llama")
    traces = []
    monkeypatch.setattr(generator, "_EXTRA_BUFFER_BYTES", extra_bytes)
    for threads in (1, 3):
        monkeypatch.setattr(generator, "_MAX_THREADS", threads)
        monkeypatch.setattr(generator.os, "cpu_count", lambda: 8)
        traces.append(SyntheticSource().trace(model, prompt_tokens=6, decode_tokens=3, batch=5,
                                              seed=7).bits)
    np.testing.assert_array_equal(traces[0], traces[1])
    assert traces[0].any()


# -- the C copy of numpy's PCG64 ------------------------------------------------------------------

def _pcg_words(bit_generator) -> np.ndarray:
    raw = bit_generator.state["state"]
    low = (1 << 64) - 1
    return np.array([raw["state"] >> 64, raw["state"] & low, raw["inc"] >> 64, raw["inc"] & low],
                    dtype=np.uint64)


@pytest.mark.parametrize("level", ["c", "ifma"])  # plain 64-bit draws / AVX-512 IFMA draws
@pytest.mark.parametrize("seed", [0, 1, 2**63 + 5, [7, 3]])
@pytest.mark.parametrize("count", [0, 1, 2, 3, 4, 5, 7, 8, 9, 11, 15, 16, 17, 31, 32, 33, 1001,
                                   4099])
def test_c_pcg64_draws_numpys_raws_and_leaves_its_state(level, seed, count):
    ffi, lib = synth_lib()
    rng = np.random.default_rng(seed)
    rng.standard_normal(3)  # start from a state that is not the seeding one
    pcg = _pcg_words(rng.bit_generator)
    out = np.full(count + 1, 0xDEAD, np.uint64)  # one guard word past the end
    with _simd(level):
        lib.hs_pcg64_raw(ffi.from_buffer("uint64_t[]", pcg), ffi.from_buffer("uint64_t[]", out),
                         count)
    np.testing.assert_array_equal(out[:count], rng.bit_generator.random_raw(count))
    assert out[count] == 0xDEAD
    np.testing.assert_array_equal(pcg, _pcg_words(rng.bit_generator))


def test_advancing_numpy_by_the_drawn_count_matches_drawing():
    drawn = np.random.default_rng(11)
    drawn.bit_generator.random_raw(12345)
    advanced = np.random.default_rng(11)
    advanced.bit_generator.advance(12345)
    assert advanced.bit_generator.state == drawn.bit_generator.state
    assert advanced.integers(0, 2**63) == drawn.integers(0, 2**63)


# -- hs_synth_request against the numpy-raws path (random_raw + hs_markov_block per block) -------

def _reference_request(rng, counts, parents, fresh, fire0, keep, couple, tokens, chunk, offsets,
                       stride):
    """The generator's former loop: numpy draws the raws, hs_markov_block runs each block."""
    ffi, lib = synth_lib()
    bits = np.zeros((tokens, stride), np.uint8)
    states = [np.zeros((n + 7) // 8, np.uint8) for n in counts]
    for t0 in range(0, tokens, chunk):
        n_tok = min(tokens, t0 + chunk) - t0
        done = []
        for b, n in enumerate(counts):
            w = rng.bit_generator.random_raw(-(-n_tok * n // 4)).view(np.uint16)
            inherit = parent = None
            if parents[b] >= 0:
                inherit = rng.bit_generator.random_raw(-(-n_tok * n // 16)).view(np.uint8)
                parent = done[parents[b]]
            p = ffi.from_buffer
            lib.hs_markov_block(
                ffi.cast("uint16_t *", p(w)),
                ffi.NULL if inherit is None else ffi.cast("uint8_t *", p(inherit)), couple,
                ffi.NULL if parent is None else ffi.cast("uint16_t *", p(parent)),
                ffi.cast("uint16_t *", p(fresh[b])), ffi.cast("uint16_t *", p(fire0[b])), keep,
                ffi.cast("uint8_t *", p(states[b])), int(t0 > 0),
                ffi.cast("uint8_t *", p(bits)) + (t0 * stride + offsets[b]), stride, n_tok, n)
            done.append(w)
    return bits, states


def _plan(counts, couple_choices):
    """Parents and slots as the generator's plan: a parent is an earlier block of the same size
    (even), at most one child per parent in flight; blocks alternate between two slots per
    "kind" (= size). couple_choices[b]: couple block b where it can."""
    parents, slots, last, seen = [], [], {}, {}
    for b, n in enumerate(counts):
        couple_it = n % 2 == 0 and n in last and couple_choices[b]
        parents.append(last[n] if couple_it else -1)
        kind = sorted(set(counts)).index(n)
        slots.append(2 * kind + seen.get(n, 0) % 2)
        seen[n] = seen.get(n, 0) + 1
        last[n] = b
    return parents, slots


def _check_request(counts, couple_choices, tokens, chunk, keep, couple, seed, level):
    """hs_synth_request at ``level`` against numpy's raws + the plain-C hs_markov_block."""
    ffi, lib = synth_lib()
    nblocks = len(counts)
    parents, slots = _plan(counts, couple_choices)
    rng = np.random.default_rng(seed)
    fire0 = [rng.integers(0, 65536, n, dtype=np.uint16) for n in counts]
    fresh = [np.maximum(f, keep).astype(np.uint16) for f in fire0]
    offsets = np.concatenate([[0], np.cumsum([(n + 7) // 8 for n in counts])]).tolist()
    stride = offsets[-1] + 2
    ref_rng = np.random.default_rng(seed + 1)
    with _simd("c"):
        ref_bits, ref_states = _reference_request(ref_rng, counts, parents, fresh, fire0, keep,
                                                  couple, tokens, chunk, offsets, stride)

    got_rng = np.random.default_rng(seed + 1)
    pcg = _pcg_words(got_rng.bit_generator)
    states = [np.zeros((n + 7) // 8, np.uint8) for n in counts]
    keep_alive = []
    blocks = ffi.new("hs_block[]", nblocks)
    for b, n in enumerate(counts):
        views = [ffi.from_buffer("uint16_t[]", fresh[b]), ffi.from_buffer("uint16_t[]", fire0[b]),
                 ffi.from_buffer("uint8_t[]", states[b])]
        keep_alive.append(views)
        blocks[b].count, blocks[b].parent, blocks[b].slot = n, parents[b], slots[b]
        blocks[b].dest_offset = offsets[b]
        blocks[b].fresh, blocks[b].fire0, blocks[b].state = views
    elems = chunk * max(counts)
    slot_elems = 4 * -(-elems // 4)
    scratch = np.empty((max(slots) + 1) * slot_elems, np.uint16)
    inherit = np.empty(8 * -(-elems // 16), np.uint8)
    bits = np.zeros((tokens, stride), np.uint8)
    with _simd(level):
        drawn = lib.hs_synth_request(
            ffi.from_buffer("uint64_t[]", pcg), blocks, nblocks, keep, couple,
            ffi.from_buffer("uint8_t[]", bits), stride, tokens, chunk,
            ffi.from_buffer("uint16_t[]", scratch), slot_elems,
            ffi.from_buffer("uint8_t[]", inherit))
    np.testing.assert_array_equal(bits, ref_bits)
    for got, ref in zip(states, ref_states, strict=True):
        np.testing.assert_array_equal(got, ref)
    np.testing.assert_array_equal(pcg, _pcg_words(ref_rng.bit_generator))
    got_rng.bit_generator.advance(drawn)
    assert got_rng.bit_generator.state == ref_rng.bit_generator.state


@pytest.mark.parametrize("level", list(LEVELS))
@settings(max_examples=40, deadline=None)
@given(data=st.data(), nblocks=st.integers(1, 5), tokens=st.integers(1, 9),
       chunk=st.integers(1, 4), keep=st.integers(0, 65535), couple=st.integers(0, 255),
       seed=st.integers(0, 2**32 - 1))
def test_request_kernel_matches_the_numpy_raws_path(level, data, nblocks, tokens, chunk, keep,
                                                    couple, seed):
    # two sizes (as a model's two block kinds), so that blocks often have a parent
    sizes = [data.draw(st.integers(1, 70)) for _ in range(2)]
    counts = [data.draw(st.sampled_from(sizes)) for _ in range(nblocks)]
    choices = [data.draw(st.booleans()) for _ in range(nblocks)]
    _check_request(counts, choices, tokens, chunk, keep, couple, seed, level)


@pytest.mark.parametrize("level", list(LEVELS))
def test_request_kernel_rows_longer_than_a_segment(level):
    """hs_synth_request draws and chains rows in segments of 4096 uniforms (synth.c SEGMENT):
    rows of several segments whose raws and inherit bytes straddle rows (4136 = 4 * 1034 - 2
    uniforms; 2068 pairs = 8 * 258 + 4 bytes), an odd row, a parent chain, two chunks."""
    counts = [4136, 8195, 4136, 4136, 8195]
    _check_request(counts, [True] * 5, tokens=3, chunk=2, keep=50000, couple=200, seed=3,
                   level=level)


# -- the whole trace against the numpy-raws path -----------------------------------------------

def _reference_trace_bits(source, model, tokens, batch, seed):
    """SyntheticSource.trace's bits as the numpy-raws path computed them (one thread)."""
    profile = source._profile(model)
    layout = BlockLayout.for_model(model)
    base = source.base_frequencies(model)
    q = persistence_from_targets(profile.adjacent_overlap, profile.concentration)
    keep = min(round(q * 65536), 65535)
    couple = min(round(profile.layer_coupling * 256), 255)
    chunk = max(1, min(tokens, generator._CHUNK_ELEMENTS // max(g.count for g in model.blocks)))
    counts = [g.count for g in model.blocks]
    parents, last = [], {}
    for b, g in enumerate(model.blocks):
        prev = last.get(g.kind)
        ok = (profile.layer_coupling > 0 and prev is not None and counts[prev] == g.count
              and g.count % 2 == 0)
        parents.append(prev if ok else -1)
        last[g.kind] = b
    bits = np.zeros((tokens, layout.total_bits // 8), np.uint8)
    for request in range(batch):
        rng = np.random.default_rng([seed, request])
        orders, fire0, fresh = {}, [], []
        for b, g in enumerate(model.blocks):
            if (g.kind, g.count) not in orders:
                orders[g.kind, g.count] = SyntheticSource._sequence_order(
                    g.count, profile.sequence_rank_jitter, rng)
            p_seq = np.empty_like(base[b])
            p_seq[orders[g.kind, g.count]] = base[b]
            fire0.append(np.minimum(np.floor(p_seq * 65536), 65535).astype(np.uint16))
            fresh.append(np.minimum(np.floor((q + (1 - q) * p_seq) * 65536), 65535)
                         .astype(np.uint16))
        got, _ = _reference_request(rng, counts, parents, fresh, fire0, keep, couple, tokens,
                                    chunk, layout.byte_offsets.tolist(), bits.shape[1])
        bits |= got
    return bits


@pytest.mark.parametrize("name", ["tiny-llama", "tiny-opt"])
@pytest.mark.parametrize("coupling", [None, 0.0])
@pytest.mark.parametrize("chunk_elements", [1 << 20, 1000])  # 1000: several chunks per request
def test_trace_matches_the_numpy_raws_path(monkeypatch, name, coupling, chunk_elements):
    monkeypatch.setattr(generator, "_CHUNK_ELEMENTS", chunk_elements)
    model = load_model(name)
    profile = model.config.activity
    if coupling is not None:
        profile = profile.model_copy(update={"layer_coupling": coupling})
    source = SyntheticSource(profile=profile)
    for batch, seed in [(1, 0), (2, 5), (3, 123)]:
        got = source.trace(model, prompt_tokens=7, decode_tokens=4, batch=batch, seed=seed).bits
        ref = _reference_trace_bits(source, model, 11, batch, seed)
        np.testing.assert_array_equal(got, ref)
        assert got.any()
