"""System configs (``configs/systems/*.yaml``): one pydantic schema for every system.

A file names the implementation (``system: hermes``, ``flexgen``, ...) and overrides any field;
everything else takes the default printed here. Every field has a type, a default, a unit
(``json_schema_extra['unit']``), a one-line description and a source
(``json_schema_extra['source']``); tags as in the reference: [P] paper, [C]/[M] peers.md,
[O] open in the paper (our documented choice), [F] fitted by ``scripts/calibrate_paper.py`` to
the calibration subset (docs/calibration.md). Configs never execute code (``yaml.safe_load``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hermes_hw.errors import InputError
from hermes_hw.gpu.profile import describe_validation_error
from hermes_hw.interconnect import DimmLinkConfig, HostBarrierConfig, PcieConfig
from hermes_hw.paths import configs_dir

_STRICT = ConfigDict(extra="forbid", frozen=True)


def F(default: Any, *, unit: str, description: str, source: str, **constraints: Any) -> Any:  # noqa: N802
    """A config field with its default, unit, description and source."""
    return Field(default, description=f"{description} [{unit}]",
                 json_schema_extra={"unit": unit, "source": source}, **constraints)


class NdpUnitConfig(BaseModel):
    """The NDP core in each DIMM's buffer chip (paper Table II) and its timing parameters."""

    model_config = _STRICT
    clock_ghz: float = F(1.0, unit="GHz", gt=0, description="NDP core clock",
                         source="[P] Table II: 1 GHz")
    multipliers: int = F(256, unit="count", gt=0, description="bit-serial multipliers in the "
                         "GEMV unit", source="[P] Table II: 256")
    fp16_lanes_per_multiplier: int = F(8, unit="FP16 values", gt=0,
                                       description="FP16 values in one 128-bit operand",
                                       source="[P] Table II: 128-bit operand = 8 FP16")
    cycles_per_op: float = F(2.0, unit="NDP cycles", gt=0, le=16,
                             description="throughput cycles of one bit-serial multiply of a "
                             "128-bit operand (8 FP16 lanes); at most 16 = one bit of a 16-bit "
                             "operand per cycle, the slowest bit-serial design",
                             source="[O] open in the paper; 2 = the NDP model's default "
                             "(hermes_hw/ndp, docs/ndp.md): 256 multipliers at the knee of the "
                             "paper's multiplier sensitivity, batch 16 still bandwidth-bound; "
                             "not identifiable from batch-1 data (docs/calibration.md)")
    internal_bandwidth_gbps: float = F(94.7, unit="GB/s", gt=0,
                                       description="DRAM bandwidth one NDP core streams from "
                                       "its own DIMM", source="measured by the DRAM engine on "
                                       "configs/dram/hermes_ndp_dimm.yaml (docs/dram_engine.md)")
    streaming_efficiency: float = F(1.0, unit="fraction", gt=0, le=1,
                                    description="achieved share of internal_bandwidth_gbps when "
                                    "the NDP core streams neuron rows and KV (bandwidth model)",
                                    source="[F] fitted to the paper's Hermes / Hermes-base "
                                    "cells (docs/calibration.md); 1 = the engine's rate")
    activation_lanes: int = F(256, unit="FP16 ops/cycle", gt=0,
                              description="exp/add/multiply units of the activation unit "
                              "(softmax, ReLU, merge adds)", source="[P] Table II: 256 each")
    buffer_kib: int = F(256, unit="KiB", gt=0, description="GEMV unit buffer (informative in "
                        "the bandwidth model)", source="[P] Table II: 256 KB")
    op_overhead_ns: float = F(100.0, unit="ns", ge=0, description="fixed cost per NDP "
                              "instruction (decode, buffer fill, drain)",
                              source="[O] assumed: a DRAM row cycle plus pipeline fill")

    @property
    def streaming_gbps(self) -> float:
        """Weight/KV streaming rate of one NDP core in the bandwidth model (GB/s)."""
        return self.internal_bandwidth_gbps * self.streaming_efficiency

    @property
    def mac_per_ns(self) -> float:
        """FP16 multiply-accumulates per ns of the GEMV unit."""
        return (self.multipliers * self.fp16_lanes_per_multiplier / self.cycles_per_op
                * self.clock_ghz)


class CpuConfig(BaseModel):
    """Host CPU profile (``configs/cpus/*.yaml``), used by hermes-host for the cold neurons."""

    model_config = _STRICT
    name: str = F("i9-13900k", unit="id", description="profile id",
                  source="Hermes paper §7: i9-13900K host")
    memory_bandwidth_gbps: float = F(89.6, unit="GB/s", gt=0,
                                     description="peak host DRAM bandwidth",
                                     source="[P] Hermes paper: 89.6 GB/s (DDR5-5600 x2)")
    bandwidth_efficiency: float = F(0.5, unit="fraction", gt=0, le=1,
                                    description="achieved / peak bandwidth of the sparse "
                                    "GEMV on the CPU", source="[F] fitted (docs/calibration.md)")
    fp16_gflops: float = F(2000.0, unit="GFLOP/s", gt=0,
                           description="achievable FP16/FP32 FMA throughput of all cores",
                           source="[O] assumed: 8 P-cores x 2 AVX2 FMA x 8 FP32 x 2 x 5 GHz "
                           "~1.3 TFLOP/s plus E-cores")
    op_overhead_ns: float = F(2000.0, unit="ns", ge=0,
                              description="per-operator thread fork/join on the CPU",
                              source="[O] assumed: OpenMP parallel-for fork/join, a few us")


class WorkloadSection(BaseModel):
    """How the per-token work is decided (hermes_hw.workload options)."""

    model_config = _STRICT
    predictor: str = F("hermes", unit="id", description="predictor (hermes, oracle, dejavu, "
                       "powerinfer)", source="[P] §5")
    predictor_options: dict[str, Any] = F({}, unit="-", description="predictor parameters "
                                          "(e.g. use_token / use_layer)", source="[P] §5")
    placement: str = F("ilp", unit="id", description="offline placement (ilp, greedy, random, "
                       "fixed)", source="[P] §6 ILP")
    placement_options: dict[str, Any] = F({}, unit="-", description="placement parameters",
                                          source="hermes_hw.workload.placement")
    adjust: bool = F(True, unit="bool", description="online hot-neuron promotion",
                     source="[P] §6")
    remap: bool = F(True, unit="bool", description="window-based DIMM remapping",
                    source="[P] §6 Algorithm 1")
    window_tokens: int = F(5, unit="tokens", gt=0, description="remapping window",
                           source="[P] §6: every 5 tokens")
    source: str = F("synthetic", unit="id", description="activation source (synthetic, "
                    "masks)", source="hermes_hw.workload.activations")
    source_options: dict[str, Any] = F({}, unit="-", description="activation source "
                                       "parameters (e.g. path of a mask file)",
                                       source="hermes_hw.workload.activations")
    seed: int = F(0, unit="-", ge=0, description="seed of every random draw", source="-")
    placement_feedback: bool = F(True, unit="bool", description="ILP only: solve the "
                                 "placement a second time with the cold-unit rate corrected by "
                                 "the cold/GPU time ratio the first plan realised",
                                 source="[O] the ILP plans with profiled frequencies; decode "
                                 "loads the DIMMs more than planned (docs/calibration.md)")
    sample_tokens: int = F(16, unit="tokens", ge=0,
                           description="decode tokens whose work lists are generated; token t "
                           "reuses sample t mod N (0 = every decode token)",
                           source="[O] speed: activation statistics are stationary after "
                           "prefill (docs/simulate.md)")
    predictor_ns_per_neuron: float = F(0.02, unit="ns/neuron", ge=0,
                                       description="host time per neuron of the Hermes "
                                       "predictor (4-bit state + 2 table look-ups, SIMD)",
                                       source="[O] assumed; matches the paper's 'under 0.1% of "
                                       "runtime' (§5)")


Residency = Literal["budget", "device_map_auto", "layers_offloaded"]


class OffloadSection(BaseModel):
    """Weight streaming host -> GPU (prefill of the Hermes family; the offloading baselines)."""

    model_config = _STRICT
    h2d_efficiency: float | None = F(None, unit="fraction", gt=0, le=1,
                                     description="PCIe efficiency of bulk weight streaming; None: "
                                     "the link's h2d_efficiency", source="[F] fitted per system")
    overlap: bool = F(True, unit="bool", description="stream layer l+1 while layer l computes "
                      "(double buffering)", source="FlexGen; Accelerate hooks are synchronous")
    gpu_weight_fraction: float | None = F(None, unit="fraction", ge=0, le=1,
                                          description="share of the weights kept on the GPU; "
                                          "None: whole layers by ``residency``",
                                          source="system policy")
    residency: Residency = F(
        "budget", unit="id", description="which whole layers stay on the GPU: 'budget' = as "
        "many as gpu_weight_budget_gib holds after the LM head; 'device_map_auto' = HF "
        "Accelerate's device_map='auto' (max_memory_fraction of the GPU memory left after the "
        "CUDA context, less the largest layer reserved as the offload buffer, filled in module "
        "order: embeddings, layers, final norm, LM head; an untied LM head after an offloaded "
        "layer is offloaded too and streamed every step); 'layers_offloaded' = every decoder "
        "layer on the host and streamed every forward pass, embeddings and LM head on the GPU",
        source="accelerate.utils.modeling get_balanced_memory / infer_auto_device_map; "
        "FlexGen benchmark/hf_ds/hf_opt.py --cpu-offload device_map (docs/calibration.md)")
    residency_by_family: dict[str, Residency] = F(
        {}, unit="family -> id", description="residency for models of the named family "
        "(the model config's 'family'), overriding 'residency' for them",
        source="[I] the harness a baseline was run with differs by model family "
        "(docs/calibration.md)")
    max_memory_fraction: float = F(0.9, unit="fraction", gt=0, le=1,
                                   description="device_map_auto: share of the free GPU memory "
                                   "used for weights", source="[C] Accelerate "
                                   "get_balanced_memory, one GPU, max_memory not set: 0.9 ('90% "
                                   "is a good compromise')")
    cuda_context_gib: float = F(1.0, unit="GiB", ge=0,
                                description="device_map_auto: GPU memory taken by the CUDA "
                                "context before the model loads (not free)",
                                source="[C] Accelerate docs (big_model_inference): the CUDA "
                                "context takes 'about 1-2GB'; the lower end")


class DejaVuSection(BaseModel):
    """Deja Vu adapted to offloading: only predicted MLP neurons cross PCIe."""

    model_config = _STRICT
    gather_efficiency: float = F(0.5, unit="fraction", gt=0, le=1,
                                 description="PCIe efficiency of gathered neuron rows relative "
                                 "to bulk streaming", source="[F] fitted (docs/calibration.md)")
    mlp_residency: Literal["none", "budget"] = F(
        "none", unit="id", description="'none' = every layer streams its attention weights and "
        "gathers its predicted MLP rows; 'budget' = each layer's MLP weights stay on the GPU, "
        "from layer 0, while they fit in gpu_weight_budget_gib less the LM head and the MLP "
        "predictors (those layers stream only their attention weights)",
        source="[I] the paper's OPT-13B cell: its time is its attention weights' streaming "
        "alone (docs/calibration.md)")
    predictor_hidden: int = F(1000, unit="neurons", gt=0, description="hidden width of the "
                              "per-layer MLP predictor Linear(d, hidden) -> Linear(hidden, ffn)",
                              source="[C] Deja Vu code (peers.md §2)")


class HostSection(BaseModel):
    """Hermes-host (PowerInfer-style, cold neurons on the host CPU): where attention goes and
    which predictor runs."""

    model_config = _STRICT
    attention: Literal["split", "dense_gpu_first"] = F(
        "split", unit="id", description="'split' = the QKV rows are placed by the ILP like the "
        "MLP neurons (input-sparse, hot on the GPU, cold on the CPU), output projection on the "
        "GPU; 'dense_gpu_first' = PowerInfer's placement: dense attention weights (QKV and "
        "output projection, no sparsity) take the GPU weight budget first, layer by layer from "
        "layer 0, the layers that do not fit run their dense attention on the CPU; the MLP's "
        "hot neurons get the rest only if every layer's attention fitted (else the whole MLP "
        "runs on the CPU). Attention scores and the KV cache stay on the CPU in both",
        source="PowerInfer llama.cpp: buffered_tensor_allocator::flush, get_offloading_level, "
        "llm_load_sparse_model_tensors; README 'offload all dense activation blocks to GPU, "
        "then split FFN' (docs/calibration.md)")
    predictor: Literal["table", "powerinfer_mlp"] = F(
        "table", unit="id", description="'table' = Hermes' own table predictor on the host CPU "
        "(workload.predictor_ns_per_neuron per neuron); 'powerinfer_mlp' = PowerInfer's per-layer "
        "MLP predictors (d_model -> hidden -> n_ffn, FP16) held in VRAM: their bytes come off the "
        "GPU weight budget the placement sees and each layer runs them on the GPU (two dense "
        "GEMVs, category predictor) before its MLP; the QKV input rows keep the table predictor "
        "(PowerInfer has no attention predictor)",
        source="PowerInfer §5.1 / Table 6 (peers.md §2); its allocator puts the predictors in VRAM "
        "after dense attention (docs/calibration.md)")
    predictor_share: float | None = F(
        None, unit="fraction of model params", gt=0, lt=1, description="'powerinfer_mlp' only: "
        "predictor parameters as a share of the model's; null = the cited share of the model "
        "(hermes_hw/systems/host_predictor.py POWERINFER_PREDICTOR_SHARES)",
        source="PowerInfer Table 6 [M] (peers.md §2); [I] for models it does not list")


class MultiGpuSection(BaseModel):
    """TensorRT-LLM on several GPUs (analytical reference): tensor parallel."""

    model_config = _STRICT
    allreduce_gbps: float = F(300.0, unit="GB/s", gt=0, description="per-GPU all-reduce bus "
                              "bandwidth", source="[C] A100 NVLink3 600 GB/s bidirectional")
    allreduce_latency_ns: float = F(8000.0, unit="ns", ge=0, description="fixed cost of one "
                                    "small all-reduce", source="[O] assumed NCCL small-message "
                                    "latency")
    use_cuda_graphs: bool = F(True, unit="bool", description="kernels replayed from a graph "
                              "(no per-launch host cost)", source="TensorRT-LLM default")


class SystemConfig(BaseModel):
    """One system: hardware, links, the NDP unit, batch limits and the scheduling policy."""

    model_config = _STRICT
    schema_version: Literal[1] = F(1, unit="-", description="config format version", source="-")
    system: str = F("hermes", unit="id", description="implementation id (see `hermes simulate "
                    "--list-systems`)", source="hermes_hw.systems registry")
    description: str = F("", unit="-", description="free text", source="-")
    gpu: str = F("rtx4090", unit="id or path", description="GPU profile (configs/gpus)",
                 source="[P] §3: RTX 4090")
    gpu_count: int = F(1, unit="count", gt=0, le=64, description="GPUs (tensor parallel)",
                       source="[P] §7: 1 (5 for TensorRT-LLM)")
    gpu_weight_budget_gib: float = F(18.6, unit="GiB", ge=0,
                                     description="GPU memory for weights per GPU (the rest is "
                                     "workspace and KV)", source="[P] §3: ~20 GB of weights "
                                     "resident on the 24 GB RTX 4090")
    n_dimms: int = F(8, unit="count", ge=0, le=64, description="NDP-DIMMs (0 = plain host "
                     "memory only)", source="[P] Table II: 8")
    dimm_capacity_gib: float = F(32.0, unit="GiB", gt=0, description="capacity per DIMM",
                                 source="[P] Table II: 32 GB")
    host_memory_gib: float = F(256.0, unit="GiB", gt=0, description="host memory of the "
                               "offloading baselines and hermes-host (the same DIMMs as plain "
                               "memory)", source="[P] §7: same hardware, 8 x 32 GB")
    dram_config: str = F("dram/hermes_ndp_dimm.yaml", unit="path", description="DRAM engine "
                         "config of one DIMM (relative to configs/)", source="[P] Table II")
    ndp: NdpUnitConfig = Field(default_factory=NdpUnitConfig, description="NDP core")
    dimm_model: Literal["bandwidth", "fast", "cycle"] = F(
        "bandwidth", unit="id", description="DIMM op timing: bandwidth (analytical, calibrated), "
        "fast (issue 4's fast mode fitted to cycle-level replay), cycle (cycle-level replay of "
        "the run's lowered trace)",
        source="hermes_hw/systems/dimm_time.py, dimm_fast.py, dimm_cycle.py; docs/simulate.md")
    pcie: PcieConfig | None = Field(None, description="GPU <-> host link; None: the GPU "
                                    "profile's host_link")
    dimm_link: DimmLinkConfig = Field(default_factory=DimmLinkConfig,
                                      description="DIMM <-> DIMM links (n_dimms is set from the "
                                      "system)")
    sync: HostBarrierConfig = Field(default_factory=HostBarrierConfig,
                                    description="host synchronisation of GPU and DIMMs")
    cpu: str = F("i9-13900k", unit="id or path", description="host CPU profile (configs/cpus)",
                 source="[P] §7")
    max_batch: int = F(16, unit="requests", gt=0, description="largest batch accepted",
                       source="[P] §7: batch 1-16")
    gqa: Literal["native", "mha"] = F(
        "native", unit="id", description="grouped-query attention models: native (the "
        "checkpoint's KV heads) or mha (K/V projections and KV cache widened to one KV head per "
        "query head, as if the model were multi-head)",
        source="[O] paper §1 'GQA handling'; docs/calibration.md (both measured)")
    workload: WorkloadSection = Field(default_factory=WorkloadSection,
                                      description="per-token work (predictor, placement)")
    offload: OffloadSection = Field(default_factory=OffloadSection,
                                    description="weight streaming host -> GPU")
    dejavu: DejaVuSection = Field(default_factory=DejaVuSection, description="Deja Vu")
    host: HostSection = Field(default_factory=HostSection,
                              description="Hermes-host: attention placement and predictor")
    multi_gpu: MultiGpuSection = Field(default_factory=MultiGpuSection,
                                       description="multi-GPU reference")


def systems_dir() -> Path:
    return configs_dir() / "systems"


def _read_yaml(path: Path, what: str) -> dict:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise InputError(f"cannot read {what}: {err.strerror}", source=str(path)) from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise InputError(f"not valid YAML ({getattr(err, 'problem', err)})", source=where) \
            from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InputError(f"expected a mapping of {what} fields", source=str(path))
    return data


def config_from_dict(data: dict, *, source: str) -> SystemConfig:
    try:
        return SystemConfig.model_validate(data)
    except ValidationError as err:
        raise InputError(describe_validation_error(err), source=source) from None


def merge(base: dict, override: dict) -> dict:
    """Deep-merge ``override`` into ``base`` (mappings merged, everything else replaced)."""
    out = dict(base)
    for k, v in override.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _with_parents(data: dict, path: Path, ids: list[str], depth: int = 0) -> dict:
    """Resolve ``inherits: <system id>``: the named built-in config first, this file on top."""
    from hermes_hw.errors import unknown_name

    parent = data.pop("inherits", None)
    if parent is None:
        return data
    if depth > 8:
        raise InputError("'inherits' nests more than 8 deep (a cycle?)", source=str(path))
    if not isinstance(parent, str) or parent not in ids:
        raise unknown_name("system to inherit", str(parent), ids, source=f"{path}: inherits")
    ppath = systems_dir() / f"{parent}.yaml"
    base = _with_parents(_read_yaml(ppath, "system config"), ppath, ids, depth + 1)
    return merge(base, data)


def list_system_configs() -> list[str]:
    return sorted(p.stem for p in systems_dir().glob("*.yaml"))


def load_system_config(system: str | None = None, config_path: str | Path | None = None,
                       overrides: dict | None = None) -> SystemConfig:
    """The built-in config of ``system`` (configs/systems/<id>.yaml), then ``config_path`` on
    top (a full or partial file), then ``overrides`` (a dict, e.g. from calibration)."""
    from hermes_hw.errors import unknown_name

    data: dict = {}
    source = "<defaults>"
    if system is not None:
        ids = list_system_configs()
        if system not in ids:
            raise unknown_name("system", system, ids)
        path = systems_dir() / f"{system}.yaml"
        data = _with_parents(_read_yaml(path, "system config"), path, ids)
        source = str(path)
    if config_path is not None:
        path = Path(config_path)
        if not path.is_file():
            raise InputError("no such file", source=str(path))
        data = merge(data, _with_parents(_read_yaml(path, "system config"), path,
                                         list_system_configs()))
        source = str(path)
    if overrides:
        data = merge(data, overrides)
    return config_from_dict(data, source=source)


def load_cpu_profile(name: str) -> CpuConfig:
    """A CPU profile by id (configs/cpus/<id>.yaml) or path."""
    from hermes_hw.errors import unknown_name

    path = Path(name)
    if path.suffix not in (".yaml", ".yml"):
        ids = sorted(p.stem for p in (configs_dir() / "cpus").glob("*.yaml"))
        if name not in ids:
            raise unknown_name("CPU profile", name, ids)
        path = configs_dir() / "cpus" / f"{name}.yaml"
    data = _read_yaml(path, "CPU profile")
    try:
        return CpuConfig.model_validate(data)
    except ValidationError as err:
        raise InputError(describe_validation_error(err), source=str(path)) from None


def field_table(model: type[BaseModel] = SystemConfig, prefix: str = "") -> list[dict]:
    """Every field (recursively): key path, type, default, unit, description, source."""
    rows = []
    for name, info in model.model_fields.items():
        ann = info.annotation
        sub = ann if isinstance(ann, type) and issubclass(ann, BaseModel) else None
        if sub is None and getattr(ann, "__args__", None):
            subs = [a for a in ann.__args__ if isinstance(a, type) and issubclass(a, BaseModel)]
            sub = subs[0] if subs else None
        if sub is not None:
            rows += field_table(sub, f"{prefix}{name}.")
            continue
        extra = info.json_schema_extra or {}
        rows.append({"key": prefix + name, "type": getattr(ann, "__name__", str(ann)),
                     "default": info.get_default(call_default_factory=True),
                     "unit": extra.get("unit", ""), "description": info.description or "",
                     "source": extra.get("source", "")})
    return rows
