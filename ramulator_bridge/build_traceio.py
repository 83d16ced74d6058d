"""cffi build script for the trace parser (out-of-line API mode).

Separate from the DRAM engine (build_engine.py) so that trace input can evolve on its own. The
C declarations live in traceio/traceio.h and are given to cffi's cdef after stripping
preprocessor lines. The compiled module is ramulator_bridge._traceio; import it only through
ramulator_bridge.traceio_lib().
"""

from __future__ import annotations

from pathlib import Path

from cffi import FFI

HERE = Path(__file__).resolve().parent
HEADER = HERE / "traceio" / "traceio.h"
SOURCES = sorted((HERE / "traceio").glob("*.c"))


def _cdef_text(header: Path) -> str:
    return "\n".join(
        ln for ln in header.read_text().splitlines() if not ln.lstrip().startswith("#")
    )


ffibuilder = FFI()
ffibuilder.cdef(_cdef_text(HEADER))
ffibuilder.set_source(
    "ramulator_bridge._traceio",
    f'#include "{HEADER.name}"',
    sources=[str(s.relative_to(HERE.parent)) for s in SOURCES],
    include_dirs=[str(HEADER.parent.relative_to(HERE.parent))],
    extra_compile_args=["-O2", "-std=c11", "-Wall", "-Wextra"],
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
