"""DRAM standards as data: load configs/dram/standards/<NAME>.yaml and resolve presets.

A standard file lists its commands, organisation presets, timing presets, secondary-timing
tables (by DQ width and data rate, refresh by density) and the timing-constraint table. Adding a
standard = adding one YAML file (its commands must be among the engine's command set).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from hermes_hw.errors import InputError, unknown_name
from hermes_hw.paths import configs_dir
from hermes_hw.yaml_io import safe_load

#: Command set of the C engine (ids match HD_CMD_* in hermes_dram.h).
ENGINE_COMMANDS: tuple[str, ...] = (
    "ACT", "PRE", "PREA", "PREsb", "RD", "WR", "RDA", "WRA", "REFab", "REFsb",
)
LEVELS: tuple[str, ...] = ("channel", "rank", "bankgroup", "bank")
ORG_FIELDS: tuple[str, ...] = ("density", "dq", "bankgroup", "bank", "row", "column")


@dataclass(frozen=True)
class Constraint:
    """After ``prev`` at ``level``, ``next`` waits ``latency`` (an expression) cycles."""

    level: str
    prev: tuple[str, ...]
    next: tuple[str, ...]
    latency: str | int
    window: int = 1
    sibling: bool = False


@dataclass(frozen=True)
class Standard:
    """One DRAM standard loaded from its YAML file."""

    name: str
    path: Path
    internal_prefetch: int
    channel_width_bits: int
    rounding: str
    commands: tuple[str, ...]
    refresh_busy: dict[str, str]
    read_latency: str
    org_presets: dict[str, dict[str, int]]
    timing_fields: tuple[str, ...]
    timing_presets: dict[str, dict[str, int]]
    secondary: dict[str, Any]
    constraints: tuple[Constraint, ...]
    timing_names: tuple[str, ...] = field(default=())

    def to_cycles(self, t_ns: float, tck_ps: int) -> int:
        """Convert nanoseconds to cycles with the standard's JEDEC rounding (as Ramulator2)."""
        t_ps = int(t_ns * 1000)
        if self.rounding == "jedec_ddr5":
            return (t_ps * 997 // tck_ps + 1000) // 1000
        return (t_ps * 1000 // tck_ps + 974) // 1000


def standards_dir() -> Path:
    return configs_dir() / "dram" / "standards"


def available_standards() -> list[str]:
    return sorted(p.stem for p in standards_dir().glob("*.yaml"))


@cache
def load_standard(name: str) -> Standard:
    """Load a standard by name (e.g. "DDR4"); unknown names list the valid ones."""
    path = standards_dir() / f"{name}.yaml"
    if not path.is_file():
        raise unknown_name("DRAM standard", name, available_standards())
    raw = safe_load(path.read_text())
    org_presets = {
        k: dict(zip(ORG_FIELDS, v, strict=True)) for k, v in raw["org_presets"].items()
    }
    fields = tuple(raw["timing_fields"])
    timing_presets = {
        k: dict(zip(fields, v, strict=True)) for k, v in raw["timing_presets"].items()
    }
    constraints = tuple(
        Constraint(
            level=c["level"],
            prev=tuple(c["prev"]),
            next=tuple(c["next"]),
            latency=c["latency"],
            window=int(c.get("window", 1)),
            sibling=bool(c.get("sibling", False)),
        )
        for c in raw["constraints"]
    )
    unknown = {
        cmd
        for c in constraints
        for cmd in (*c.prev, *c.next)
        if cmd not in ENGINE_COMMANDS
    } | {cmd for cmd in raw["commands"] if cmd not in ENGINE_COMMANDS}
    if unknown:
        raise InputError(f"commands {sorted(unknown)} are not in the engine's command set "
                         f"{list(ENGINE_COMMANDS)}", source=str(path))
    secondary = raw.get("secondary", {})
    derived = [k for k in ("nRRDS", "nRRDL", "nFAW") if k in secondary]
    refresh = ["nRFC1", "nRFCsb"] if "tRFCsb_ns" in secondary else ["nRFC"]
    names = (*fields[1:], *derived, *refresh, "nREFI")
    return Standard(
        name=raw["name"],
        path=path,
        internal_prefetch=int(raw["internal_prefetch"]),
        channel_width_bits=int(raw["channel_width_bits"]),
        rounding=raw["rounding"],
        commands=tuple(raw["commands"]),
        refresh_busy=dict(raw["refresh_busy"]),
        read_latency=raw["read_latency"],
        org_presets=org_presets,
        timing_fields=fields,
        timing_presets=timing_presets,
        secondary=secondary,
        constraints=constraints,
        timing_names=tuple(dict.fromkeys(names)),
    )


def secondary_timings(std: Standard, dq: int, rate: int, density_mb: int, tck_ps: int) -> dict:
    """Timings that depend on DQ width, data rate and density (JEDEC tables), in cycles."""
    sec = std.secondary
    out: dict[str, int] = {}
    rates = sec.get("rates", [])
    if rate in rates:
        i = rates.index(rate)
        for key in ("nRRDS", "nRRDL", "nFAW"):
            table = sec.get(key)
            if table and dq in table:
                out[key] = int(table[dq][i])
        if dq == 4 and "nCCDL_WR_x4" in sec:
            out["nCCDL_WR"] = int(sec["nCCDL_WR_x4"][i])
    trfc = sec.get("tRFC_ns", {})
    if density_mb in trfc:
        key = "nRFC1" if "tRFCsb_ns" in sec else "nRFC"
        out[key] = std.to_cycles(trfc[density_mb], tck_ps)
    if "tRFCsb_ns" in sec and density_mb in sec["tRFCsb_ns"]:
        out["nRFCsb"] = std.to_cycles(sec["tRFCsb_ns"][density_mb], tck_ps)
    if "tREFI_ns" in sec:
        out["nREFI"] = std.to_cycles(sec["tREFI_ns"], tck_ps)
    return out
