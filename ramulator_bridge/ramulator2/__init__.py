"""Optional DRAM backend that drives the user's own Ramulator 2.0 build (``backend: ramulator2``).

Point ``RAMULATOR2_ROOT`` at a Ramulator 2.0 checkout (tag v2.0a) with ``libramulator.so`` built;
our shim (shim.cpp) is compiled against it on first use and cached. See
docs/ramulator2_backend.md. Importing this package compiles nothing.
"""

from __future__ import annotations

import os
from typing import Any

from ramulator_bridge.ramulator2.build import (
    ENABLE_HINT,
    ENV_ROOT,
    Ramulator2Unavailable,
    cached_shim_path,
    find_install,
    shim_key,
)

__all__ = [
    "ENABLE_HINT",
    "ENV_ROOT",
    "Ramulator2Unavailable",
    "create_backend",
    "doctor_line",
    "find_install",
]


def create_backend(resolved: Any, cfg: Any, **kw: Any) -> Any:
    """A Ramulator2Backend for a validated DramConfig (the memory-system registry calls this)."""
    from ramulator_bridge.ramulator2.backend import create_backend as _create

    return _create(resolved, cfg, **kw)


def doctor_line() -> str:
    """One line for `hermes doctor`: whether a Ramulator2 build was found, its version, shim."""
    if not os.environ.get(ENV_ROOT):
        return f"Ramulator2 backend: not configured ({ENABLE_HINT})"
    try:
        install = find_install()
    except Ramulator2Unavailable as err:
        return f"Ramulator2 backend: UNUSABLE: {err}"
    cached = cached_shim_path(install)
    shim_state = f"shim compiled ({cached})" if cached else "shim compiled on first use"
    return (
        f"Ramulator2 backend: Ramulator {install.version} at {install.root} "
        f"(library {install.library.name}, shim key {shim_key(install)}; {shim_state})"
    )
