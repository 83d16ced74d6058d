"""Resolve a DramConfig into concrete numbers: organisation counts, every timing in cycles, the
constraint table (adapted to the access mode) and the derived quantities (tCK, capacity)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hermes_hw.dram.config import DramConfig
from hermes_hw.dram.expressions import evaluate
from hermes_hw.dram.standards import LEVELS, Standard, load_standard, secondary_timings
from hermes_hw.errors import InputError, closest_match_hint


@dataclass
class ResolvedDram:
    """Everything the engines need, with units in the names."""

    standard: Standard
    org: dict[str, int]  # channel, rank, bankgroup, bank, row, column (device), dq, density
    transactions_per_row: int      # columns / internal prefetch
    tx_bytes: int                  # bytes per RD/WR
    timings: dict[str, int]        # nXXX in cycles (plus rate in MT/s)
    tck_ps: int
    read_latency_cycles: int
    constraints: list[tuple[int, str, str, int, int, bool]]  # level, prev, next, lat, window, sib
    access_mode: str
    capacity_bytes: int
    overrides: dict[str, Any] = field(default_factory=dict)

    @property
    def tck_ns(self) -> float:
        return self.tck_ps / 1000.0

    def summary(self) -> dict[str, Any]:
        """JSON-able description (saved as the resolved config)."""
        return {
            "standard": self.standard.name,
            "org": dict(self.org),
            "transactions_per_row": self.transactions_per_row,
            "tx_bytes": self.tx_bytes,
            "tck_ps": self.tck_ps,
            "timings_cycles": dict(self.timings),
            "read_latency_cycles": self.read_latency_cycles,
            "access_mode": self.access_mode,
            "capacity_bytes": self.capacity_bytes,
        }


def resolve(cfg: DramConfig) -> ResolvedDram:
    src = cfg.source or "<config>"
    ms = cfg.MemorySystem
    dev = ms.DRAM
    where = "MemorySystem.DRAM"
    try:
        std = load_standard(dev.impl)
    except InputError as err:
        raise InputError(f"{where}.impl: {err}", source=src) from None
    # organisation
    org_cfg = dev.org
    if org_cfg.preset is not None:
        if org_cfg.preset not in std.org_presets:
            raise InputError(f"{where}.org.preset: unknown organisation preset '{org_cfg.preset}'"
                             f"{closest_match_hint(org_cfg.preset, std.org_presets)}", source=src)
        org = dict(std.org_presets[org_cfg.preset])
    else:
        org = {}
    for key in ("dq", "density", "bankgroup", "bank", "row", "column"):
        value = getattr(org_cfg, key)
        if value is not None:
            org[key] = value
        elif key not in org:
            raise InputError(f"{where}.org.{key}: required when no preset is given", source=src)
    org["channel"] = org_cfg.channel
    org["rank"] = org_cfg.rank
    width = org_cfg.channel_width or std.channel_width_bits
    density = org["bankgroup"] * org["bank"] * org["row"] * org["column"] * org["dq"] >> 20
    if density != org["density"]:
        raise InputError(f"{where}.org: computed chip density {density} Mb does not equal the "
                         f"density {org['density']} Mb", source=src)
    for key in ("channel", "rank", "bankgroup", "bank", "row", "column"):
        if org[key] & (org[key] - 1):
            raise InputError(f"{where}.org.{key}: must be a power of two, got {org[key]}",
                             source=src)
    # timing
    timing = dict(dev.timing)
    preset = timing.pop("preset", None)
    if preset is None:
        raise InputError(f"{where}.timing.preset: required (valid: "
                         f"{', '.join(std.timing_presets)})", source=src)
    if preset not in std.timing_presets:
        raise InputError(f"{where}.timing.preset: unknown timing preset '{preset}'"
                         f"{closest_match_hint(str(preset), std.timing_presets)}", source=src)
    values = dict(std.timing_presets[preset])
    if "rate" in timing:
        raise InputError(f"{where}.timing.rate: cannot change the rate of a speed preset",
                         source=src)
    tck_ps = int(1e6 / (values["rate"] / 2))
    values.update(secondary_timings(std, org["dq"], values["rate"], org["density"], tck_ps))
    names = std.timing_names
    for key, raw in timing.items():
        n_key = "n" + key[1:] if key.startswith("t") else key
        if n_key not in names:
            raise InputError(f"{where}.timing.{key}: unknown timing"
                             f"{closest_match_hint(key, names)}", source=src)
        if key.startswith("n"):
            if not isinstance(raw, int) or isinstance(raw, bool) or raw < 0:
                raise InputError(f"{where}.timing.{key}: expected a non-negative integer number "
                                 f"of cycles, got {raw!r}", source=src)
            values[n_key] = raw
        else:
            if not isinstance(raw, (int, float)) or isinstance(raw, bool) or raw < 0:
                raise InputError(f"{where}.timing.{key}: expected a non-negative time in ns, "
                                 f"got {raw!r}", source=src)
            values[n_key] = std.to_cycles(float(raw), tck_ps)
    missing = [n for n in names if n not in values]
    if missing:
        raise InputError(f"{where}.timing: {', '.join(missing)} not specified (and not derivable "
                         f"for dq={org['dq']}, rate={values['rate']})", source=src)
    refresh = ms.Controller.RefreshManager.impl
    if refresh == "SameBank" and "REFsb" not in std.commands:
        raise InputError(f"MemorySystem.Controller.RefreshManager.impl: SameBank needs the REFsb "
                         f"command, which {std.name} does not have (use AllBank)", source=src)
    # constraints, adapted to the access mode
    ndp = ms.access_mode == "ndp"
    cons: list[tuple[int, str, str, int, int, bool]] = []
    for i, c in enumerate(std.constraints):
        lat = evaluate(c.latency, values, where=f"{std.path}: constraints[{i}]")
        level = LEVELS.index(c.level)
        if ndp and c.level == "rank" and c.sibling:
            continue  # each rank has its own data path: no rank-to-rank switching
        if ndp and c.level == "channel":
            level = LEVELS.index("rank")  # the channel bus constraints apply per rank
        for p in c.prev:
            for n in c.next:
                cons.append((level, p, n, lat, c.window, c.sibling))
    tx_bytes = std.internal_prefetch * width // 8
    tpr = org["column"] // std.internal_prefetch
    capacity = org["channel"] * org["rank"] * org["bankgroup"] * org["bank"] * org["row"] * tpr
    return ResolvedDram(
        standard=std,
        org=org,
        transactions_per_row=tpr,
        tx_bytes=tx_bytes,
        timings=values,
        tck_ps=tck_ps,
        read_latency_cycles=evaluate(std.read_latency, values, where=str(std.path)),
        constraints=cons,
        access_mode=ms.access_mode,
        capacity_bytes=capacity * tx_bytes,
        overrides=timing,
    )

