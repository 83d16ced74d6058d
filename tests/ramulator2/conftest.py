"""Fixtures for the Ramulator2 backend tests.

The tests that drive a real Ramulator2 build need RAMULATOR2_ROOT (a Ramulator 2.0 checkout, tag
v2.0a, with libramulator.so built; see docs/ramulator2_backend.md); without it they are skipped
and the run says so. The reference folder is $HERMES_RAMULATOR2_REFERENCE, by default
../shared/reference/ramulator2 next to the repository.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DEFAULT_REFERENCE = REPO.parent / "shared" / "reference" / "ramulator2"
REFERENCE = Path(os.environ.get("HERMES_RAMULATOR2_REFERENCE", DEFAULT_REFERENCE))
ENABLE = (
    "set RAMULATOR2_ROOT=/path/to/ramulator2 (Ramulator 2.0, tag v2.0a, with libramulator.so "
    "built; see docs/ramulator2_backend.md) to enable"
)
HAVE_BUILD = bool(os.environ.get("RAMULATOR2_ROOT"))

needs_build = pytest.mark.skipif(not HAVE_BUILD, reason=f"Ramulator2 backend tests: {ENABLE}")
needs_reference = pytest.mark.skipif(
    not (REFERENCE / "manifest.json").is_file(),
    reason=f"reference folder {REFERENCE} not present (set HERMES_RAMULATOR2_REFERENCE)",
)


def pytest_terminal_summary(terminalreporter):  # noqa: D103 - pytest hook
    if not HAVE_BUILD:
        terminalreporter.write_line(
            f"note: tests needing a Ramulator2 build were skipped: {ENABLE}", yellow=True
        )
