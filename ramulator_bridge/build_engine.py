"""cffi build script for the C DRAM engine (out-of-line API mode).

The C declarations live in include/*.h (one header per component); the same headers are given to
cffi's cdef, after stripping preprocessor lines. The compiled module is ramulator_bridge._engine;
import it only through ramulator_bridge.engine_lib().
"""

from __future__ import annotations

import re
from pathlib import Path

from cffi import FFI

HERE = Path(__file__).resolve().parent
HEADERS = sorted((HERE / "include").glob("*.h"))
SOURCES = sorted((HERE / "src").glob("*.c"))


_NUMERIC_DEFINE = re.compile(r"^\s*#define\s+\w+\s+\d+\s*$")


def _cdef_text(header: Path) -> str:
    """Header text for cdef: keeps numeric #defines (cffi constants), drops other directives."""
    lines = [
        ln
        for ln in header.read_text().splitlines()
        if not ln.lstrip().startswith("#") or _NUMERIC_DEFINE.match(ln)
    ]
    text = "\n".join(lines)
    return re.sub(r'extern\s+"C"\s*\{|^\}\s*$', "", text, flags=re.M)


ffibuilder = FFI()
for _header in HEADERS:
    ffibuilder.cdef(_cdef_text(_header))
ffibuilder.set_source(
    "ramulator_bridge._engine",
    "\n".join(f'#include "{h.name}"' for h in HEADERS),
    sources=[str(s.relative_to(HERE.parent)) for s in SOURCES],
    include_dirs=[str((HERE / "include").relative_to(HERE.parent))],
    # hidden visibility: calls between the engine's files need no PLT indirection
    extra_compile_args=["-O3", "-std=c11", "-Wall", "-Wno-unused-function", "-fvisibility=hidden",
                        "-Werror=implicit-function-declaration"],
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
