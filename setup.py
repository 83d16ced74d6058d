"""Build script: compiles the C DRAM engine into ramulator_bridge._engine via cffi.

The engine and the trace parser are built profile-guided when the compiler supports it (gcc):
an instrumented build, a short training replay (ramulator_bridge/pgo_train.py), then the final
build with the profile and link-time optimisation; 10-15% faster replays, identical results.
``HERMES_PGO=0`` builds them plainly; any failure of the profile-guided steps is reported and
the plain build is used.

The YAML configs under configs/ are installed as data files (share/hermes-hw/configs) so a
non-editable install finds them too; see hermes_hw/paths.py.
"""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from setuptools import setup
from setuptools.command.build_ext import build_ext

PGO_EXTENSIONS = ("ramulator_bridge._engine", "ramulator_bridge._traceio")
#: link-time optimisation with the profile: ~3% on random traffic (without a profile it is ~3%
#: slower, so the plain build does not use it)
LTO = ["-flto=auto", "-O3"]


class BuildExtPgo(build_ext):
    """build_ext with a profile-guided build of the DRAM engine (see the module docstring)."""

    def _flags(self, exts: list, compile_extra: list[str], link_extra: list[str]) -> None:
        for ext, (compile_args, link_args) in zip(exts, self._plain, strict=True):
            ext.extra_compile_args = compile_args + compile_extra
            ext.extra_link_args = link_args + link_extra

    def run(self) -> None:
        exts = [e for name in PGO_EXTENSIONS for e in self.extensions if e.name == name]
        if len(exts) != len(PGO_EXTENSIONS) or os.environ.get("HERMES_PGO", "1") == "0":
            super().run()
            return
        self._plain = [(list(e.extra_compile_args), list(e.extra_link_args)) for e in exts]
        compiler = self.compiler  # run() replaces the name by a compiler object: restore it
        profile_dir = tempfile.mkdtemp(prefix="hermes-pgo-")
        try:
            self._flags(exts, [*LTO, "-fprofile-generate", "-fprofile-update=single",
                               f"-fprofile-dir={profile_dir}"], [*LTO, "-fprofile-generate"])
            self.force = True
            super().run()
            root = Path(__file__).resolve().parent
            subprocess.run([sys.executable, str(root / "ramulator_bridge" / "pgo_train.py"),
                            str(root), *(self.get_ext_fullpath(e.name) for e in exts)],
                           check=True, timeout=600)
            self._flags(exts, [*LTO, "-fprofile-use", "-fprofile-correction",
                               "-Wno-missing-profile", f"-fprofile-dir={profile_dir}",
                               "-DHD_PROFILE_GUIDED"], LTO)
            self.compiler = compiler
            super().run()
            print("hermes-hw: DRAM engine built profile-guided", file=sys.stderr)
        except Exception as err:  # noqa: BLE001 - any failure falls back to the plain build
            print(f"hermes-hw: profile-guided build of the DRAM engine failed ({err}); "
                  "building it without a profile (HERMES_PGO=0 skips the attempt)",
                  file=sys.stderr)
            self._flags(exts, [], [])
            self.force, self.compiler = True, compiler
            super().run()
        finally:
            shutil.rmtree(profile_dir, ignore_errors=True)


def _config_data_files() -> list[tuple[str, list[str]]]:
    root = Path(__file__).parent
    groups: dict[str, list[str]] = {}
    for path in sorted((root / "configs").rglob("*.yaml")):
        rel = path.relative_to(root)
        groups.setdefault(str(Path("share/hermes-hw") / rel.parent), []).append(str(rel))
    return sorted(groups.items())


setup(
    cmdclass={"build_ext": BuildExtPgo},
    cffi_modules=[
        "ramulator_bridge/build_engine.py:ffibuilder",
        "ramulator_bridge/build_kernels.py:traceio_ffi",
        "ramulator_bridge/build_kernels.py:synth_ffi",
        "ramulator_bridge/build_kernels.py:timeline_ffi",
    ],
    data_files=_config_data_files(),
)
