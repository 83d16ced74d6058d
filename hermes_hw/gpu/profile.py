"""GPU profile schema: datasheet peaks, achievable-efficiency curves and overheads, each cited.

A profile is a YAML file in ``configs/gpus/`` (or anywhere, loaded by path). Every number is a
``{value, source}`` pair so that a user can trace any estimate to a datasheet, a measurement or a
stated assumption. Device-specific peaks have no default (a profile that omits one is rejected
with the key path); overheads and the gather efficiency have documented defaults.

Units are in the field names: ``_gib`` (2^30 bytes), ``_gbps`` (GB/s = 1e9 bytes/s = bytes/ns),
``_tflops`` (1e12 FLOP/s), ``_ns``, ``_mib``. Curves map a kernel's size (bytes moved, or FLOPs
done) to the fraction of the datasheet peak it achieves; between points they are interpolated
linearly in log(size)-log(efficiency), and held flat beyond the ends, except that a kernel moving
fewer bytes than the bandwidth curve's first point is latency-bound: its memory time is that of
the first point (see ``GpuTimingModel``).
"""

from __future__ import annotations

import bisect
import math
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from hermes_hw.errors import InputError
from hermes_hw.interconnect.pcie import PcieConfig

_STRICT = ConfigDict(extra="forbid", frozen=True)
_SOURCE = Field(min_length=3, description="citation: datasheet, measurement or stated assumption")


class CitedFloat(BaseModel):
    """A positive number and where it comes from."""

    model_config = _STRICT
    value: float = Field(gt=0, description="the value, in the unit named by the field")
    source: str = _SOURCE


class CitedFraction(BaseModel):
    """A fraction in (0, 1] and where it comes from."""

    model_config = _STRICT
    value: float = Field(gt=0, le=1, description="fraction in (0, 1]")
    source: str = _SOURCE


class CitedInt(BaseModel):
    """A positive integer and where it comes from."""

    model_config = _STRICT
    value: int = Field(gt=0, description="the value, in the unit named by the field")
    source: str = _SOURCE


class EfficiencyCurve(BaseModel):
    """Achieved fraction of a peak as a function of kernel size (bytes or FLOPs)."""

    model_config = _STRICT
    points: list[tuple[float, float]] = Field(
        min_length=1,
        description="[size, efficiency] pairs; sizes > 0 strictly increasing, efficiency in (0, 1]",
    )
    source: str = _SOURCE

    @field_validator("points")
    @classmethod
    def _check_points(cls, points: list[tuple[float, float]]) -> list[tuple[float, float]]:
        for i, (size, eff) in enumerate(points):
            if size <= 0:
                raise ValueError(f"point {i}: size must be > 0, got {size}")
            if not 0 < eff <= 1:
                raise ValueError(f"point {i}: efficiency must be in (0, 1], got {eff}")
            if i and size <= points[i - 1][0]:
                raise ValueError(f"point {i}: sizes must be strictly increasing")
            if i and size / eff < points[i - 1][0] / points[i - 1][1] * (1 - 1e-9):
                raise ValueError(
                    f"point {i}: a larger kernel would take less time than point {i - 1} "
                    "(size / efficiency must not decrease)"
                )
        return points

    def at(self, size: float) -> float:
        """Efficiency at ``size``: log-log interpolation (so time grows with size between
        points), flat outside the points (see :meth:`time_size` for the latency floor)."""
        sizes = [p[0] for p in self.points]
        if size <= sizes[0]:
            return self.points[0][1]
        if size >= sizes[-1]:
            return self.points[-1][1]
        i = bisect.bisect_right(sizes, size)
        (s0, e0), (s1, e1) = self.points[i - 1], self.points[i]
        w = (math.log(size) - math.log(s0)) / (math.log(s1) - math.log(s0))
        return math.exp(math.log(e0) + w * (math.log(e1) - math.log(e0)))

    @property
    def smallest_size(self) -> float:
        return self.points[0][0]


def _default(value: float, source: str, kind: type[BaseModel] = CitedFloat) -> Field:
    return Field(default_factory=lambda: kind(value=value, source=source))


class GpuProfile(BaseModel):
    """Everything the GPU timing model needs to know about one GPU."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1] = Field(1, description="profile format version")
    name: str = Field(
        pattern=r"^[a-z0-9][a-z0-9._-]*$",
        description="registry id, equal to the file name without .yaml (no default)",
    )
    display_name: str = Field("", description="marketing / nvidia-smi name")
    memory_capacity_gib: CitedFloat = Field(description="device memory, GiB (no default)")
    peak_memory_bandwidth_gbps: CitedFloat = Field(
        description="datasheet DRAM bandwidth, GB/s (no default)"
    )
    peak_fp16_tensor_tflops: CitedFloat = Field(
        description="datasheet dense FP16 tensor-core rate with FP16 accumulate, TFLOP/s "
        "(no default)"
    )
    peak_fp16_tensor_fp32acc_tflops: CitedFloat = Field(
        description="datasheet dense FP16 tensor-core rate with FP32 accumulate, TFLOP/s "
        "(no default; half the FP16-accumulate rate on GeForce cards)"
    )
    matmul_accumulate: Literal["fp32", "fp16"] = Field(
        "fp32",
        description="which peak the compute term uses: fp32 (cuBLAS/PyTorch default) or fp16",
    )
    sm_count: CitedInt = Field(description="streaming multiprocessors (no default)")
    l2_cache_mib: CitedFloat = Field(
        description="L2 cache, MiB (no default); informative: weights streamed once per token "
        "are assumed not to hit in L2"
    )
    bandwidth_curve: EfficiencyCurve = Field(
        description="achieved fraction of peak_memory_bandwidth_gbps vs bytes a kernel moves "
        "(no default)"
    )
    flops_curve: EfficiencyCurve = Field(
        description="achieved fraction of the matmul peak vs FLOPs a kernel does (no default)"
    )
    gathered_row_efficiency: CitedFraction = _default(
        1.0,
        "assumed: gathered rows of >= 1 KB are whole DRAM bursts, so a gather streams like a "
        "dense read; `hermes gpu calibrate` measures it",
        CitedFraction,
    )
    kernel_overhead_ns: CitedFloat = _default(
        1000.0,
        "assumed 1.0 us per kernel, the empty-kernel time measured on an H100 (CUDA-graph "
        "replay, docs/gpu_model.md); `hermes gpu calibrate` measures it",
    )
    launch_enqueue_ns: CitedFloat = _default(
        2800.0, "peers.md §5: about 2.6-3.0 us to enqueue a kernel (public measurements)"
    )
    launch_sync_ns: CitedFloat = _default(
        6400.0, "peers.md §5: about 6.4 us launch plus synchronise (public measurements)"
    )
    host_link: PcieConfig = Field(
        default_factory=PcieConfig, description="the GPU's PCIe link to the host"
    )

    def matmul_peak_tflops(self) -> float:
        """The tensor-core peak the compute term uses (see ``matmul_accumulate``)."""
        if self.matmul_accumulate == "fp16":
            return self.peak_fp16_tensor_tflops.value
        return self.peak_fp16_tensor_fp32acc_tflops.value


def _key_path(loc: tuple[object, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts) or "<top level>"


def describe_validation_error(err: ValidationError) -> str:
    """One line naming each bad key path and what was expected."""
    messages = []
    for item in err.errors():
        path = _key_path(tuple(item["loc"]))
        if item["type"] == "missing":
            messages.append(f"missing required field '{path}'")
        elif item["type"] == "extra_forbidden":
            messages.append(f"unknown field '{path}'")
        else:
            messages.append(f"'{path}': {item['msg']}")
    return "; ".join(messages)


def profile_from_dict(data: object, *, source: str = "<profile>") -> GpuProfile:
    """Validate a parsed profile; any problem is an InputError naming ``source`` and key paths."""
    if not isinstance(data, dict):
        raise InputError(f"expected a mapping of profile fields, got {type(data).__name__}",
                         source=source)
    try:
        return GpuProfile.model_validate(data)
    except ValidationError as err:
        raise InputError(describe_validation_error(err), source=source) from None


def load_profile_file(path: str | Path) -> GpuProfile:
    """Read and validate one profile YAML (never executes code: ``yaml.safe_load``)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise InputError(f"cannot read GPU profile: {err.strerror}", source=str(path)) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise InputError(f"not valid YAML ({getattr(err, 'problem', err)})", source=where) from None
    return profile_from_dict(data, source=str(path))


class _ProfileDumper(yaml.SafeDumper):
    """Block mappings, but ``[size, efficiency]`` pairs on one line."""


def _represent_list(dumper: yaml.SafeDumper, data: list) -> yaml.Node:
    flow = all(not isinstance(x, (list, tuple, dict)) for x in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


_ProfileDumper.add_representer(list, _represent_list)


def profile_to_yaml(profile: GpuProfile, header: str = "") -> str:
    """Serialise a profile as YAML (stable key order; comment ``header`` lines on top)."""
    data = profile.model_dump(mode="json")
    body = yaml.dump(data, Dumper=_ProfileDumper, sort_keys=False, width=100,
                     default_flow_style=False, allow_unicode=True)
    lines = [f"# {line}".rstrip() for line in header.splitlines()]
    return ("\n".join(lines) + "\n" if lines else "") + body
