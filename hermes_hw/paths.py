"""Where the built-in YAML configs live (source checkout, editable or regular install)."""

from __future__ import annotations

import sys
from functools import lru_cache
from pathlib import Path


@lru_cache(maxsize=1)
def configs_dir() -> Path:
    """Directory holding the built-in configs (dram/, gpus/, systems/, models/, experiments/)."""
    checkout = Path(__file__).resolve().parent.parent / "configs"
    if checkout.is_dir():
        return checkout
    installed = Path(sys.prefix) / "share" / "hermes-hw" / "configs"
    if installed.is_dir():
        return installed
    raise FileNotFoundError(
        f"built-in configs not found (looked in {checkout} and {installed}); reinstall hermes-hw"
    )


def repo_root() -> Path | None:
    """The source checkout root when running from one (for sample traces), else None."""
    root = Path(__file__).resolve().parent.parent
    return root if (root / "traces").is_dir() else None
