"""Build a model from a Hugging Face ``config.json`` (no network, no transformers needed).

Supported ``model_type`` values: opt, llama (and mistral, which shares its shape keys), falcon
(also the older RefinedWeb names). Other types fall back to the generic llama-style keys and name
the first missing key when they are absent.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from hermes_hw.errors import InputError
from hermes_hw.workload.models.spec import ArchitectureConfig, ModelConfig


def _get(cfg: dict, source: str, *keys: str, default: Any = ...) -> Any:
    for key in keys:
        if key in cfg and cfg[key] is not None:
            return cfg[key]
    if default is ...:
        raise InputError(f"missing key '{keys[0]}' (expected an integer)", source=source)
    return default


def _opt(cfg: dict, src: str) -> dict:
    hidden = _get(cfg, src, "hidden_size")
    proj = _get(cfg, src, "word_embed_proj_dim", default=hidden)
    return dict(
        hidden_size=hidden,
        ffn_size=_get(cfg, src, "ffn_dim"),
        num_layers=_get(cfg, src, "num_hidden_layers"),
        num_attention_heads=_get(cfg, src, "num_attention_heads"),
        vocab_size=_get(cfg, src, "vocab_size"),
        mlp="plain",
        bias=bool(_get(cfg, src, "enable_bias", default=True)),
        norm="layernorm",
        norms_per_layer=2,
        final_norm=bool(_get(cfg, src, "do_layer_norm_before", default=True))
        and not bool(_get(cfg, src, "_remove_final_layer_norm", default=False)),
        position_embedding="learned",
        max_position_embeddings=_get(cfg, src, "max_position_embeddings", default=2048),
        learned_position_offset=2,
        embed_proj_dim=proj if proj != hidden else None,
        tie_word_embeddings=bool(_get(cfg, src, "tie_word_embeddings", default=True)),
        activation=_get(cfg, src, "activation_function", default="relu"),
    )


def _llama(cfg: dict, src: str) -> dict:
    heads = _get(cfg, src, "num_attention_heads")
    return dict(
        hidden_size=_get(cfg, src, "hidden_size"),
        ffn_size=_get(cfg, src, "intermediate_size"),
        num_layers=_get(cfg, src, "num_hidden_layers"),
        num_attention_heads=heads,
        num_kv_heads=_get(cfg, src, "num_key_value_heads", default=heads),
        head_dim=_get(cfg, src, "head_dim", default=None),
        vocab_size=_get(cfg, src, "vocab_size"),
        mlp="gated",
        bias=bool(_get(cfg, src, "attention_bias", "mlp_bias", default=False)),
        norm="rmsnorm",
        norms_per_layer=2,
        position_embedding="rotary",
        max_position_embeddings=_get(cfg, src, "max_position_embeddings", default=4096),
        tie_word_embeddings=bool(_get(cfg, src, "tie_word_embeddings", default=False)),
        activation=_get(cfg, src, "hidden_act", default="silu"),
    )


def _falcon(cfg: dict, src: str) -> dict:
    hidden = _get(cfg, src, "hidden_size")
    heads = _get(cfg, src, "num_attention_heads", "n_head")
    new_arch = bool(_get(cfg, src, "new_decoder_architecture", default=False))
    multi_query = bool(_get(cfg, src, "multi_query", default=True))
    if new_arch:
        kv = _get(cfg, src, "num_kv_heads", "n_head_kv", default=heads)
    else:
        kv = 1 if multi_query else heads
    parallel = bool(_get(cfg, src, "parallel_attn", default=True))
    return dict(
        hidden_size=hidden,
        ffn_size=_get(cfg, src, "ffn_hidden_size", default=4 * hidden),
        num_layers=_get(cfg, src, "num_hidden_layers", "n_layer"),
        num_attention_heads=heads,
        num_kv_heads=kv,
        vocab_size=_get(cfg, src, "vocab_size"),
        mlp="plain",
        bias=bool(_get(cfg, src, "bias", default=False)),
        norm="layernorm",
        # new architecture: ln_attn + ln_mlp; parallel old: one shared input_layernorm
        norms_per_layer=2 if new_arch or not parallel else 1,
        position_embedding="alibi" if _get(cfg, src, "alibi", default=False) else "rotary",
        max_position_embeddings=_get(cfg, src, "max_position_embeddings", default=2048),
        tie_word_embeddings=bool(_get(cfg, src, "tie_word_embeddings", default=True)),
        activation="relu",
    )


_BUILDERS = {"opt": _opt, "llama": _llama, "mistral": _llama, "falcon": _falcon,
             "RefinedWeb": _falcon, "RefinedWebModel": _falcon}


def model_config_from_hf(path: Path) -> ModelConfig:
    """A :class:`ModelConfig` from a ``config.json`` (activity profile left unset)."""
    src = str(path)
    try:
        cfg = json.loads(Path(path).read_text())
    except OSError as err:
        raise InputError(f"cannot read: {err.strerror}", source=src) from None
    except json.JSONDecodeError as err:
        raise InputError(f"line {err.lineno}: not valid JSON ({err.msg})", source=src) from None
    if not isinstance(cfg, dict):
        raise InputError("expected a JSON object", source=src)
    model_type = str(cfg.get("model_type", ""))
    fields = _BUILDERS.get(model_type, _llama)(cfg, src)
    fields = {k: v for k, v in fields.items() if v is not None}
    try:
        arch = ArchitectureConfig.model_validate(fields)
    except ValidationError as err:
        first = err.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise InputError(f"{loc}: {first['msg']}", source=src) from None
    name = str(cfg.get("_name_or_path") or Path(path).parent.name or "hf-model")
    return ModelConfig(
        id=name.rsplit("/", 1)[-1].lower(),
        name=name,
        family=model_type or "unknown",
        source=f"Hugging Face config.json: {src}",
        architecture=arch,
    )
