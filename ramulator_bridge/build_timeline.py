"""cffi build script for the timeline core (out-of-line API mode).

Runs decode-token programs (hermes_hw/timeline/program.py) in C. The
C declarations live in timeline/timeline.h and are given to cffi's cdef after stripping
preprocessor lines. The compiled module is ramulator_bridge._timeline; import it only through
ramulator_bridge.timeline_lib().
"""

from __future__ import annotations

from pathlib import Path

from cffi import FFI

HERE = Path(__file__).resolve().parent
HEADER = HERE / "timeline" / "timeline.h"
SOURCES = sorted((HERE / "timeline").glob("*.c"))


def _cdef_text(header: Path) -> str:
    return "\n".join(
        ln for ln in header.read_text().splitlines() if not ln.lstrip().startswith("#")
    )


ffibuilder = FFI()
ffibuilder.cdef(_cdef_text(HEADER))
ffibuilder.set_source(
    "ramulator_bridge._timeline",
    f'#include "{HEADER.name}"',
    sources=[str(s.relative_to(HERE.parent)) for s in SOURCES],
    include_dirs=[str(HEADER.parent.relative_to(HERE.parent))],
    extra_compile_args=["-O2", "-std=c11", "-Wall", "-Wextra"],
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
