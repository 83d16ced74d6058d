"""Lowering vs hand-computed byte counts: bytes read per DIMM = active cold neurons' bytes placed
there + KV reads; every neuron line read exactly once; extra reads only where the design says
(promotion, remapping)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import homes_mod, system, token

from hermes_hw.errors import InputError
from hermes_hw.layout.base import DimmGeometry
from hermes_hw.layout.model_layout import ModelLayout
from hermes_hw.lowering.lower import lower_token
from hermes_hw.lowering.ops import OP_KIND_ID
from hermes_hw.lowering.trace import expand_segments


def _layout(model, n=2, batch=1, ctx=32, **lay):
    s = system(n, **lay)
    geom = DimmGeometry.from_dram_mapping(s.dram_mapping())
    return ModelLayout(model, n, geom, s.layout, homes_mod(model, n), batch=batch,
                       max_context_tokens=ctx)


def _active(model, rng):
    """Random active neurons per block, split by home (i % 2)."""
    act = {}
    for b, g in enumerate(model.blocks):
        ids = np.sort(rng.choice(g.count, size=g.count // 5, replace=False))
        act[b] = [ids[ids % 2 == 0], ids[ids % 2 == 1]]
    return act


def test_bytes_per_dimm_match_hand_count(tiny):
    rng = np.random.default_rng(1)
    lay = _layout(tiny)
    act = _active(tiny, rng)
    prompt, step = 10, 2
    out = lower_token(token(tiny, step, prompt, act), lay, batch=1)
    ctx = prompt + step + 1  # positions attended, this token included
    # tiny-opt: 4 KV heads of 16 elements, FP16; heads 0,2 on DIMM 0, heads 1,3 on DIMM 1
    # layers x heads x positions x head_dim x 2 B x (K, V)
    kv_read_per_dimm = tiny.num_layers * 2 * ctx * 16 * 2 * 2
    for j in range(2):
        neuron_bytes = sum(len(act[b][j]) * g.bytes_per_neuron
                           for b, g in enumerate(tiny.blocks))
        ops = out[j].ops
        assert int(ops["read_bytes"].sum()) == neuron_bytes + kv_read_per_dimm
        gemv = ops["kind"] == OP_KIND_ID["gemv"]
        assert int(ops["read_bytes"][gemv].sum()) == neuron_bytes
        # lines issued: whole neurons (384 B / 256 B = 6 / 4 lines) plus each K or V region of
        # 13 positions x 32 B = 416 B, rounded up to 7 lines (4 layers x 2 heads x K,V)
        addr, is_write, _ = expand_segments(out[j].segments)
        assert (~is_write).sum() == neuron_bytes // 64 + 4 * 2 * 2 * 7


def test_each_neuron_line_read_exactly_once(tiny):
    rng = np.random.default_rng(2)
    for policy in ("interleaved", "rank-local"):
        lay = _layout(tiny, policy=policy)
        act = _active(tiny, rng)
        out = lower_token(token(tiny, 0, 4, act), lay, batch=1)
        for j in range(2):
            segs = out[j].segments
            gemv_ops = np.flatnonzero(out[j].ops["kind"] == OP_KIND_ID["gemv"])
            addr, w, op = expand_segments(segs)
            got = np.sort(addr[np.isin(op, gemv_ops)])
            assert len(np.unique(got)) == len(got), "a line was read twice"
            want = []
            for b, g in enumerate(tiny.blocks):
                L = g.bytes_per_neuron // 64
                for i in act[b][j]:
                    sp, ln = int(lay.space[b][i]), int(lay.line[b][i])
                    lines = lay.policy.physical_line(np.full(L, sp), ln + np.arange(L))
                    want.append(lines * 64)
            want = np.sort(np.concatenate(want)).astype(np.uint64)
            assert np.array_equal(got, want), f"{policy}: lines lost or extra"


def test_batch_scales_macs_not_weight_bytes(tiny):
    act = _active(tiny, np.random.default_rng(3))
    r1 = lower_token(token(tiny, 0, 4, act), _layout(tiny, batch=1), batch=1)
    with pytest.raises(InputError, match="batch 4 differs"):
        lower_token(token(tiny, 0, 4, act), _layout(tiny, batch=1), batch=4)
    r4 = lower_token(token(tiny, 0, 4, act), _layout(tiny, batch=4), batch=4)
    g1 = r1[0].ops[r1[0].ops["kind"] == OP_KIND_ID["gemv"]]
    g4 = r4[0].ops[r4[0].ops["kind"] == OP_KIND_ID["gemv"]]
    assert np.array_equal(g1["read_bytes"], g4["read_bytes"])
    assert np.array_equal(g4["macs"], 4 * g1["macs"])
    # MACs = neurons x weights per neuron x batch (tiny-opt: attention 192, mlp 128 weights)
    assert int(g1["macs"][0]) == len(act[0][0]) * 192
    assert int(g1["macs"][1]) == len(act[1][0]) * 128


def test_promotion_and_remap_reads_are_extra_and_counted(tiny):
    lay = _layout(tiny)
    act = {1: [np.array([0, 2, 4]), np.array([1])]}
    extra = {1: {"promoted": np.array([6, 7]), "remap_neurons": np.array([8]),
                 "remap_src": np.array([0]), "remap_dst": np.array([1])}}
    out = lower_token(token(tiny, 0, 4, act, extra), lay, batch=1)
    k = {n: OP_KIND_ID[n] for n in ("promote_read", "remap_out", "remap_in")}
    o0, o1 = out[0].ops, out[1].ops
    assert int(o0["read_bytes"][o0["kind"] == k["promote_read"]].sum()) == 256  # neuron 6
    assert int(o1["read_bytes"][o1["kind"] == k["promote_read"]].sum()) == 256  # neuron 7
    assert int(o0["read_bytes"][o0["kind"] == k["remap_out"]].sum()) == 256
    assert int(o1["write_bytes"][o1["kind"] == k["remap_in"]].sum()) == 256
    assert lay.home[1][8] == 1  # the layout moved it
    # next token: neuron 8 is read on DIMM 1, from its new slot
    out2 = lower_token(token(tiny, 1, 4, {1: [np.zeros(0), np.array([8])]}), lay, batch=1)
    addr, _, _ = expand_segments(out2[1].segments[out2[1].segments["op"] == 7])
    assert len(addr) == 4 and int(addr[0]) // 64 == lay.line[1][8]


def test_kv_append_writes_one_position(tiny):
    lay = _layout(tiny, batch=2)
    out = lower_token(token(tiny, 3, 8, {}), lay, batch=2)
    ops = out[0].ops
    app = ops[ops["kind"] == OP_KIND_ID["kv_append"]]
    # per layer: 2 heads x 2 requests x (K + V) x 16 elements x 2 B
    assert (app["write_bytes"] == 2 * 2 * 2 * 16 * 2).all()
