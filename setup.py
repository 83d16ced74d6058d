"""Build script: compiles the C DRAM engine into ramulator_bridge._engine via cffi.

The YAML configs under configs/ are installed as data files (share/hermes-hw/configs) so a
non-editable install finds them too; see hermes_hw/paths.py.
"""

from pathlib import Path

from setuptools import setup


def _config_data_files() -> list[tuple[str, list[str]]]:
    root = Path(__file__).parent
    groups: dict[str, list[str]] = {}
    for path in sorted((root / "configs").rglob("*.yaml")):
        rel = path.relative_to(root)
        groups.setdefault(str(Path("share/hermes-hw") / rel.parent), []).append(str(rel))
    return sorted(groups.items())


setup(
    cffi_modules=[
        "ramulator_bridge/build_engine.py:ffibuilder",
        "ramulator_bridge/build_traceio.py:ffibuilder",
    ],
    data_files=_config_data_files(),
)
