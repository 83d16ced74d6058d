"""Model shapes: the YAML schema (pydantic) and the derived per-layer matrices and neuron groups.

Terms (paper section 4): a *neuron* is one row or column of a weight matrix that is skipped when
its activation is zero.

* attention neurons: ``hidden_size`` per layer, one per input element of W_QKV (the ReLU inserted
  before QKV makes the input sparse, so a zero input element skips the matching W_QKV row).
  One neuron covers ``q_dim + 2 * kv_dim`` weights.
* MLP neurons: ``ffn_size`` per layer, one per intermediate element; one neuron covers the FC1
  row, the gate row (gated MLPs only) and the FC2 column: ``(2 or 3) * hidden_size`` weights.

Everything else (output projection, norms, biases, embeddings, LM head) is *dense* weight.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

NeuronKind = Literal["attention", "mlp"]
NEURON_KINDS: tuple[NeuronKind, ...] = ("attention", "mlp")


class ArchitectureConfig(BaseModel):
    """Shape of a decoder-only transformer (the fields of a Hugging Face config.json we need)."""

    model_config = ConfigDict(extra="forbid")

    hidden_size: int = Field(..., gt=0, description="model width d_model (elements)")
    ffn_size: int = Field(..., gt=0, description="MLP intermediate width (neurons per MLP block)")
    num_layers: int = Field(..., gt=0, description="number of decoder layers")
    num_attention_heads: int = Field(..., gt=0, description="query heads")
    num_kv_heads: int | None = Field(
        None, gt=0, description="key/value heads (grouped-query attention); None = query heads"
    )
    head_dim: int | None = Field(None, gt=0, description="per-head width; None = hidden/heads")
    vocab_size: int = Field(..., gt=0, description="vocabulary size (embedding rows)")
    mlp: Literal["plain", "gated"] = Field(
        "plain", description="plain = FC1, act, FC2; gated = act(gate) * up, down"
    )
    bias: bool = Field(False, description="linear layers carry biases")
    norm: Literal["layernorm", "rmsnorm"] = Field(
        "layernorm", description="layernorm has weight+bias, rmsnorm weight only"
    )
    norms_per_layer: int = Field(2, ge=0, description="normalisation layers per decoder layer")
    final_norm: bool = Field(True, description="a normalisation after the last layer")
    position_embedding: Literal["learned", "rotary", "alibi"] = Field(
        "rotary", description="learned = a (positions x hidden) table; rotary/alibi: no weights"
    )
    max_position_embeddings: int = Field(2048, gt=0, description="context length (tokens)")
    learned_position_offset: int = Field(
        0, ge=0, description="extra rows of a learned position table (OPT stores 2 more)"
    )
    embed_proj_dim: int | None = Field(
        None, gt=0, description="OPT word_embed_proj_dim when it differs from hidden (projections)"
    )
    tie_word_embeddings: bool = Field(True, description="LM head shares the embedding matrix")
    activation: str = Field("relu", description="MLP activation (ReLU-fied models: relu)")
    relu_before_qkv: bool = Field(
        True, description="Hermes inserts a ReLU before QKV, making attention inputs sparse"
    )

    @model_validator(mode="after")
    def _check_heads(self) -> ArchitectureConfig:
        kv = self.num_kv_heads or self.num_attention_heads
        if self.num_attention_heads % kv:
            raise ValueError(
                f"num_attention_heads ({self.num_attention_heads}) must be a multiple of "
                f"num_kv_heads ({kv})"
            )
        if self.head_dim is None and self.hidden_size % self.num_attention_heads:
            raise ValueError(
                f"hidden_size ({self.hidden_size}) is not divisible by num_attention_heads "
                f"({self.num_attention_heads}); give head_dim explicitly"
            )
        return self


class Breakpoint(BaseModel):
    """One point of a piecewise-linear profile over layer depth."""

    model_config = ConfigDict(extra="forbid")

    depth: float = Field(..., ge=0.0, le=1.0, description="layer index / (layers - 1)")
    value: float = Field(..., gt=0.0, lt=1.0, description="value at that depth")


class ActivityProfile(BaseModel):
    """Calibration of the synthetic activation source for one model (see docs/workload.md)."""

    model_config = ConfigDict(extra="forbid")

    mlp_active_fraction: list[Breakpoint] = Field(
        ..., min_length=1, description="mean fraction of MLP neurons active per token vs depth"
    )
    attention_active_fraction: list[Breakpoint] = Field(
        default_factory=lambda: [Breakpoint(depth=0.0, value=0.5)],
        min_length=1,
        description="mean fraction of QKV input elements non-zero after the inserted ReLU",
    )
    concentration: float = Field(
        0.70,
        gt=0.0,
        lt=1.0,
        description="sum(p^2)/sum(p) of within-sequence frequencies = long-range token overlap",
    )
    adjacent_overlap: float = Field(
        0.92, gt=0.0, lt=1.0, description="share of active neurons still active one token later"
    )
    layer_coupling: float = Field(
        0.985,
        ge=0.0,
        lt=1.0,
        description="probability a neuron re-uses its previous-layer parent's random draw",
    )
    sequence_rank_jitter: float = Field(
        0.3, ge=0.0, description="log-rank noise between sequences (hot-set overlap ~90%)"
    )
    max_frequency: float = Field(0.995, gt=0.0, le=1.0, description="cap on a neuron's frequency")

    @model_validator(mode="after")
    def _check(self) -> ActivityProfile:
        if self.adjacent_overlap <= self.concentration:
            raise ValueError(
                f"adjacent_overlap ({self.adjacent_overlap}) must exceed concentration "
                f"({self.concentration}): overlap decays from the first to the second"
            )
        for name in ("mlp_active_fraction", "attention_active_fraction"):
            depths = [b.depth for b in getattr(self, name)]
            if depths != sorted(depths):
                raise ValueError(f"{name}: depths must be increasing, got {depths}")
        return self


class ModelConfig(BaseModel):
    """One file of configs/models/."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(..., description="model id used on the command line")
    name: str = Field(..., description="display name")
    family: str = Field(..., description="model family (opt, llama2, falcon, ...)")
    source: str = Field("", description="where the shape values come from")
    architecture: ArchitectureConfig
    activity: ActivityProfile | None = Field(
        None, description="synthetic activation calibration; None = not usable synthetically"
    )


WEIGHT_BITS = {"fp16": 16, "bf16": 16, "int8": 8, "int4": 4}


@dataclass(frozen=True)
class WeightMatrix:
    """One weight matrix of one layer (``rows x cols`` elements; bias counted separately)."""

    name: str
    rows: int
    cols: int
    bias: int
    role: Literal["neuron", "dense"]

    @property
    def params(self) -> int:
        return self.rows * self.cols + self.bias


@dataclass(frozen=True)
class NeuronGroup:
    """The sparse neurons of one block: ``count`` neurons of ``bytes_per_neuron`` each."""

    kind: NeuronKind
    layer: int
    count: int
    weights_per_neuron: int
    bytes_per_neuron: int
    matrices: tuple[str, ...]

    @property
    def total_bytes(self) -> int:
        return self.count * self.bytes_per_neuron


@dataclass(frozen=True)
class ModelSpec:
    """A model with its derived shapes. ``weight_bits`` = 16 (FP16, the paper), 8 or 4."""

    config: ModelConfig
    weight_bits: int = 16
    kv_bits: int = 16

    @property
    def id(self) -> str:
        return self.config.id

    def as_multi_head(self) -> ModelSpec:
        """This model with one KV head per query head (K/V projections and KV cache widened;
        ``self`` when it already has one)."""
        arch = self.arch
        if self.num_kv_heads == arch.num_attention_heads:
            return self
        wide = arch.model_copy(update={"num_kv_heads": arch.num_attention_heads})
        return replace(self, config=self.config.model_copy(update={"architecture": wide}))

    @property
    def arch(self) -> ArchitectureConfig:
        return self.config.architecture

    @property
    def num_layers(self) -> int:
        return self.arch.num_layers

    @property
    def hidden_size(self) -> int:
        return self.arch.hidden_size

    @property
    def ffn_size(self) -> int:
        return self.arch.ffn_size

    @property
    def num_kv_heads(self) -> int:
        return self.arch.num_kv_heads or self.arch.num_attention_heads

    @property
    def head_dim(self) -> int:
        return self.arch.head_dim or self.arch.hidden_size // self.arch.num_attention_heads

    @property
    def q_dim(self) -> int:
        return self.arch.num_attention_heads * self.head_dim

    @property
    def kv_dim(self) -> int:
        return self.num_kv_heads * self.head_dim

    def _bytes(self, params: int) -> int:
        return -(-params * self.weight_bits // 8)

    @cached_property
    def layer_matrices(self) -> tuple[WeightMatrix, ...]:
        """The matrices of one decoder layer (identical in every layer)."""
        a, h, f = self.arch, self.hidden_size, self.ffn_size
        qkv_out = self.q_dim + 2 * self.kv_dim
        mats = [
            WeightMatrix("qkv", h, qkv_out, qkv_out if a.bias else 0, "neuron"),
            WeightMatrix("o_proj", self.q_dim, h, h if a.bias else 0, "dense"),
        ]
        if a.mlp == "gated":
            mats.append(WeightMatrix("gate", h, f, f if a.bias else 0, "neuron"))
        mats += [
            WeightMatrix("fc1", h, f, f if a.bias else 0, "neuron"),
            WeightMatrix("fc2", f, h, h if a.bias else 0, "neuron"),
        ]
        per_norm = 2 * h if a.norm == "layernorm" else h
        if a.norms_per_layer:
            mats.append(WeightMatrix("norms", a.norms_per_layer, per_norm, 0, "dense"))
        return tuple(mats)

    @cached_property
    def global_matrices(self) -> tuple[WeightMatrix, ...]:
        """Matrices outside the decoder layers (embeddings, final norm, LM head)."""
        a, h = self.arch, self.hidden_size
        e = a.embed_proj_dim or h
        mats = [WeightMatrix("embed_tokens", a.vocab_size, e, 0, "dense")]
        if a.position_embedding == "learned":
            rows = a.max_position_embeddings + a.learned_position_offset
            mats.append(WeightMatrix("embed_positions", rows, h, 0, "dense"))
        if e != h:
            mats += [
                WeightMatrix("project_in", e, h, 0, "dense"),
                WeightMatrix("project_out", h, e, 0, "dense"),
            ]
        if a.final_norm:
            mats.append(WeightMatrix("final_norm", 1, 2 * h if a.norm == "layernorm" else h, 0,
                                     "dense"))
        if not a.tie_word_embeddings:
            mats.append(WeightMatrix("lm_head", e, a.vocab_size, 0, "dense"))
        return tuple(mats)

    @cached_property
    def params(self) -> int:
        """Total parameter count (a tied LM head counted once)."""
        per_layer = sum(m.params for m in self.layer_matrices)
        return per_layer * self.num_layers + sum(m.params for m in self.global_matrices)

    @property
    def weight_bytes(self) -> int:
        """All weights at ``weight_bits`` per parameter (bytes)."""
        return self._bytes(self.params)

    @cached_property
    def attention_weights_per_neuron(self) -> int:
        return self.q_dim + 2 * self.kv_dim

    @cached_property
    def mlp_weights_per_neuron(self) -> int:
        return (3 if self.arch.mlp == "gated" else 2) * self.hidden_size

    def neuron_group(self, kind: NeuronKind, layer: int) -> NeuronGroup:
        """The neuron group of one block (``kind`` in attention/mlp, ``layer`` 0-based)."""
        if kind == "attention":
            w, n, mats = self.attention_weights_per_neuron, self.hidden_size, ("qkv",)
        else:
            w, n = self.mlp_weights_per_neuron, self.ffn_size
            mats = ("gate", "fc1", "fc2") if self.arch.mlp == "gated" else ("fc1", "fc2")
        return NeuronGroup(kind, layer, n, w, self._bytes(w), mats)

    @cached_property
    def blocks(self) -> tuple[NeuronGroup, ...]:
        """All neuron groups in execution order: attention 0, mlp 0, attention 1, ..."""
        return tuple(
            self.neuron_group(kind, layer)
            for layer in range(self.num_layers)
            for kind in NEURON_KINDS
        )

    @property
    def neuron_bytes(self) -> int:
        """Bytes of all sparse-neuron weights (what the placement distributes)."""
        return sum(g.total_bytes for g in self.blocks)

    @property
    def dense_bytes(self) -> int:
        """Bytes of the dense weights (o_proj, norms, biases, embeddings, LM head)."""
        return self.weight_bytes - self.neuron_bytes

    @cached_property
    def gpu_dense_bytes(self) -> int:
        """Dense weights the GPU must hold: the output projections (GPU-only, paper step 3) and
        the LM head (our [O] choice, docs/workload.md). Embeddings and norms stay on the DIMMs."""
        o_proj = next(m for m in self.layer_matrices if m.name == "o_proj")
        lm_rows = (self.arch.embed_proj_dim or self.hidden_size) * self.arch.vocab_size
        return self._bytes(o_proj.params * self.num_layers + lm_rows)

    @property
    def kv_bytes_per_token(self) -> int:
        """KV-cache bytes one token adds (K and V, every layer, ``kv_bits`` per element)."""
        return 2 * self.num_layers * self.kv_dim * self.kv_bits // 8

    def summary(self) -> dict:
        """Plain-data description (what ``hermes model show --json`` prints)."""
        return {
            "id": self.id,
            "name": self.config.name,
            "family": self.config.family,
            "layers": self.num_layers,
            "hidden_size": self.hidden_size,
            "ffn_size": self.ffn_size,
            "attention_heads": self.arch.num_attention_heads,
            "kv_heads": self.num_kv_heads,
            "head_dim": self.head_dim,
            "vocab_size": self.arch.vocab_size,
            "mlp": self.arch.mlp,
            "params": self.params,
            "weight_bits": self.weight_bits,
            "weight_bytes": self.weight_bytes,
            "neuron_bytes": self.neuron_bytes,
            "dense_bytes": self.dense_bytes,
            "gpu_dense_bytes": self.gpu_dense_bytes,
            "kv_bytes_per_token": self.kv_bytes_per_token,
            "neurons_per_layer": {
                "attention": self.hidden_size,
                "mlp": self.ffn_size,
            },
            "bytes_per_neuron": {
                "attention": self.neuron_group("attention", 0).bytes_per_neuron,
                "mlp": self.neuron_group("mlp", 0).bytes_per_neuron,
            },
            "layer_matrices": [
                {"name": m.name, "rows": m.rows, "cols": m.cols, "bias": m.bias, "role": m.role,
                 "bytes": self._bytes(m.params)}
                for m in self.layer_matrices
            ],
            "global_matrices": [
                {"name": m.name, "rows": m.rows, "cols": m.cols, "role": m.role,
                 "bytes": self._bytes(m.params)}
                for m in self.global_matrices
            ],
        }
