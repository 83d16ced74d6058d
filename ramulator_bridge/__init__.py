"""Bridge to the cycle-level DRAM engines.

The built-in engine is C code compiled by cffi at install time into ``ramulator_bridge._engine``;
this module is its one import point. There is no pure-Python fallback: if the extension is
missing the install is broken and we say so.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any


class EngineNotBuiltError(ImportError):
    """The compiled C engine is missing (the package was not installed with pip)."""


@lru_cache(maxsize=1)
def engine() -> tuple[Any, Any]:
    """Return ``(ffi, lib)`` of the compiled C engine."""
    try:
        from ramulator_bridge._engine import ffi, lib
    except ImportError as err:  # pragma: no cover - only on a broken install
        raise EngineNotBuiltError(
            "the C DRAM engine (ramulator_bridge._engine) is not built: install with "
            "`pip install -e .` (needs a C compiler)"
        ) from err
    return ffi, lib


@lru_cache(maxsize=1)
def traceio_lib() -> tuple[Any, Any]:
    """Return ``(ffi, lib)`` of the compiled trace parser (ramulator_bridge._traceio)."""
    try:
        from ramulator_bridge._traceio import ffi, lib
    except ImportError as err:  # pragma: no cover - only on a broken install
        raise EngineNotBuiltError(
            "the C trace parser (ramulator_bridge._traceio) is not built: install with "
            "`pip install -e .` (needs a C compiler)"
        ) from err
    return ffi, lib
