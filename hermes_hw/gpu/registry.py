"""Registry of GPU profiles by name: the YAML files in ``configs/gpus/`` plus any registered
in code. ``get_profile`` also accepts a path to a profile file."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from hermes_hw.errors import InputError, unknown_name
from hermes_hw.gpu.profile import GpuProfile, load_profile_file
from hermes_hw.paths import configs_dir

_REGISTERED: dict[str, GpuProfile] = {}


def gpus_dir() -> Path:
    """Folder holding the built-in GPU profiles."""
    return configs_dir() / "gpus"


def _builtin_files() -> dict[str, Path]:
    folder = gpus_dir()
    return {p.stem: p for p in sorted(folder.glob("*.yaml"))} if folder.is_dir() else {}


def list_profiles() -> list[str]:
    """Names of every available profile, sorted."""
    return sorted(set(_builtin_files()) | set(_REGISTERED))


def register_profile(profile: GpuProfile) -> None:
    """Make ``profile`` available under ``profile.name`` (overrides a built-in of that name)."""
    _REGISTERED[profile.name] = profile


@lru_cache(maxsize=64)
def _load_cached(path: str, mtime_ns: int) -> GpuProfile:
    return load_profile_file(path)


def _load(path: Path) -> GpuProfile:
    profile = _load_cached(str(path), path.stat().st_mtime_ns)
    return profile


def get_profile(name_or_path: str) -> GpuProfile:
    """Profile by registry name, or by path to a ``.yaml`` file. Unknown names raise an
    InputError with the closest match and the valid choices."""
    if name_or_path in _REGISTERED:
        return _REGISTERED[name_or_path]
    files = _builtin_files()
    if name_or_path in files:
        profile = _load(files[name_or_path])
        if profile.name != name_or_path:
            raise InputError(
                f"'name' is '{profile.name}' but the file is {name_or_path}.yaml; they must match",
                source=str(files[name_or_path]),
            )
        return profile
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.is_file():
        if not path.is_file():
            raise InputError("GPU profile file not found", source=str(path))
        return _load(path)
    raise unknown_name("GPU profile", name_or_path, list_profiles())
