"""System interface, registry, the shared simulation context and result, and the GPU-side pieces
every system shares (prefill with weight streaming, LM head, capacity checks).

A system is one module under ``hermes_hw/systems/`` with a class registered by id::

    @register_system("flexgen")
    class FlexGen(System):
        def build(self, ctx: SimContext) -> None: ...   # fill ctx.timeline

``simulate(model, system_id, batch, ...)`` resolves the config, builds the context, calls the
system, and turns the timeline into a :class:`SimResult` whose every number is a sum of events.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from hermes_hw.errors import InputError, unknown_name
from hermes_hw.gpu import GpuTimingModel, get_profile
from hermes_hw.gpu.model import KernelEstimate
from hermes_hw.interconnect import DimmLinkNetwork, PcieLink
from hermes_hw.systems.config import SystemConfig, load_system_config
from hermes_hw.timeline import Timeline, busy_breakdown, critical_path_breakdown
from hermes_hw.workload.models.spec import ModelSpec

GIB = 2**30

SYSTEMS: dict[str, Callable[[], System]] = {}


def register_system(name: str):
    """Class decorator: make a system available to ``hermes simulate --system NAME``."""

    def deco(cls):
        cls.name = name
        SYSTEMS[name] = cls
        return cls

    return deco


def make_system(name: str) -> System:
    import hermes_hw.systems.registry  # noqa: F401  (registers every built-in system)

    if name not in SYSTEMS:
        raise unknown_name("system implementation", name, SYSTEMS)
    return SYSTEMS[name]()


@dataclass
class RunOptions:
    """What is simulated (the paper: input 128, output 128 tokens)."""

    input_tokens: int = 128
    output_tokens: int = 128

    def __post_init__(self) -> None:
        if self.input_tokens < 1 or self.output_tokens < 1:
            raise InputError("--input-tokens and --output-tokens must be at least 1, got "
                             f"{self.input_tokens} and {self.output_tokens}")

    @property
    def decode_steps(self) -> int:
        """Decode steps after prefill (prefill emits the first output token)."""
        return self.output_tokens - 1


@dataclass
class SimContext:
    """Everything a system's dataflow needs."""

    model: ModelSpec
    config: SystemConfig
    batch: int
    run: RunOptions
    timeline: Timeline = field(default_factory=Timeline)
    info: dict[str, Any] = field(default_factory=dict)
    placement_params: Any = None
    """SystemParams the workload's placement uses instead of the config-derived ones (the
    calibration holds the placement fixed while it varies timing parameters); None: derived."""
    _gpu_memo: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.config.gqa == "mha":  # the config's GQA handling (docs/calibration.md)
            self.model = self.model.as_multi_head()

    @cached_property
    def gpu(self) -> GpuTimingModel:
        return GpuTimingModel(get_profile(self.config.gpu))

    @cached_property
    def pcie(self) -> PcieLink:
        return PcieLink(self.config.pcie or self.gpu.profile.host_link)

    @cached_property
    def dimm_link(self) -> DimmLinkNetwork:
        cfg = self.config.dimm_link.model_copy(update={"n_dimms": max(1, self.config.n_dimms)})
        return DimmLinkNetwork(cfg)

    def gpu_kernel(self, kind: str, *args: int) -> KernelEstimate:
        """Memoised GPU estimate (``kind`` = a GpuTimingModel method name)."""
        key = (kind, args)
        est = self._gpu_memo.get(key)
        if est is None:
            est = getattr(self.gpu, kind)(*args)
            self._gpu_memo[key] = est
        return est

    # --- shapes ------------------------------------------------------------------------------
    def vec_bytes(self, n: int) -> int:
        """Bytes of a batch of FP16 activation vectors of length ``n``."""
        return self.batch * n * 2

    @cached_property
    def layer_weight_bytes(self) -> int:
        m = self.model
        return sum(m._bytes(x.params) for x in m.layer_matrices)

    @cached_property
    def o_proj_bytes(self) -> int:
        m = self.model
        return m._bytes(m.q_dim * m.hidden_size)

    @cached_property
    def lm_head_rows(self) -> int:
        return self.model.arch.vocab_size

    @property
    def gpu_budget_after_lm_head_bytes(self) -> float:
        """``gpu_weight_budget_gib`` in bytes less the LM head (kept on the GPU by every
        system that keeps weights there); may be negative."""
        m = self.model
        return self.config.gpu_weight_budget_gib * GIB - m._bytes(m.hidden_size * self.lm_head_rows)

    @property
    def kv_total_bytes(self) -> int:
        return self.batch * (self.run.input_tokens + self.run.output_tokens) * \
            self.model.kv_bytes_per_token


class System(ABC):
    """One system's dataflow."""

    name: str = ""

    def check(self, ctx: SimContext) -> None:
        """Raise InputError for impossible configurations (memory, batch)."""
        check_batch(ctx)

    @abstractmethod
    def build(self, ctx: SimContext) -> None:
        """Fill ``ctx.timeline`` with the prefill phase and every decode step."""


# --- shared checks ------------------------------------------------------------------------------
def check_batch(ctx: SimContext) -> None:
    if ctx.batch < 1:
        raise InputError(f"--batch must be at least 1, got {ctx.batch}")
    if ctx.batch > ctx.config.max_batch:
        raise InputError(f"batch {ctx.batch} exceeds the system's max_batch "
                         f"({ctx.config.max_batch}); raise max_batch in the system config")


def check_fits(what: str, need_bytes: float, have_bytes: float, hint: str) -> None:
    if need_bytes > have_bytes:
        raise InputError(f"{what} needs {need_bytes / GIB:.1f} GiB but only "
                         f"{have_bytes / GIB:.1f} GiB is available ({hint})")


def check_host_memory(ctx: SimContext, *, capacity_bytes: float, where: str) -> None:
    """Weights plus the batch's KV cache must fit in ``capacity_bytes`` of host-side memory."""
    m = ctx.model
    check_fits(f"{m.id} ({m.params / 1e9:.1f} B parameters)", m.weight_bytes, capacity_bytes,
               f"{where}; model larger than all memory")
    check_fits(f"the KV cache of batch {ctx.batch} x "
               f"{ctx.run.input_tokens + ctx.run.output_tokens} tokens",
               m.weight_bytes + ctx.kv_total_bytes, capacity_bytes,
               f"{where} after {m.weight_bytes / GIB:.1f} GiB of weights; lower --batch")


# --- GPU-side pieces shared by systems ----------------------------------------------------------
def prefill_layer_kernels(ctx: SimContext) -> list[KernelEstimate]:
    """The GPU kernels of one layer over the whole prompt (GEMMs + fused attention)."""
    m, b, n = ctx.model, ctx.batch, ctx.run.input_tokens
    t = b * n
    h, f = m.hidden_size, m.ffn_size
    ks = [ctx.gpu_kernel("prefill_linear", t, m.q_dim + 2 * m.kv_dim, h),
          ctx.gpu_kernel("prefill_attention", b, m.arch.num_attention_heads, n, m.head_dim,
                         m.num_kv_heads),
          ctx.gpu_kernel("prefill_linear", t, h, m.q_dim)]
    up_rows = 2 * f if m.arch.mlp == "gated" else f
    ks += [ctx.gpu_kernel("prefill_linear", t, up_rows, h),
           ctx.gpu_kernel("prefill_linear", t, h, f)]
    return ks


def dense_decode_kernels(ctx: SimContext, kv_len: int) -> dict[str, list[KernelEstimate]]:
    """One layer's dense decode kernels on the GPU, by block: qkv, attention, o_proj, mlp."""
    m, b = ctx.model, ctx.batch
    h, f = m.hidden_size, m.ffn_size
    up_rows = 2 * f if m.arch.mlp == "gated" else f
    return {
        "qkv": [ctx.gpu_kernel("gemv", m.q_dim + 2 * m.kv_dim, h, b)],
        "attention": [ctx.gpu_kernel("attention_decode", b, m.arch.num_attention_heads, kv_len,
                                     m.head_dim, m.num_kv_heads)],
        "o_proj": [ctx.gpu_kernel("gemv", h, m.q_dim, b)],
        "mlp": [ctx.gpu_kernel("gemv", up_rows, h, b), ctx.gpu_kernel("gemv", h, f, b)],
    }


def prefill_with_streaming(ctx: SimContext, resident_bytes: np.ndarray, *, h2d_efficiency:
                           float | None, overlap: bool, kv_to_host: bool) -> int:
    """Prefill on the GPU with the non-resident part of each layer streamed over PCIe.

    ``resident_bytes[l]``: bytes of layer ``l`` already on the GPU. With ``overlap`` (FlexGen
    double buffering) layer l+1 streams while layer l computes, two layer buffers; without it
    (Accelerate hooks) copy and compute alternate. ``kv_to_host``: the prompt's K/V of each layer
    go to host/DIMM memory over PCIe. Returns the id of the event that ends the prefill."""
    tl, m = ctx.timeline, ctx.model
    eff = h2d_efficiency or ctx.pcie.config.h2d_efficiency
    cfg = ctx.pcie.config
    gbps = cfg.raw_gbps * eff
    kernels = prefill_layer_kernels(ctx)
    compute_ns = sum(k.time_ns for k in kernels)
    kv_bytes = ctx.batch * ctx.run.input_tokens * 2 * m.kv_dim * m.kv_bits // 8
    computes: list[int] = []
    last = -1
    for layer in range(m.num_layers):
        stream = max(0, int(ctx.layer_weight_bytes - resident_bytes[layer]))
        deps = []
        if overlap and layer >= 2:
            deps.append(computes[layer - 2])
        if not overlap and computes:
            deps.append(computes[-1])
        copy = -1
        if stream:
            copy = tl.add("pcie.h2d", cfg.latency("h2d") + stream / gbps,
                          name="stream weights", category="prefill", deps=deps,
                          phase="prefill", layer=layer, args={"nbytes": stream})
        comp = tl.add("gpu", compute_ns, name="prefill layer", category="prefill",
                      deps=[copy, computes[-1] if computes else -1], phase="prefill",
                      layer=layer, args={"tokens": ctx.batch * ctx.run.input_tokens,
                                         "flops": sum(k.flops for k in kernels)})
        computes.append(comp)
        last = comp
        if kv_to_host:
            last = tl.add("pcie.d2h", ctx.pcie.duration_ns(kv_bytes, "d2h"), name="KV to host",
                          category="prefill", deps=[comp], phase="prefill", layer=layer,
                          args={"nbytes": kv_bytes})
    head = ctx.gpu_kernel("gemm", ctx.batch, ctx.lm_head_rows, m.hidden_size)
    lm = tl.add("gpu", head.time_ns, name="LM head", category="prefill",
                deps=[computes[-1]], phase="prefill", args={"nbytes": head.nbytes})
    return tl.join([lm, last])


def lm_head_step(ctx: SimContext, dep: int, token: int, *, category: str = "fc",
                 tl=None) -> int:
    """Decode LM head on the GPU, then the sampled token ids back to the host; returns the id.
    ``tl``: where to add the events (default ``ctx.timeline``; a token program's builder)."""
    tl = ctx.timeline if tl is None else tl
    head = ctx.gpu_kernel("gemv", ctx.lm_head_rows, ctx.model.hidden_size, ctx.batch)
    e = tl.add("gpu", head.time_ns, name="LM head", category=category, deps=[dep],
               token=token, args={"nbytes": head.nbytes})
    ids = 4 * ctx.batch
    return tl.add("pcie.d2h", ctx.pcie.duration_ns(ids, "d2h"), name="token ids",
                  category="communication", deps=[e], token=token, args={"nbytes": ids})


# --- result ---------------------------------------------------------------------------------
@dataclass
class SimResult:
    """End-to-end numbers of one run, each derived from the timeline."""

    system: str
    model: str
    batch: int
    run: RunOptions
    config: SystemConfig
    timeline: Timeline
    prefill_ns: float
    total_ns: float
    breakdown_ns: dict[str, float]
    busy_ns: dict[str, dict[str, float]]
    info: dict[str, Any]
    wall_s: float = 0.0

    @property
    def decode_ns(self) -> float:
        return self.total_ns - self.prefill_ns

    @property
    def decode_ns_per_token(self) -> float:
        steps = self.run.decode_steps
        return self.decode_ns / steps if steps else 0.0

    @property
    def tokens_per_s(self) -> float:
        """Generated tokens (batch x output tokens) per second of end-to-end time."""
        return self.batch * self.run.output_tokens / (self.total_ns * 1e-9)

    def stats(self) -> dict[str, Any]:
        return {
            "system": self.system,
            "model": self.model,
            "batch": self.batch,
            "input_tokens": self.run.input_tokens,
            "output_tokens": self.run.output_tokens,
            "tokens_per_s": self.tokens_per_s,
            "total_s": self.total_ns * 1e-9,
            "prefill_s": self.prefill_ns * 1e-9,
            "decode_s": self.decode_ns * 1e-9,
            "decode_s_per_token": self.decode_ns_per_token * 1e-9,
            "prefill_share": self.prefill_ns / self.total_ns if self.total_ns else 0.0,
            "breakdown": {k: v * 1e-9 for k, v in self.breakdown_ns.items()},
            "breakdown_unit": "s on the critical path (sums to total_s)",
            "busy_s": {g: {k: v * 1e-9 for k, v in d.items()} for g, d in self.busy_ns.items()},
            "events": len(self.timeline),
            "wall_s": self.wall_s,
            "info": self.info,
        }


def simulate(model: ModelSpec | str, system: str = "hermes", batch: int = 1, *,
             config: SystemConfig | None = None, config_path: str | None = None,
             overrides: dict | None = None, run: RunOptions | None = None,
             placement_params: Any = None) -> SimResult:
    """Simulate ``model`` on ``system`` at ``batch``; see :class:`SimResult`.

    ``system`` names a built-in config (configs/systems/<id>.yaml); ``config_path`` (a partial or
    full YAML) and ``overrides`` (a dict) are layered on top; or pass a resolved ``config``.
    """
    from hermes_hw.workload.models import load_model

    t0 = time.perf_counter()
    spec = load_model(model) if isinstance(model, str) else model
    cfg = config or load_system_config(system, config_path, overrides)
    run = run or RunOptions()
    ctx = SimContext(spec, cfg, batch, run, placement_params=placement_params)
    impl = make_system(cfg.system)
    impl.check(ctx)
    impl.build(ctx)
    tl = ctx.timeline
    prefill_end = max((end for end, ph in zip(tl.ends, tl.phases, strict=True)
                       if ph == "prefill"), default=0.0)
    total = tl.makespan_ns
    return SimResult(system=cfg.system if config else system, model=spec.id, batch=batch,
                     run=run, config=cfg, timeline=tl, prefill_ns=prefill_end, total_ns=total,
                     breakdown_ns=critical_path_breakdown(tl), busy_ns=busy_breakdown(tl),
                     info=ctx.info, wall_s=time.perf_counter() - t0)
