"""Fast mode v3: the row-buffer features from segment addresses, the cache version, and the
fast mode's per-layer error against cycle-level replay on the tiny models."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hermes_hw.dram.config import parse_config
from hermes_hw.dram.memory_system import MemorySystem
from hermes_hw.dram.resolve import resolve
from hermes_hw.layout.base import SEGMENT_DTYPE
from hermes_hw.lowering.ops import OP_KIND_ID, new_ops
from hermes_hw.lowering.trace import TraceDir
from hermes_hw.ndp import fast
from hermes_hw.ndp.config import NdpSystemConfig
from hermes_hw.ndp.replay import replay_dimm
from hermes_hw.ndp.rowstate import BankMap, row_features
from hermes_hw.ndp.run import per_layer
from hermes_hw.ndp.studies import lower_sample

MAPPERS = ("RoBaRaCoCh", "ChRaBaRoCo", "RoCoBaRaCh", "MOP4CLXOR")


def _mapping(mapper: str) -> dict:
    base = NdpSystemConfig().dram_mapping()
    return {**base, "MemorySystem": {**base["MemorySystem"], "AddrMapper": {"impl": mapper}}}


@pytest.mark.parametrize("mapper", MAPPERS)
def test_bank_row_matches_the_engine_decoder(mapper):
    """(bank, row) of a transaction index agree with the C engine's address mapper: the same
    row, and bank ids in one-to-one correspondence with (channel, rank, bank group, bank)."""
    m = _mapping(mapper)
    ms = MemorySystem.from_yaml(m)
    bm = BankMap.from_resolved(resolve(parse_config(m, "test")), mapper)
    rng = np.random.default_rng(3)
    tx = np.concatenate([rng.integers(0, 2**31, 400), np.arange(300)])
    bank, row = bm.bank_row(tx)
    fwd, back = {}, {}
    for t, b, r in zip(tx.tolist(), bank.tolist(), row.tolist(), strict=True):
        ch, ra, bg, ba, ro, _ = ms.backend.decode(t * 64)
        assert ro == r
        assert fwd.setdefault(b, (ch, ra, bg, ba)) == (ch, ra, bg, ba)
        assert back.setdefault((ch, ra, bg, ba), b) == b
    assert len(fwd) == bm.n_banks == 32


def _ops_and_segments(spec):
    """spec: (kind, [(first line, lines), ...]) per op -> (ops, segments) of one DIMM."""
    ops = new_ops(len(spec))
    segs = []
    for i, (kind, runs) in enumerate(spec):
        ops["kind"][i] = OP_KIND_ID[kind]
        ops["seg_start"][i] = len(segs)
        ops["seg_count"][i] = len(runs)
        ops["lines"][i] = sum(n for _, n in runs)
        for first, n in runs:
            segs.append((first * 64, n, 64, kind == "write_partial", 0, 1, 0, i))
    return ops, np.array(segs, dtype=SEGMENT_DTYPE)


def test_row_features_by_hand():
    """Default Table II DIMM (RoCoBaRaCh): line x is in bank x % 32, row x // 4096 (32 banks x
    128 lines per row). Hand-counted head activations, conflicts, write conflicts, depth."""
    m = NdpSystemConfig().dram_mapping()
    bm = BankMap.from_resolved(resolve(parse_config(m, "test")), "RoCoBaRaCh")
    ops, segs = _ops_and_segments([
        ("gemv", [(0, 40)]),             # A: banks 0..31 (head = 32 lines), all closed
        ("write_partial", [(4096, 2)]),  # B: banks 0, 1 at row 1: 2 conflicts
        ("gemv", [(8, 8)]),              # C: banks 8..15 row 0, open: nothing
        ("gemv", [(0, 4)]),              # D: banks 0..3 row 0; 0, 1 last written at row 1
        ("gemv", [(8184, 40)]),          # E: head 8184..8215: banks 24..31 row 1, 0..23 row 2
        ("attn_score", [(4, 2), (4100, 2)]),  # F: banks 4, 5 at row 0, then at row 1
    ])
    full = row_features(segs, ops, bm)
    f = full[:, :4]
    # columns: activations, conflicts, write conflict, depth (rows one bank opens in turn)
    assert f[0].tolist() == [32, 0, 0, 1]
    assert f[1].tolist() == [0, 0, 0, 0]  # write ops get no features
    assert f[2].tolist() == [0, 0, 0, 0]
    assert f[3].tolist() == [2, 2, 1, 1]
    assert f[4].tolist() == [32, 32, 0, 1]
    # F: banks 4, 5 hold row 2 (E's tail: lines 8192..8223 are banks 0..31 at row 2), so
    # row 0 conflicts (2) and row 1 conflicts again (2): depth 2
    assert f[5].tolist() == [4, 4, 0, 2]
    # column 5: line index (in its op) of the last head line that activates a bank: A 31
    # (lines 0..31), D 1 (banks 0, 1), E 31, F 3 (line 4101, bank 5 at row 1)
    assert full[:, 5].tolist() == [31, 0, 0, 1, 31, 3]
    # write heads (write fence): B's banks 0, 1 hold row 0 (A's tail, lines 8..39): 2
    # conflicts, last at line 1; the read ops are unchanged
    w = row_features(segs, ops, bm, write_heads=True)
    assert w[1].tolist() == [2, 2, 0, 1, 0, 1]
    assert w[[0, 2, 3, 4, 5]].tolist() == full[[0, 2, 3, 4, 5]].tolist()
    # deferred writes: B misses (banks 0, 1 hold row 0), so it waits in the write queue until
    # the end of the next read group (C..F, no later write op): D finds row 0 still open
    d = row_features(segs, ops, bm, defer_writes=True)
    assert d[3].tolist() == [0, 0, 0, 0, 0, 0]
    assert d[[0, 2, 4, 5], :4].tolist() == f[[0, 2, 4, 5]].tolist()


def test_late_drained_write_by_hand():
    """Deferred writes (RoCoBaRaCh as above): W1 (bank 0, row 1) misses (bank 0 holds row 0),
    waits; the next group (C) still reads bank 0 in its tail, so W1 drains only when W2 is
    posted, and D's first read of bank 0 (row 0) waits for it: wchain. W2 (bank 1, row 1)
    misses too and has no later group end, so it never touches D. Without deferral both
    writes act at once: C conflicts with W1 and D with W2 (wconflict)."""
    m = NdpSystemConfig().dram_mapping()
    bm = BankMap.from_resolved(resolve(parse_config(m, "test")), "RoCoBaRaCh")
    ops, segs = _ops_and_segments([
        ("gemv", [(0, 40)]),             # A: banks 0..31, row 0
        ("write_partial", [(4096, 1)]),  # W1: bank 0, row 1
        ("gemv", [(0, 40)]),             # C: tail = lines 8..39, banks 8..31 and 0..7
        ("write_partial", [(4097, 1)]),  # W2: bank 1, row 1
        ("gemv", [(0, 4)]),              # D: banks 0..3, row 0
    ])
    d = row_features(segs, ops, bm, defer_writes=True)
    assert d[2].tolist() == [0, 0, 0, 0, 0, 0]  # C: rows still open, W1 waits
    assert d[4].tolist() == [1, 1, 0, 1, 1, 0]  # D: bank 0 behind W1's late drain
    f = row_features(segs, ops, bm)
    assert f[2].tolist() == [1, 1, 1, 1, 0, 0]  # C: bank 0 (line 0) written at row 1 before
    assert f[4].tolist() == [1, 1, 1, 1, 0, 1]  # D: bank 1 (line 1) written at row 1 before


def test_stale_cache_versions_are_refitted(tmp_path):
    """A cached coefficient file of another fast-model version is not reused."""
    lower_sample("tiny-opt", tmp_path / "t", batch=1)
    coef = fast.coefficients(str(tmp_path / "t"))
    assert coef["version"] == fast.FAST_MODEL_VERSION == 7
    cfile = fast.cache_dir() / f"{fast._key(TraceDir(tmp_path / 't'), None)}.json"
    old = {**coef, "version": 5, "pipeline": {"stale": True}}
    cfile.write_text(json.dumps(old))
    again = fast.coefficients(str(tmp_path / "t"))
    assert again["version"] == 7 and "stale" not in again["pipeline"]


def test_cache_key_follows_the_engine_build(tmp_path, monkeypatch):
    """Coefficients fitted to one engine build are not reused by another: the key includes the
    hash of the compiled library (sha256 of the file, computed here independently)."""
    import hashlib
    from pathlib import Path

    import ramulator_bridge
    from ramulator_bridge import _engine

    expected = hashlib.sha256(Path(_engine.__file__).read_bytes()).hexdigest()[:16]
    assert ramulator_bridge.engine_digest() == expected
    lower_sample("tiny-opt", tmp_path / "t", batch=1)
    td = TraceDir(tmp_path / "t")
    key = fast._key(td, None)
    monkeypatch.setattr(ramulator_bridge, "engine_digest", lambda: "another-build")
    assert fast._key(td, None) != key


def test_refresh_windows_pause_data_delivery():
    """All-bank refresh: no data from k x period to k x period + len (k >= 1). One read op of
    2,500 lines at 1 DRAM cycle per line, no latency, period 1,000, len 100: the windows at
    1,000 and 2,000 fall inside its delivery, so it ends at 2,500 + 2 x 100 = 2,700."""
    ops = new_ops(1)
    ops["kind"] = OP_KIND_ID["gemv"]
    ops["lines"] = 2500
    ops["seg_count"] = 1
    table = fast._op_table(ops, np.zeros(1))
    cls = {"b": 1.0, "g": 0.0, "lat": 0.0, "h": 0.0}
    params = {"gemv": cls, "attn": cls, "transfer": cls, "write": {"b": 1.0},
              "refresh": {"period": 1000.0, "len": 100.0}}
    assert fast.pipeline_durations(table, params, 4096).tolist() == [2700.0]
    params["refresh"]["len"] = 0.0
    assert fast.pipeline_durations(table, params, 4096).tolist() == [2500.0]


def _tiny_errors(model_id: str, batch: int, dimms: str, tmp_path,
                 fence: bool = False) -> list[float]:
    """Per-layer relative error of the fast mode vs the cycle-level replay (the independent
    reference), every layer, one decode token, on DIMMs 0 and 1 (``dimms="0,1"``, what
    ``hermes ndp fast-error`` reports) or on every DIMM (``"all"``); ``fence``: the unit's
    write fence."""
    path = tmp_path / model_id
    lower_sample(model_id, path, batch=batch,
                 system=NdpSystemConfig(unit={"write_fence": fence}))
    td = TraceDir(path)
    coef = fast.coefficients(str(path))
    errs = []
    for j in ((0, 1) if dimms == "0,1" else range(td.n_dimms)):
        cyc = replay_dimm(str(path), j)
        fst = fast.fast_replay_dimm(td, j, coef)
        for a, b in zip(per_layer(td, cyc), per_layer(td, fst), strict=True):
            errs.append((b["end_ns"] - b["start_ns"]) / (a["end_ns"] - a["start_ns"]) - 1.0)
    return errs


def _open(reason: str):
    return pytest.mark.xfail(strict=True, reason=f"fast model v7: {reason}; when the "
                             "controller drains posted writes is not predicted op by op "
                             "(docs/ndp.md, Fast-mode error)")


def _open_fenced(reason: str):
    return pytest.mark.xfail(strict=True, reason=f"fast model v7, write fence: {reason}; "
                             "the read ops of one group overlap in the controller's queues "
                             "(docs/ndp.md, Fast-mode error)")


@pytest.mark.parametrize(("model_id", "batch", "dimms", "fence"), [
    ("tiny-opt", 16, "0,1", False), ("tiny-llama", 16, "0,1", False),
    ("tiny-opt", 1, "0,1", False), ("tiny-opt", 16, "all", False),
    ("tiny-opt", 16, "all", True), ("tiny-llama", 16, "all", True),
    pytest.param("tiny-llama", 1, "0,1", False, marks=_open("max 8.1% on DIMMs 0, 1")),
    pytest.param("tiny-opt", 1, "all", False, marks=_open("max 21.1% over the 8 DIMMs")),
    pytest.param("tiny-llama", 1, "all", False, marks=_open("max 22.4% over the 8 DIMMs")),
    pytest.param("tiny-llama", 16, "all", False, marks=_open("max 8.9% over the 8 DIMMs")),
    pytest.param("tiny-opt", 1, "all", True, marks=_open_fenced("max 17.2% over 8 DIMMs")),
    pytest.param("tiny-llama", 1, "all", True, marks=_open_fenced("max 10.5% over 8 DIMMs")),
])
def test_analytical_model_within_3_percent_on_tiny_models(model_id, batch, dimms, fence,
                                                         tmp_path):
    """The fast mode's analytical model alone (the fast mode as it runs replays these traces
    cycle-level where the fit misses 3% on its calibration layers: test_fast_choice.py).
    Batch 16: a layer takes ~3,000 DRAM cycles, so one in four meets an all-bank refresh
    (tRFC = 880 cycles), which the fast model places on its own time line (since v4). Batch 1:
    20-250-line ops, whose time is set by bank openings and by posted writes the controller
    drains at times an op-level model does not see (docs/ndp.md). With the unit's write fence
    the drains happen at the fence and are modelled (v7): batch 16 is within 3% on every
    DIMM, batch 1 is not (the read ops' overlap in the queues remains)."""
    errs = _tiny_errors(model_id, batch, dimms, tmp_path, fence)
    assert max(abs(e) for e in errs) <= 0.03, [round(100 * e, 2) for e in errs]
