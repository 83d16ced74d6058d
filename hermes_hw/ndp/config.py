"""Configuration of the NDP unit and of one NDP system (pydantic, paper defaults).

Sources: paper Table II ([P]) unless a field says [O] (open in the paper: our documented default,
see docs/ndp.md).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hermes_hw.errors import InputError, closest_match_hint


class NdpUnitConfig(BaseModel):
    """One NDP core in a DIMM's buffer chip (paper Table II)."""

    model_config = ConfigDict(extra="forbid")

    clock_ghz: float = Field(1.0, gt=0, description="NDP core clock (GHz) [P: 1 GHz]")
    multipliers: int = Field(256, gt=0, description="bit-serial multipliers in the GEMV unit [P]")
    lanes_per_multiplier: int = Field(
        8, gt=0, description="FP16 values per multiplier operand (128-bit operand = 8 FP16) [P]")
    cycles_per_op: float = Field(
        2.0, gt=0,
        description="NDP cycles per bit-serial multiply of one 8-lane operand (throughput) [O]: "
                    "2 = the smallest integer for which the paper's 256 multipliers keep batch 16 "
                    "bandwidth-bound at the DIMM's simulated ~95 GB/s; calibrated in issue 5")
    buffer_bytes: int = Field(
        256 * 1024, gt=0, description="GEMV buffer (bytes); caps data fetched but not consumed [P]")
    activation_lanes: int = Field(
        256, gt=0, description="FP16 exp units / adders / multipliers of the activation unit [P]")
    softmax_passes: int = Field(
        3, gt=0, description="passes over the scores per softmax (max, exp+sum, scale) [O]")
    element_bytes: int = Field(2, gt=0, description="bytes per weight / activation (FP16)")
    link_gbps: float = Field(
        25.0, gt=0, description="DIMM-Link bandwidth (GB/s) that paces remap transfers [P]")
    pcie_gbps_per_dimm: float = Field(
        8.0, gt=0,
        description="PCIe share (GB/s) pacing DIMM->GPU promotions: 64 GB/s / 8 DIMMs [O]")
    write_fence: bool = Field(
        False,
        description="an op with a cross-DIMM barrier (reduce) starts only once every write "
                    "posted before it is in DRAM (WR issued + tCWL + tBL) [O]")

    @property
    def macs_per_ndp_cycle(self) -> float:
        """Peak multiply-accumulates per NDP cycle."""
        return self.multipliers * self.lanes_per_multiplier / self.cycles_per_op

    @property
    def ndp_cycle_ns(self) -> float:
        return 1.0 / self.clock_ghz


class LayoutConfig(BaseModel):
    """How weights and KV cache are placed in each DIMM's physical address space."""

    model_config = ConfigDict(extra="forbid")

    policy: str = Field("interleaved", description="layout policy name (hermes_hw.layout.POLICIES)")
    kv_partition: Literal["head", "token"] = Field(
        "head", description="KV cache across DIMMs: whole KV heads per DIMM, or context slices [O]")
    remap_headroom: float = Field(
        0.25, ge=0, description="spare neuron slots per (block, DIMM) for remapping, as a share")
    neuron_align_bytes: int = Field(
        64, gt=0, description="alignment of each neuron's first byte (a multiple of 64)")


class FastModeConfig(BaseModel):
    """How ``hermes replay --fast`` chooses between its fitted analytical model and cycle-level
    replay (simulation options, not hardware; not part of the fit's cache key)."""

    model_config = ConfigDict(extra="forbid")

    tolerance: float = Field(
        0.03, gt=0,
        description="largest per-layer error (fraction, 0.03 = 3%) of the fitted analytical "
                    "model on its calibration layers and held-out DIMM for the analytical "
                    "model to be used")
    exact_max_requests: int = Field(
        65_536, ge=0,
        description="when the fit misses `tolerance`: a trace with at most this many 64 B "
                    "requests per token (all DIMMs) is replayed cycle-level instead (about "
                    "40 ms per token, docs/performance.md); larger ones use the analytical "
                    "model with a warning; 0 = never")


class NdpSystemConfig(BaseModel):
    """Everything the lowering and replay depend on besides the workload."""

    model_config = ConfigDict(extra="forbid")

    dram: str | dict = Field(
        "hermes_ndp_dimm.yaml",
        description="DRAM config of one DIMM: a file in configs/dram, a path, or a mapping")
    n_dimms: int = Field(8, gt=0, description="NDP-DIMMs [P: 8]")
    unit: NdpUnitConfig = Field(default_factory=NdpUnitConfig)
    layout: LayoutConfig = Field(default_factory=LayoutConfig)
    fast: FastModeConfig = Field(default_factory=FastModeConfig)

    def dram_mapping(self) -> dict:
        """The DRAM config as a mapping (a named file is read from configs/dram or the path)."""
        if isinstance(self.dram, dict):
            return self.dram
        from hermes_hw.paths import configs_dir

        path = Path(self.dram)
        if not path.exists():
            path = configs_dir() / "dram" / self.dram
        if not path.exists():
            raise InputError(f"DRAM config '{self.dram}' not found (a file in configs/dram or a "
                             "path)")
        try:
            data = yaml.safe_load(path.read_text())
        except yaml.YAMLError as err:
            raise InputError(f"{path}: not valid YAML: {err}") from None
        if not isinstance(data, dict):
            raise InputError(f"{path}: expected a mapping at the top level")
        return data

    def resolved(self) -> dict:
        """Plain data with the DRAM config inlined (what trace manifests store)."""
        d = self.model_dump()
        d["dram"] = self.dram_mapping()
        return d

    def digest(self) -> str:
        """Hash of the resolved configuration (cache key of the fast mode's fit)."""
        blob = json.dumps(self.resolved(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def parse_system(data: dict[str, Any], source: str = "<config>") -> NdpSystemConfig:
    """Validate a mapping into :class:`NdpSystemConfig` (errors name the key path)."""
    try:
        return NdpSystemConfig.model_validate(data)
    except ValidationError as err:
        e = err.errors()[0]
        loc = ".".join(str(p) for p in e["loc"])
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            msg = "unknown key" + closest_match_hint(str(e["loc"][-1]),
                                                     _section(e["loc"][:-1]).model_fields)
        raise InputError(f"{loc}: {msg}", source=source) from None


def _section(loc: tuple) -> type[BaseModel]:
    """The config class at key path ``loc`` of :class:`NdpSystemConfig`."""
    cls: type[BaseModel] = NdpSystemConfig
    for key in loc:
        sub = cls.model_fields[str(key)].annotation
        if not (isinstance(sub, type) and issubclass(sub, BaseModel)):
            break
        cls = sub
    return cls
