"""cffi build script for the small C kernels (out-of-line API mode), one FFI builder each.

Each kernel is a folder with one header (its C declarations, given to cffi's cdef after
stripping preprocessor lines) and its C sources; setup.py lists each builder in
``cffi_modules``. Import a compiled kernel only through its accessor in ramulator_bridge:

* ``traceio`` -> ramulator_bridge._traceio, ``traceio_lib()``: the trace parser (separate from
  the DRAM engine, build_engine.py, so trace input can evolve on its own);
* ``synth`` -> ramulator_bridge._synth, ``synth_lib()``: the synthetic activation kernel;
* ``timeline`` -> ramulator_bridge._timeline, ``timeline_lib()``: the timeline core that runs
  decode-token programs (hermes_hw/timeline/program.py).
"""

from __future__ import annotations

from pathlib import Path

from cffi import FFI

HERE = Path(__file__).resolve().parent


def kernel_builder(name: str) -> FFI:
    """The FFI builder of kernel ``name`` (folder ``name/``, header ``name/name.h``)."""
    header = HERE / name / f"{name}.h"
    sources = sorted((HERE / name).glob("*.c"))
    builder = FFI()
    builder.cdef("\n".join(ln for ln in header.read_text().splitlines()
                           if not ln.lstrip().startswith("#")))
    builder.set_source(
        f"ramulator_bridge._{name}",
        f'#include "{header.name}"',
        sources=[str(s.relative_to(HERE.parent)) for s in sources],
        include_dirs=[str(header.parent.relative_to(HERE.parent))],
        extra_compile_args=["-O2", "-std=c11", "-Wall", "-Wextra"],
    )
    return builder


traceio_ffi = kernel_builder("traceio")
synth_ffi = kernel_builder("synth")
timeline_ffi = kernel_builder("timeline")

if __name__ == "__main__":
    for builder in (traceio_ffi, synth_ffi, timeline_ffi):
        builder.compile(verbose=True)
