"""The `hermes` command's allocator setting (hermes_hw/_malloc.py)."""

import platform
import sys

import pytest

from hermes_hw._malloc import keep_freed_memory


def test_opt_out_leaves_the_allocator_alone(monkeypatch):
    monkeypatch.setenv("HERMES_MALLOC_TUNE", "0")
    assert keep_freed_memory() is False


@pytest.mark.skipif(not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
                    reason="mallopt is glibc's")
def test_glibc_takes_both_thresholds(monkeypatch):
    monkeypatch.delenv("HERMES_MALLOC_TUNE", raising=False)
    assert keep_freed_memory() is True
