"""The synthetic source's C kernel against the chain rule of its docstring, element by element,
and the trace's independence of the number of generation threads."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hermes_hw.workload.activations.synthetic import generator
from hermes_hw.workload.activations.synthetic.generator import SyntheticSource
from hermes_hw.workload.models.loader import load_model
from ramulator_bridge import synth_lib


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


@settings(max_examples=60, deadline=None)
@given(tokens=st.integers(1, 5), n=st.integers(1, 70), coupled=st.booleans(),
       has_state=st.booleans(), keep=st.integers(0, 65535), couple=st.integers(0, 255),
       seed=st.integers(0, 2**32 - 1))
def test_kernel_follows_the_chain_rule(tokens, n, coupled, has_state, keep, couple, seed):
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
    ref_w, ref_bits = _reference(w, inherit, couple, parent, fresh, fire0, keep, state)
    got_w, got_bits, got_state = _kernel(w, inherit, couple, parent, fresh, fire0, keep, state)
    np.testing.assert_array_equal(got_w, ref_w)
    np.testing.assert_array_equal(got_bits, ref_bits)
    np.testing.assert_array_equal(
        np.unpackbits(got_state, bitorder="little")[:n].astype(bool), ref_bits[-1])


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
