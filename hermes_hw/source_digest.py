"""Digest of the code a cached result comes from, so an edited or upgraded package never reads
a stale cache entry (the caches key their entries by configuration *and* by this digest)."""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
"""The folder holding ``hermes_hw`` and ``ramulator_bridge``."""

NDP_CODE = ("hermes_hw/ndp", "hermes_hw/lowering", "hermes_hw/layout", "hermes_hw/dram")
"""The code fitted fast-mode coefficients come from besides the compiled engine (which the
caches key by ``ramulator_bridge.engine_digest``): NDP unit, lowering, layout, DRAM front end."""

WORK_CODE = ("hermes_hw/workload", "hermes_hw/systems/work.py", "ramulator_bridge/_synth*")
"""The code work lists come from: the workload package, its cache front end and the compiled
activation kernel."""


@cache
def tree_digest(*entries: str) -> str:
    """SHA-256 (16 hex digits) over the files named by ``entries``: paths relative to
    :data:`PROJECT_ROOT`, each a file, a folder (its ``*.py`` files, recursively) or a glob
    (``ramulator_bridge/_synth*``). Each file contributes its relative path and content; a
    missing entry contributes its name only."""
    h = hashlib.sha256()
    for entry in entries:
        path = PROJECT_ROOT / entry
        if path.is_dir():
            files = sorted(path.rglob("*.py"))
        elif path.is_file():
            files = [path]
        else:
            files = sorted(PROJECT_ROOT.glob(entry))
        h.update(entry.encode())
        for f in files:
            try:
                data = f.read_bytes()
            except OSError:
                continue
            h.update(f.relative_to(PROJECT_ROOT).as_posix().encode())
            h.update(hashlib.sha256(data).digest())
    return h.hexdigest()[:16]
