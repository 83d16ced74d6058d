"""Cache keys follow the code: an edited source file gives a new digest and a new work key."""

from __future__ import annotations

from hermes_hw import source_digest
from hermes_hw.systems import work
from hermes_hw.workload.models import load_model
from hermes_hw.workload.placement.base import SystemParams


def _digest(monkeypatch, root, *entries):
    monkeypatch.setattr(source_digest, "PROJECT_ROOT", root)
    source_digest.tree_digest.cache_clear()
    try:
        return source_digest.tree_digest(*entries)
    finally:
        source_digest.tree_digest.cache_clear()


def test_tree_digest_follows_file_content_and_ignores_other_files(tmp_path, monkeypatch):
    pkg = tmp_path / "pkg" / "sub"
    pkg.mkdir(parents=True)
    (pkg / "a.py").write_text("x = 1\n")
    (tmp_path / "lib_k.so").write_bytes(b"\x00\x01")
    entries = ("pkg", "lib_k*")
    before = _digest(monkeypatch, tmp_path, *entries)
    (tmp_path / "unrelated.py").write_text("y = 2\n")  # outside every entry
    (pkg / "notes.txt").write_text("not python\n")  # a folder contributes *.py only
    assert _digest(monkeypatch, tmp_path, *entries) == before
    (pkg / "a.py").write_text("x = 2\n")  # an edited source
    edited = _digest(monkeypatch, tmp_path, *entries)
    assert edited != before
    (tmp_path / "lib_k.so").write_bytes(b"\x00\x02")  # a rebuilt library (glob entry)
    assert _digest(monkeypatch, tmp_path, *entries) not in (before, edited)


def test_work_cache_key_changes_with_the_workload_code(monkeypatch):
    model = load_model("tiny-opt")
    params = SystemParams(n_dimms=2)
    opts = {"batch": 1}
    key = work._key(model, opts, params)
    assert work._key(model, opts, params) == key
    monkeypatch.setattr(work, "tree_digest", lambda *entries: "another-version")
    assert work._key(model, opts, params) != key
