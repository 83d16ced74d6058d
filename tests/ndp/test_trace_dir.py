"""Trace directory: round trip, determinism, and bad directories -> one-line errors, exit 2."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import homes_mod, system, token

from hermes_hw.cli.main import main
from hermes_hw.errors import InputError
from hermes_hw.layout.base import SEGMENT_DTYPE
from hermes_hw.lowering.driver import lower_to_dir
from hermes_hw.lowering.trace import TraceDir, expand_segments


def _lower(model, out, n_tokens=2, **kw):
    rng = np.random.default_rng(0)

    def tokens():
        for t in range(n_tokens):
            act = {}
            for b, g in enumerate(model.blocks):
                ids = np.sort(rng.choice(g.count, g.count // 4, replace=False)) if True else None
                act[b] = [ids[ids % 2 == 0], ids[ids % 2 == 1]]
            yield token(model, t, 8, act)

    cached = list(tokens())
    return lower_to_dir(model, system(2, **kw), lambda: iter(cached), out, batch=1,
                        prompt_tokens=8, decode_tokens=n_tokens, homes=homes_mod(model, 2))


def test_round_trip_and_counts(tiny, tmp_path):
    man = _lower(tiny, tmp_path / "t")
    td = TraceDir(tmp_path / "t")
    for j in range(2):
        ops = td.ops(j)
        segs = np.concatenate(list(td.iter_segments(j)))
        addr, w, op = expand_segments(segs)
        assert len(addr) == man["dimms"][j]["requests"]
        assert int(ops["lines"].sum()) == len(addr)
        assert int((~w).sum()) == man["dimms"][j]["read_requests"]
        # ops point at their own segments
        for i in np.flatnonzero(ops["seg_count"]):
            s = segs[ops["seg_start"][i]: ops["seg_start"][i] + ops["seg_count"][i]]
            assert (s["op"] == i).all()


def test_same_inputs_give_identical_files(tiny, tmp_path):
    _lower(tiny, tmp_path / "a")
    _lower(tiny, tmp_path / "b")
    for f in sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*")
                    if p.is_file()):
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes(), f


def _one_line_exit2(capsys, argv):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("hermes: error:")
    return err[0]


def test_missing_manifest(tiny, tmp_path, capsys):
    _lower(tiny, tmp_path / "t")
    (tmp_path / "t" / "manifest.json").unlink()
    assert "manifest.json: missing" in _one_line_exit2(capsys, ["replay", str(tmp_path / "t")])


def test_not_a_directory(tmp_path, capsys):
    msg = _one_line_exit2(capsys, ["replay", str(tmp_path / "nope")])
    assert "not a trace directory" in msg


def test_version_mismatch(tiny, tmp_path, capsys):
    _lower(tiny, tmp_path / "t")
    m = json.loads((tmp_path / "t" / "manifest.json").read_text())
    m["version"] = 99
    (tmp_path / "t" / "manifest.json").write_text(json.dumps(m))
    msg = _one_line_exit2(capsys, ["replay", str(tmp_path / "t")])
    assert "version 99 is not supported" in msg


def test_bad_json_and_wrong_format(tiny, tmp_path, capsys):
    _lower(tiny, tmp_path / "t")
    mp = tmp_path / "t" / "manifest.json"
    mp.write_text("{not json")
    assert "not valid JSON" in _one_line_exit2(capsys, ["replay", str(tmp_path / "t")])
    mp.write_text(json.dumps({"format": "other"}))
    assert "'format' must be" in _one_line_exit2(capsys, ["replay", str(tmp_path / "t")])


def test_truncated_segment_file(tiny, tmp_path, capsys):
    _lower(tiny, tmp_path / "t")
    seg = tmp_path / "t" / "dimm1" / "segments-00000.npy"
    data = seg.read_bytes()
    seg.write_bytes(data[: len(data) - 100])
    msg = _one_line_exit2(capsys, ["replay", str(tmp_path / "t")])
    assert "segments-00000.npy" in msg and "truncated" in msg


def test_replaced_segment_file_count(tiny, tmp_path):
    _lower(tiny, tmp_path / "t")
    np.save(tmp_path / "t" / "dimm0" / "segments-00000.npy", np.zeros(3, SEGMENT_DTYPE))
    with pytest.raises(InputError, match="manifest says"):
        list(TraceDir(tmp_path / "t").iter_segments(0))


def test_missing_ops_file(tiny, tmp_path, capsys):
    _lower(tiny, tmp_path / "t")
    (tmp_path / "t" / "dimm0" / "ops.npy").unlink()
    assert "ops.npy: missing" in _one_line_exit2(capsys, ["replay", str(tmp_path / "t")])


def test_output_dir_not_empty(tiny, tmp_path):
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "x").write_text("x")
    with pytest.raises(InputError, match="not empty"):
        _lower(tiny, tmp_path / "t")


def test_layout_exceeding_capacity(tmp_path, capsys):
    msg = _one_line_exit2(capsys, ["lower", "--model", "llama2-70b", "--dimms", "1", "--out",
                                   str(tmp_path / "t"), "--prompt", "4"])
    assert "the layout needs" in msg and "GiB on DIMM 0" in msg
    assert not (tmp_path / "t" / "manifest.json").exists()


def test_unknown_layout_policy(tmp_path, capsys):
    msg = _one_line_exit2(capsys, ["lower", "--model", "tiny-opt", "--layout", "interleave",
                                   "--out", str(tmp_path / "t")])
    assert "did you mean 'interleaved'" in msg


def test_committed_sample_replays(capsys):
    from hermes_hw.paths import repo_root

    root = repo_root()
    if root is None:
        pytest.skip("not a source checkout")
    assert main(["replay", str(root / "traces" / "ndp_sample_tiny"), "--json", "--jobs", "1"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [d["requests"] for d in out["dimms"]] == [1178, 1190]
    assert all(d["busy_time_ns"] > 0 and d["layers"] for d in out["dimms"])
