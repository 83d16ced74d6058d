"""Find the user's Ramulator 2.0 build and compile our shim against it (cffi, API mode).

Nothing of Ramulator2 ships with hermes-hw. ``RAMULATOR2_ROOT`` names a Ramulator 2.0 checkout
(tag v2.0a) in which the user has built ``libramulator.so`` (see docs/ramulator2_backend.md). On
first use, ``shim.cpp`` is compiled against ``$RAMULATOR2_ROOT/src`` and linked with that
library; the result is cached under the user cache directory, keyed by a hash of the shim
sources, this build script and the library's path, size and modification time, so a rebuilt
Ramulator gets a fresh shim.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import ModuleType
from typing import Any

from hermes_hw.errors import InputError

HERE = Path(__file__).resolve().parent
SHIM_SOURCES = (HERE / "shim.h", HERE / "shim.cpp")
ENV_ROOT = "RAMULATOR2_ROOT"
ENV_CACHE = "HERMES_CACHE_DIR"
ENABLE_HINT = (
    f"set {ENV_ROOT}=/path/to/ramulator2 (a Ramulator 2.0 checkout, tag v2.0a, with "
    "libramulator.so built in it; see docs/ramulator2_backend.md)"
)


class Ramulator2Unavailable(InputError):
    """No usable Ramulator2 build: the variable is unset, the folder is wrong, or the shim fails."""


@dataclass(frozen=True)
class Ramulator2Install:
    """A Ramulator2 checkout found through RAMULATOR2_ROOT."""

    root: Path
    library: Path
    version: str  # e.g. "2.0 (v2.0a)" or "2.0"

    @property
    def include_dirs(self) -> list[Path]:
        """Ramulator's src/ plus its fetched yaml-cpp/spdlog headers when built the stock way."""
        dirs = [self.root / "src"]
        for dep in ("yaml-cpp", "spdlog", "fmt"):
            inc = self.root / "ext" / dep / "include"
            if inc.is_dir():
                dirs.append(inc)
        return dirs


def _cmake_version(root: Path) -> str | None:
    try:
        text = (root / "CMakeLists.txt").read_text(errors="replace")
    except OSError:
        return None
    match = re.search(r"project\s*\(\s*Ramulator\b[^)]*?VERSION\s+([0-9.]+)", text, re.S | re.I)
    return match.group(1) if match else None


def _git_describe(root: Path) -> str | None:
    if not (root / ".git").exists() or shutil.which("git") is None:
        return None
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "describe", "--tags", "--always", "--dirty"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def find_install(root: str | os.PathLike[str] | None = None) -> Ramulator2Install:
    """Locate and check the Ramulator2 build (``root`` or $RAMULATOR2_ROOT)."""
    raw = str(root) if root is not None else os.environ.get(ENV_ROOT, "")
    if not raw:
        raise Ramulator2Unavailable(
            f"the ramulator2 backend needs a Ramulator2 build: {ENABLE_HINT}"
        )
    path = Path(raw).expanduser().resolve()
    source = f"{ENV_ROOT}={raw}"
    if not path.is_dir():
        raise Ramulator2Unavailable(f"not a directory; {ENABLE_HINT}", source=source)
    if (path / "src" / "ramulator" / "base" / "base.h").is_file():
        raise Ramulator2Unavailable(
            "this is Ramulator 2.1 or later (src/ramulator/ layout, Python-configured), whose C++ "
            "API differs; the ramulator2 backend supports Ramulator 2.0: check out tag v2.0a",
            source=source,
        )
    if not (path / "src" / "base" / "base.h").is_file():
        raise Ramulator2Unavailable(
            f"no src/base/base.h: not a Ramulator 2.0 checkout; {ENABLE_HINT}", source=source
        )
    library = next(
        (p for p in (path / "libramulator.so", path / "build" / "libramulator.so") if p.is_file()),
        None,
    )
    if library is None:
        raise Ramulator2Unavailable(
            "libramulator.so not found (looked in the checkout root and build/): build Ramulator2 "
            "first (cmake -B build -DCMAKE_BUILD_TYPE=Release && cmake --build build); "
            "see docs/ramulator2_backend.md",
            source=source,
        )
    cmake = _cmake_version(path)
    describe = _git_describe(path)
    if cmake and not cmake.startswith("2.0"):
        raise Ramulator2Unavailable(
            f"Ramulator {cmake} found; the ramulator2 backend supports Ramulator 2.0 (tag v2.0a)",
            source=source,
        )
    version = cmake or "unknown"
    if describe:
        version = f"{version} ({describe})"
    return Ramulator2Install(root=path, library=library, version=version)


def _needed_libraries(library: Path) -> list[str]:
    """yaml-cpp / fmt / spdlog when libramulator.so links them as shared libraries (distro build).

    The shim calls into yaml-cpp (and fmt through spdlog's headers) itself, so it must link the
    same shared libraries; with Ramulator's stock build they are static inside libramulator.so.
    """
    data = library.read_bytes()
    names = []
    for lib in ("yaml-cpp", "fmt", "spdlog"):
        if re.search(rb"\x00lib" + re.escape(lib.encode()) + rb"\.so[0-9.]*\x00", data):
            names.append(lib)
    return names


def cache_root() -> Path:
    """Where compiled shims are kept: $HERMES_CACHE_DIR, else $XDG_CACHE_HOME or ~/.cache."""
    if os.environ.get(ENV_CACHE):
        return Path(os.environ[ENV_CACHE]).expanduser() / "ramulator2"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "hermes-hw" / "ramulator2"


def shim_key(install: Ramulator2Install) -> str:
    """Hash of the shim sources, this script, the library (path, size, mtime) and Python ABI."""
    digest = hashlib.sha256()
    for src in (*SHIM_SOURCES, Path(__file__)):
        digest.update(src.read_bytes())
    stat = install.library.stat()
    digest.update(f"{install.library}|{stat.st_size}|{stat.st_mtime_ns}".encode())
    digest.update(sys.implementation.cache_tag.encode())
    return digest.hexdigest()[:16]


def _cdef() -> str:
    text = (HERE / "shim.h").read_text()
    body = [ln for ln in text.splitlines() if not ln.lstrip().startswith("#")]
    cdef = "\n".join(body)
    cdef = re.sub(r'extern\s+"C"\s*\{|^\}\s*$', "", cdef, flags=re.M)
    return "#define HR2_MAX_COMMANDS ...\n" + cdef.replace("[HR2_MAX_COMMANDS]", "[...]")


def _compile(install: Ramulator2Install, module_name: str, target_dir: Path) -> Path:
    from cffi import FFI

    ffi = FFI()
    ffi.cdef(_cdef())
    ffi.set_source(
        module_name,
        '#include "shim.h"',
        source_extension=".cpp",
        sources=[str(HERE / "shim.cpp")],
        include_dirs=[str(HERE), *map(str, install.include_dirs)],
        library_dirs=[str(install.library.parent)],
        libraries=["ramulator", *_needed_libraries(install.library)],
        extra_compile_args=["-std=c++20", "-O2", "-g0", "-w"],
        extra_link_args=[f"-Wl,-rpath,{install.library.parent}"],
    )
    with tempfile.TemporaryDirectory(prefix="build-", dir=target_dir) as tmp:
        log = target_dir / "build.log"
        try:
            built = Path(ffi.compile(tmpdir=tmp, verbose=False))
        except Exception as err:  # noqa: BLE001 - any compiler/linker failure
            log.write_text(f"{type(err).__name__}: {err}\n")
            raise Ramulator2Unavailable(
                f"compiling the shim against {install.root} failed: {err} (log: {log})"
            ) from err
        final = target_dir / built.name
        os.replace(built, final)
    return final


def _load(path: Path, module_name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:  # pragma: no cover
        raise Ramulator2Unavailable(f"cannot load the compiled shim {path}")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except ImportError as err:
        raise Ramulator2Unavailable(
            f"loading the compiled shim {path} failed: {err} (delete it to rebuild)"
        ) from err
    return module


def cached_shim_path(install: Ramulator2Install) -> Path | None:
    """The compiled shim for this install if it is already in the cache."""
    folder = cache_root() / shim_key(install)
    found = sorted(folder.glob("_hermes_r2shim_*.so")) if folder.is_dir() else []
    return found[0] if found else None


@lru_cache(maxsize=4)
def _shim_for(root: Path) -> tuple[Any, Any]:
    install = find_install(root)
    key = shim_key(install)
    module_name = f"_hermes_r2shim_{key}"
    folder = cache_root() / key
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one compiler at a time per key (parallel tests)
        path = cached_shim_path(install) or _compile(install, module_name, folder)
    module = _load(path, module_name)
    return module.ffi, module.lib


def shim(root: str | os.PathLike[str] | None = None) -> tuple[Any, Any]:
    """``(ffi, lib)`` of the shim for ``root`` (default $RAMULATOR2_ROOT); compiles on first use."""
    return _shim_for(find_install(root).root)
