"""Imported activations: numpy mask files, PowerInfer activation counts, a Hugging Face recorder.

* ``masks`` source: a ``.npz`` file in the format of ``traces/activation_masks.md``.
* :func:`load_powerinfer_counts`: PowerInfer's ``activation/activation_{i}.pt`` per-layer counts
  (needs the optional ``torch`` extra); usable as MLP frequencies of the synthetic source.
* :func:`record_hf_masks`: hooks an OPT- or LLaMA-style torch model and writes a mask file
  (needs ``torch``; no transformers needed).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from hermes_hw.errors import InputError
from hermes_hw.workload.activations.base import (
    ActivationSource,
    ActivationTrace,
    BlockLayout,
    register_source,
)
from hermes_hw.workload.models.spec import ModelSpec

MASK_FORMAT = "hermes-activation-masks/1"


def save_masks(path: str | Path, mlp: np.ndarray, attention: np.ndarray | None = None,
               prompt_tokens: int | None = None, model_id: str = "") -> None:
    """Write a mask file. ``mlp``: bool (tokens, layers, ffn) or (requests, tokens, layers,
    ffn); ``attention`` likewise with ``hidden`` neurons (optional)."""
    arrays = {"format": np.array(MASK_FORMAT), "mlp": np.asarray(mlp, dtype=bool),
              "model": np.array(model_id)}
    if attention is not None:
        arrays["attention"] = np.asarray(attention, dtype=bool)
    if prompt_tokens is not None:
        arrays["prompt_tokens"] = np.array(int(prompt_tokens))
    np.savez_compressed(path, **arrays)


def _union_requests(arr: np.ndarray, name: str, src: str, layers: int, width: int
                    ) -> np.ndarray:
    if arr.ndim == 4:
        arr = arr.any(axis=0)
    if arr.ndim != 3:
        raise InputError(f"'{name}' must have shape (tokens, layers, neurons) or (requests, "
                         f"tokens, layers, neurons), got {arr.shape}", source=src)
    if arr.shape[1] != layers:
        raise InputError(f"'{name}' has {arr.shape[1]} layers, the model has {layers}",
                         source=src)
    if arr.shape[2] != width:
        raise InputError(f"'{name}' has {arr.shape[2]} neurons per layer, the model has "
                         f"{width}", source=src)
    if arr.dtype != bool:
        if not np.issubdtype(arr.dtype, np.integer) or arr.min() < 0 or arr.max() > 1:
            raise InputError(f"'{name}' must hold booleans or 0/1 integers (got {arr.dtype})",
                             source=src)
        arr = arr.astype(bool)
    return arr


def load_masks(path: str | Path, model: ModelSpec) -> ActivationTrace:
    """Read a mask file into a trace (errors name the file and the array)."""
    src = str(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except FileNotFoundError:
        raise InputError("no such file", source=src) from None
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as err:
        raise InputError(f"not a readable .npz mask file ({err})", source=src) from None
    fmt = str(arrays.get("format", ""))
    if fmt != MASK_FORMAT:
        raise InputError(f"'format' is '{fmt}', expected '{MASK_FORMAT}' "
                         "(see traces/activation_masks.md)", source=src)
    if "mlp" not in arrays:
        raise InputError("missing array 'mlp'", source=src)
    layers = model.num_layers
    mlp = _union_requests(arrays["mlp"], "mlp", src, layers, model.ffn_size)
    tokens = mlp.shape[0]
    if "attention" in arrays:
        att = _union_requests(arrays["attention"], "attention", src, layers, model.hidden_size)
        if att.shape[0] != tokens:
            raise InputError(f"'attention' has {att.shape[0]} tokens, 'mlp' has {tokens}",
                             source=src)
    else:  # no attention masks: attention inputs treated as dense
        att = np.ones((tokens, layers, model.hidden_size), dtype=bool)
    prompt = int(arrays.get("prompt_tokens", tokens // 2))
    if not 1 <= prompt < tokens:
        raise InputError(f"'prompt_tokens' must be in [1, {tokens - 1}], got {prompt}",
                         source=src)
    layout = BlockLayout.for_model(model)
    bits = np.zeros((tokens, layout.total_bits // 8), dtype=np.uint8)
    for b, g in enumerate(model.blocks):
        masks = att[:, g.layer] if g.kind == "attention" else mlp[:, g.layer]
        packed = np.packbits(masks, axis=1, bitorder="little")
        lo = int(layout.byte_offsets[b])
        bits[:, lo:lo + packed.shape[1]] = packed
    batch = arrays["mlp"].shape[0] if arrays["mlp"].ndim == 4 else 1
    return ActivationTrace(model=model, layout=layout, bits=bits, prompt_tokens=prompt,
                           batch=batch, source=f"masks:{src}")


@register_source("masks")
class MaskFileSource(ActivationSource):
    """Activations from a recorded mask file; the file fixes the token count."""

    def __init__(self, path: str) -> None:
        self.path = path

    def trace(self, model: ModelSpec, *, prompt_tokens: int, decode_tokens: int,
              batch: int = 1, seed: int = 0) -> ActivationTrace:
        return load_masks(self.path, model)


def _torch():
    try:
        import torch
    except ImportError:
        raise InputError("this import needs the optional torch extra: "
                         "pip install 'hermes-hw[torch]'") from None
    return torch


def load_powerinfer_counts(directory: str | Path, model: ModelSpec) -> list[np.ndarray]:
    """Per-layer MLP activation frequencies from PowerInfer's ``activation_{i}.pt`` files
    (counts normalised by their maximum so the hottest neuron has frequency ~1)."""
    torch = _torch()
    directory = Path(directory)
    out = []
    for layer in range(model.num_layers):
        path = directory / f"activation_{layer}.pt"
        if not path.is_file():
            raise InputError(f"missing {path.name} (expected one file per layer, "
                             f"0..{model.num_layers - 1})", source=str(directory))
        try:
            tensor = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:  # torch raises many types for corrupt files
            raise InputError(f"not a readable torch tensor ({type(err).__name__})",
                             source=str(path)) from None
        counts = np.asarray(tensor.detach().cpu().numpy() if hasattr(tensor, "detach")
                            else tensor, dtype=np.float64)
        if counts.ndim != 1 or counts.shape[0] != model.ffn_size:
            raise InputError(f"expected a 1-D tensor of {model.ffn_size} counts, got shape "
                             f"{tuple(counts.shape)}", source=str(path))
        if (counts < 0).any():
            raise InputError("negative activation counts", source=str(path))
        out.append(counts / max(counts.max(), 1.0))
    return out


def record_hf_masks(model, input_ids, path: str | Path, prompt_tokens: int) -> None:
    """Run ``model`` (an OPT- or LLaMA-style torch module) on ``input_ids`` (1 x tokens) and
    write the masks: MLP = intermediate activation > 0 (the input of fc2 / down_proj),
    attention = the QKV input after the inserted ReLU > 0 (the input of q_proj)."""
    torch = _torch()
    layers = _find_layers(model)
    mlp_rec: dict[int, np.ndarray] = {}
    att_rec: dict[int, np.ndarray] = {}
    hooks = []
    for i, layer in enumerate(layers):
        down = getattr(layer, "fc2", None) or getattr(getattr(layer, "mlp", None), "down_proj",
                                                      None)
        attn = getattr(layer, "self_attn", None)
        q = getattr(attn, "q_proj", None)
        if down is None or q is None:
            raise InputError(f"layer {i}: no fc2/mlp.down_proj or self_attn.q_proj to hook")
        hooks.append(down.register_forward_pre_hook(
            lambda _m, args, i=i: mlp_rec.__setitem__(i, (args[0][0] > 0).cpu().numpy())))
        hooks.append(q.register_forward_pre_hook(
            lambda _m, args, i=i: att_rec.__setitem__(i, (torch.relu(args[0][0]) > 0)
                                                      .cpu().numpy())))
    try:
        with torch.no_grad():
            model(input_ids)
    finally:
        for h in hooks:
            h.remove()
    mlp = np.stack([mlp_rec[i] for i in range(len(layers))], axis=1)
    att = np.stack([att_rec[i] for i in range(len(layers))], axis=1)
    save_masks(path, mlp, att, prompt_tokens=prompt_tokens)


def _find_layers(model):
    for path in ("model.decoder.layers", "decoder.layers", "model.layers", "layers"):
        obj = model
        for part in path.split("."):
            obj = getattr(obj, part, None)
            if obj is None:
                break
        if obj is not None:
            return list(obj)
    raise InputError("cannot find the decoder layers (model.decoder.layers or model.layers)")
