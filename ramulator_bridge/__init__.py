"""Bridge to the cycle-level DRAM engines.

The built-in engine is C code compiled by cffi at install time into ``ramulator_bridge._engine``;
this module is its one import point. There is no pure-Python fallback: if the extension is
missing the install is broken and we say so.
"""

from __future__ import annotations

import hashlib
import importlib
from functools import cache
from pathlib import Path
from typing import Any


class EngineNotBuiltError(ImportError):
    """The compiled C engine is missing (the package was not installed with pip)."""


@cache
def _extension(module: str, what: str) -> tuple[Any, Any]:
    try:
        ext = importlib.import_module(f"ramulator_bridge.{module}")
    except ImportError as err:  # pragma: no cover - only on a broken install
        raise EngineNotBuiltError(
            f"the {what} (ramulator_bridge.{module}) is not built: install with "
            "`pip install -e .` (needs a C compiler)"
        ) from err
    return ext.ffi, ext.lib


def engine() -> tuple[Any, Any]:
    """Return ``(ffi, lib)`` of the compiled C engine."""
    return _extension("_engine", "C DRAM engine")


@cache
def engine_digest() -> str:
    """Hash of the compiled engine library. Caches of results the engine simulated (fitted
    fast-mode coefficients, cycle-level per-op times) include it in their keys, so a rebuilt or
    changed engine never reuses them."""
    engine()
    module = importlib.import_module("ramulator_bridge._engine")
    return hashlib.sha256(Path(module.__file__).read_bytes()).hexdigest()[:16]


def traceio_lib() -> tuple[Any, Any]:
    """Return ``(ffi, lib)`` of the compiled trace parser (ramulator_bridge._traceio)."""
    return _extension("_traceio", "C trace parser")


def synth_lib() -> tuple[Any, Any]:
    """Return ``(ffi, lib)`` of the compiled synthetic activation kernel
    (ramulator_bridge._synth; used by hermes_hw.workload.activations.synthetic)."""
    return _extension("_synth", "synthetic activation kernel")


def timeline_lib() -> tuple[Any, Any]:
    """Return ``(ffi, lib)`` of the compiled timeline core (ramulator_bridge._timeline; used by
    hermes_hw.timeline.program)."""
    return _extension("_timeline", "timeline core")
