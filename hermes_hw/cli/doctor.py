"""`hermes doctor`: versions, the active DRAM backend and whether a C compiler is found."""

from __future__ import annotations

import argparse
import platform
import shutil
import sys


def _engine_line() -> str:
    try:
        from ramulator_bridge import engine

        ffi, lib = engine()
        return f"built-in C engine: {ffi.string(lib.hd_version()).decode()} (active)"
    except ImportError as err:
        return f"built-in C engine: NOT BUILT ({err})"


def _kernel_lines() -> list[str]:
    """One line per other compiled C module (trace parser, synthetic activation kernel,
    timeline core: without it token programs run in Python, the same results, slower)."""
    import ramulator_bridge

    lines = []
    for what, loader in (("C trace parser", ramulator_bridge.traceio_lib),
                         ("C synthetic activation kernel", ramulator_bridge.synth_lib),
                         ("C timeline core", ramulator_bridge.timeline_lib)):
        try:
            _, lib = loader()
            level = ""
            if hasattr(lib, "hs_simd_level"):  # the activation kernel's instruction set
                names = {0: "plain C", 1: "SSE2", 2: "AVX2", 3: "AVX2 + AVX-512 IFMA draws"}
                level = f" ({names.get(lib.hs_simd_level(), 'level ' + str(lib.hs_simd_level()))})"
            lines.append(f"{what}: built{level}")
        except ImportError as err:
            lines.append(f"{what}: NOT BUILT ({err})")
    return lines


def _version(module: str) -> str:
    try:
        mod = __import__(module)
        return getattr(mod, "__version__", "installed")
    except ImportError:
        return "not installed"


def run(args: argparse.Namespace) -> int:
    from hermes_hw import __version__

    lines = [
        f"hermes-hw {__version__}",
        f"python {platform.python_version()} ({sys.executable})",
        f"platform {platform.platform()}",
        _engine_line(),
        *_kernel_lines(),
        __import__("ramulator_bridge.ramulator2").ramulator2.doctor_line(),
        f"C compiler: {shutil.which('cc') or shutil.which('gcc') or 'not found'}",
    ]
    for module in ("numpy", "cffi", "yaml", "pydantic", "pulp", "matplotlib", "tqdm"):
        lines.append(f"{module} {_version(module)}")
    for module in ("torch", "dask", "google.protobuf"):
        lines.append(f"optional {module}: {_version(module)}")
    print("\n".join(lines))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("doctor", help="show versions, DRAM backend and compiler")
    parser.set_defaults(func=run)
