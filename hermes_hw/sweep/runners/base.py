"""The point-runner interface and registry.

A runner turns one resolved point config (a JSON-able mapping) into a flat mapping of result
values (numbers, strings, booleans). It validates a config before any point runs, so a bad grid
fails up front with the key path. Register a new runner with :func:`register_runner`; it is then
available as ``runner: NAME`` in a grid file.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hermes_hw.errors import InputError, closest_match_hint, unknown_name

Scalar = int | float | str | bool | None


class PointRunner(ABC):
    """Runs one sweep point. Implementations must be deterministic: the same config gives the
    same result values (wall times belong in :meth:`run`'s ``meta``, never in the values)."""

    name: str = ""
    #: Dotted config keys that hold file paths (resolved relative to the grid file's folder).
    path_keys: tuple[str, ...] = ()

    def base_config(self, base_dir: Path) -> dict[str, Any]:  # noqa: B027 - optional hook
        """Config used when a grid gives no ``base`` (default: empty)."""
        return {}

    def resolved(self, config: dict[str, Any], base_dir: Path) -> Any:
        """What named inputs resolve to (JSON-able), hashed into the point id; None: nothing."""
        return None

    @abstractmethod
    def validate(self, config: dict[str, Any], base_dir: Path) -> None:
        """Raise InputError (message starting with the key path) if ``config`` cannot run."""

    @abstractmethod
    def run(self, config: dict[str, Any], base_dir: Path, point_dir: Path | None
            ) -> tuple[dict[str, Scalar], dict[str, Any]]:
        """Run the point; return (values, meta). ``values`` go into the result table and must be
        deterministic; ``meta`` (wall time ...) is kept in the point's result file only.
        ``point_dir``: the point's folder for extra output files, or None when not reachable."""


RUNNERS: dict[str, Callable[[], PointRunner]] = {}


def check_flat_fields(config: dict[str, Any], fields: dict[str, type],
                      required: tuple[str, ...] = ()) -> None:
    """A runner config of scalar fields: known keys, right types, required keys present."""
    for key, value in config.items():
        if key not in fields:
            raise InputError(f"{key}: unknown key{closest_match_hint(key, fields)}")
        typ = fields[key]
        if not isinstance(value, typ) or (typ is int and isinstance(value, bool)):
            raise InputError(f"{key}: expected {typ.__name__}, got {value!r}")
    for key in required:
        if key not in config:
            raise InputError(f"{key}: required (a model id, e.g. llama2-70b)"
                             if key == "model" else f"{key}: required")


def register_runner(name: str) -> Callable[[type[PointRunner]], type[PointRunner]]:
    """Class decorator: make a runner available by name."""

    def deco(cls: type[PointRunner]) -> type[PointRunner]:
        cls.name = name
        RUNNERS[name] = cls
        return cls

    return deco


def make_runner(name: str, source: str | None = None) -> PointRunner:
    from hermes_hw.sweep import runners as _builtin  # noqa: F401 - registers the built-in ones

    if name not in RUNNERS:
        raise unknown_name("sweep runner", name, RUNNERS, source=source)
    return RUNNERS[name]()


def flatten(obj: dict[str, Any], prefix: str = "") -> dict[str, Scalar]:
    """Nested mapping -> {'a.b': scalar}; lists become their JSON text."""
    import json

    out: dict[str, Scalar] = {}
    for key, value in obj.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, name + "."))
        elif isinstance(value, list | tuple):
            out[name] = json.dumps(value, separators=(",", ":"))
        else:
            out[name] = value
    return out
