"""cffi build script for the synthetic activation kernel (out-of-line API mode).

The C declarations live in synth/synth.h and are given to cffi's cdef after stripping
preprocessor lines. The compiled module is ramulator_bridge._synth; import it only through
ramulator_bridge.synth_lib().
"""

from __future__ import annotations

from pathlib import Path

from cffi import FFI

HERE = Path(__file__).resolve().parent
HEADER = HERE / "synth" / "synth.h"
SOURCES = sorted((HERE / "synth").glob("*.c"))


def _cdef_text(header: Path) -> str:
    lines = [ln for ln in header.read_text().splitlines() if not ln.lstrip().startswith("#")]
    return "\n".join(lines)


ffibuilder = FFI()
ffibuilder.cdef(_cdef_text(HEADER))
ffibuilder.set_source(
    "ramulator_bridge._synth",
    f'#include "{HEADER.name}"',
    sources=[str(s.relative_to(HERE.parent)) for s in SOURCES],
    include_dirs=[str(HEADER.parent.relative_to(HERE.parent))],
    extra_compile_args=["-O2", "-std=c11", "-Wall", "-Wextra"],
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
