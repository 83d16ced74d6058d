"""PowerInfer's per-layer MLP predictors for Hermes-host (``host.predictor: powerinfer_mlp``).

PowerInfer (§5.1) predicts each layer's active FFN neurons with a small MLP, d_model -> hidden
-> n_ffn, ReLU, no bias, whose hidden size it tunes per layer; its Table 6 gives the predictors'
total size per model as a share of the model's parameters (peers.md §2). Its allocator puts the
predictors in VRAM after the dense attention and before the FFN's hot neurons
(docs/calibration.md).

One formula for every model (FP16, the hidden size even over the layers)::

    hidden_per_layer = round(share x model params / (layers x (d_model + n_ffn)))
    bytes_per_layer  = 2 x hidden_per_layer x (d_model + n_ffn)

and each layer's prediction is two dense GEMVs, d_model -> hidden and hidden -> n_ffn. Like
PowerInfer's allocator (``buffered_tensor_allocator::flush``: layer by layer from layer 0, stop
at the first tensor that does not fit) the predictors take the GPU budget left after the
GPU-only dense weights (output projections, LM head) before any hot neuron; the layers whose
predictor does not fit run it on the CPU (one CPU operator of ``bytes_per_layer``).
"""

from __future__ import annotations

from dataclasses import dataclass

from hermes_hw.errors import InputError
from hermes_hw.workload.models.spec import ModelSpec

PREDICTOR_BYTES_PER_PARAM = 2
"""FP16 predictor weights (PowerInfer ships them in the model's GGUF as FP16)."""

POWERINFER_PREDICTOR_SHARES: dict[str, tuple[float, str]] = {
    "opt-13b": (0.0671, "[M] PowerInfer Table 6: 0.88B params (6.71%)"),
    "opt-66b": (0.0488, "[M] PowerInfer Table 6: 3.23B params (4.88%)"),
    "falcon-40b": (0.0868, "[M] PowerInfer Table 6: 3.63B params (8.68%)"),
    "llama2-70b": (0.0808, "[M] PowerInfer Table 6, LLaMA(ReGLU)-70B: 5.66B params (8.08%)"),
    # not in Table 6; [I] = inferred from the same family
    "opt-30b": (0.0577, "[I] OPT-13B 6.71% and OPT-66B 4.88% interpolated linearly in "
                "log(params) (30B lies almost midway: ln(30/13) / ln(66/13) = 0.51)"),
    "llama2-13b": (0.0808, "[I] the only LLaMA share given, LLaMA(ReGLU)-70B 8.08%"),
}
"""Predictor parameters / model parameters, per built-in model id, with the source."""


@dataclass(frozen=True)
class PredictorShape:
    """The per-layer predictor of one model: d_model -> hidden -> n_ffn (FP16, no bias)."""

    share: float
    layers: int
    d_model: int
    hidden: int
    n_ffn: int

    @property
    def bytes_per_layer(self) -> int:
        return PREDICTOR_BYTES_PER_PARAM * self.hidden * (self.d_model + self.n_ffn)

    @property
    def total_bytes(self) -> int:
        return self.layers * self.bytes_per_layer

    def gpu_layers(self, free_bytes: float) -> int:
        """Leading layers whose predictor fits in ``free_bytes`` of VRAM."""
        return int(min(self.layers, max(0.0, free_bytes) // self.bytes_per_layer))


def predictor_share(model: ModelSpec, override: float | None) -> float:
    """The configured share, else the cited share of the model; one-line error if neither."""
    if override is not None:
        return float(override)
    hit = POWERINFER_PREDICTOR_SHARES.get(model.id)
    if hit is None:
        raise InputError(f"host.predictor 'powerinfer_mlp': no PowerInfer predictor size for "
                         f"model '{model.id}' (cited for: "
                         f"{', '.join(sorted(POWERINFER_PREDICTOR_SHARES))}); set "
                         "host.predictor_share (predictor params / model params, e.g. 0.07)")
    return hit[0]


def predictor_shape(model: ModelSpec, override: float | None = None) -> PredictorShape:
    """The module formula: hidden size from the share, spread evenly over the layers."""
    share = predictor_share(model, override)
    width = model.hidden_size + model.ffn_size
    hidden = max(1, round(share * model.params / (model.num_layers * width)))
    return PredictorShape(share, model.num_layers, model.hidden_size, hidden, model.ffn_size)
