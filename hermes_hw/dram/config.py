"""DRAM configuration: Ramulator 2.0 YAML (Frontend / MemorySystem / DRAM / Controller / ...)
plus a few hermes-hw extensions, validated with pydantic. Unknown keys are errors.

Extensions (all optional): ``MemorySystem.access_mode`` (host | ndp), ``MemorySystem.backend``,
``Controller.{read,write,active,priority}_buffer_size``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
)

from hermes_hw.errors import InputError, closest_match_hint
from hermes_hw.yaml_io import safe_load


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _unit_names(kind: str) -> list[str]:
    from ramulator_bridge.builtin import unit_names

    return unit_names(kind)


def _check_unit(kind: str, value: str, info: ValidationInfo) -> str:
    """Unit names are checked against the built-in engine; another backend (a user's Ramulator2
    fork with its own schedulers, say) checks its own names."""
    if (info.context or {}).get("backend", "builtin") != "builtin":
        return value
    names = _unit_names(kind)
    if value not in names:
        raise ValueError(f"unknown {kind} '{value}'{closest_match_hint(value, names)}")
    return value


class OrgConfig(_Strict):
    """Organisation: a preset plus overrides of any level count."""

    preset: str | None = Field(None, description="organisation preset, e.g. DDR4_8Gb_x8")
    channel: int = Field(1, ge=1, description="channels (count)")
    rank: int = Field(1, ge=1, description="ranks per channel (count)")
    bankgroup: int | None = Field(None, ge=1, description="bank groups per rank (count)")
    bank: int | None = Field(None, ge=1, description="banks per bank group (count)")
    row: int | None = Field(None, ge=1, description="rows per bank (count)")
    column: int | None = Field(None, ge=1, description="device columns per row (count)")
    dq: int | None = Field(None, ge=1, description="device data width (bits)")
    density: int | None = Field(None, ge=1, description="device density (Mb)")
    channel_width: int | None = Field(None, ge=1, description="channel data bus width (bits)")


class DramDeviceConfig(_Strict):
    """The DRAM device: standard, organisation, timing (preset + nXXX cycles / tXXX ns)."""

    impl: str = Field("DDR4", description="DRAM standard (a file in configs/dram/standards/)")
    org: OrgConfig = Field(default_factory=OrgConfig, description="organisation")
    timing: dict[str, Any] = Field(
        default_factory=dict,
        description="timing preset and overrides: nXXX in cycles or tXXX in ns",
    )
    RFM: dict[str, int] | None = Field(
        None, description="accepted for Ramulator2 DDR5 configs; RFM is not modelled"
    )


def _unit(kind: str) -> Any:
    """A unit name checked against the built-in engine's registry for ``kind``."""
    return Annotated[str, AfterValidator(lambda v, info: _check_unit(kind, v, info))]


class SchedulerConfig(_Strict):
    impl: _unit("scheduler") = Field("FRFCFS", description="scheduler unit (FRFCFS, FCFS)")


class RefreshConfig(_Strict):
    impl: _unit("refresh manager") = Field(
        "AllBank", description="refresh manager unit (AllBank, SameBank for DDR5, NoRefresh)"
    )


class RowPolicyConfig(_Strict):
    impl: _unit("row policy") = Field(
        "OpenRowPolicy", description="row policy (OpenRowPolicy, ClosedRowPolicy)"
    )
    cap: int = Field(
        10_000_000, ge=1, description="ClosedRowPolicy: column accesses before a precharge (count)"
    )


class AddrMapperConfig(_Strict):
    impl: _unit("address mapper") = Field(
        "RoBaRaCoCh", description="address mapper (RoBaRaCoCh, ChRaBaRoCo, RoCoBaRaCh, MOP4CLXOR)"
    )


class PluginSpec(_Strict):
    impl: Literal["CommandCounter", "TraceRecorder"] = Field(
        description="CommandCounter -> command counts; TraceRecorder -> command log"
    )
    path: str | None = Field(None, description="output file (resolved next to the config)")
    commands_to_count: list[str] | None = Field(None, description="commands to count")


class PluginEntry(_Strict):
    ControllerPlugin: PluginSpec


class ControllerConfig(_Strict):
    """Ramulator2 v2.0a 'Generic' controller."""

    impl: Literal["Generic"] = Field("Generic", description="controller model")
    wr_low_watermark: float = Field(
        0.2, ge=0, le=1, description="leave write mode below (fraction of write queue)")
    wr_high_watermark: float = Field(
        0.8, ge=0, le=1, description="enter write mode above (fraction of write queue)")
    read_buffer_size: int = Field(
        32, ge=1, le=4094,
        description="read queue max_size (Ramulator2 ReqBuffer: holds max_size+1)",
    )
    write_buffer_size: int = Field(32, ge=1, le=4094, description="write queue max_size (as above)")
    active_buffer_size: int = Field(
        32, ge=1, le=4094, description="active buffer max_size (as above)"
    )
    priority_buffer_size: int = Field(1568, ge=1, le=4094, description="priority buffer max_size")
    Scheduler: SchedulerConfig = Field(default_factory=SchedulerConfig)
    RefreshManager: RefreshConfig = Field(default_factory=RefreshConfig)
    RowPolicy: RowPolicyConfig = Field(default_factory=RowPolicyConfig)
    plugins: list[PluginEntry] = Field(default_factory=list, description="controller plugins")


class MemorySystemConfig(_Strict):
    impl: Literal["GenericDRAM"] = Field("GenericDRAM", description="memory system model")
    clock_ratio: int = Field(1, ge=1, description="memory cycles per frontend tick (ratio)")
    access_mode: Literal["host", "ndp"] = Field(
        "host",
        description="host: ranks share the channel bus; ndp: each rank has its own path to the "
        "DIMM buffer chip (rank-level parallelism)",
    )
    backend: str = Field("builtin", description="DRAM backend (builtin, ramulator2)")
    DRAM: DramDeviceConfig = Field(default_factory=DramDeviceConfig)
    Controller: ControllerConfig = Field(default_factory=ControllerConfig)
    AddrMapper: AddrMapperConfig = Field(default_factory=AddrMapperConfig)


class FrontendConfig(_Strict):
    impl: Literal["LoadStoreTrace", "ReadWriteTrace"] = Field(
        "LoadStoreTrace", description="trace format of `path`"
    )
    clock_ratio: int = Field(1, ge=1, le=1, description="frontend ticks per step (only 1)")
    path: str | None = Field(None, description="trace file (relative to the config file)")


class DramConfig(_Strict):
    """A whole DRAM config file."""

    Frontend: FrontendConfig | None = None
    MemorySystem: MemorySystemConfig = Field(default_factory=MemorySystemConfig)
    source: str | None = Field(None, exclude=True, description="file the config came from")


def _format_error(err: ValidationError) -> str:
    first = err.errors()[0]
    path = ".".join(str(p) for p in first["loc"]) or "(top level)"
    msg = first["msg"]
    if first["type"] == "extra_forbidden":
        msg = "unknown key (not supported by hermes-hw)"
    elif msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    more = len(err.errors()) - 1
    return f"{path}: {msg}" + (f" (and {more} more error(s))" if more else "")


def parse_config(data: Any, source: str = "<config>", backend: str | None = None) -> DramConfig:
    """Validate a config mapping; bad input raises InputError naming the key path.
    ``backend`` (else MemorySystem.backend) decides who checks the unit names."""
    if not isinstance(data, dict):
        raise InputError("expected a YAML mapping with a 'MemorySystem' key", source=source)
    ms = data.get("MemorySystem")
    if backend is None and isinstance(ms, dict):
        backend = ms.get("backend")
    try:
        cfg = DramConfig.model_validate(data, context={"backend": backend or "builtin"})
    except ValidationError as err:
        raise InputError(_format_error(err), source=source) from None
    cfg.source = source
    return cfg


def load_config(path: str | Path, backend: str | None = None) -> DramConfig:
    """Read and validate a YAML config file (yaml.safe_load; nothing is executed)."""
    p = Path(path)
    if not p.is_file():
        raise InputError("config file not found", source=str(p))
    try:
        data = safe_load(p.read_text())
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{p}:{mark.line + 1}" if mark else str(p)
        problem = getattr(err, "problem", None) or "malformed YAML"
        raise InputError(f"malformed YAML: {problem}", source=where) from None
    return parse_config(data, source=str(p), backend=backend)
