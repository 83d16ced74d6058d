"""Find and load models: built-in ids (configs/models/*.yaml), YAML paths, HF config.json paths."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from hermes_hw.errors import InputError, unknown_name
from hermes_hw.paths import configs_dir
from hermes_hw.workload.models.hf_config import model_config_from_hf
from hermes_hw.workload.models.spec import WEIGHT_BITS, ModelConfig, ModelSpec


def models_dir() -> Path:
    return configs_dir() / "models"


def builtin_model_ids() -> list[str]:
    """Ids of the built-in models (file stems of configs/models/*.yaml)."""
    return sorted(p.stem for p in models_dir().glob("*.yaml"))


def validation_message(err: ValidationError) -> str:
    """First pydantic error as 'key.path: message' (one line)."""
    first = err.errors()[0]
    loc = ".".join(str(p) for p in first["loc"]) or "(top level)"
    extra = f" ({len(err.errors()) - 1} more)" if len(err.errors()) > 1 else ""
    return f"{loc}: {first['msg']}{extra}"


def _read_yaml(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as err:
        raise InputError(f"cannot read model config: {err.strerror}", source=str(path)) from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise InputError(f"{where}not valid YAML ({problem})", source=str(path)) from None
    if not isinstance(data, dict):
        raise InputError("expected a mapping of model fields at the top level", source=str(path))
    return data


def load_model_config(path: Path) -> ModelConfig:
    """Parse one model YAML file (errors name the file and the key path)."""
    data = _read_yaml(path)
    try:
        return ModelConfig.model_validate(data)
    except ValidationError as err:
        raise InputError(validation_message(err), source=str(path)) from None


def resolve_weight_bits(dtype: str | int) -> int:
    if isinstance(dtype, int):
        bits = dtype
    elif dtype.isdigit():
        bits = int(dtype)
    elif dtype.lower() in WEIGHT_BITS:
        bits = WEIGHT_BITS[dtype.lower()]
    else:
        raise unknown_name("weight dtype", dtype, WEIGHT_BITS)
    if bits not in (4, 8, 16, 32):
        raise InputError(f"weight bits must be 4, 8, 16 or 32, got {bits}")
    return bits


def load_model(name: str, *, dtype: str | int = "fp16") -> ModelSpec:
    """A model by built-in id, by YAML path, or by Hugging Face ``config.json`` path."""
    bits = resolve_weight_bits(dtype)
    path = Path(name)
    if path.suffix == ".json":
        if not path.is_file():
            raise InputError("no such file", source=name)
        return ModelSpec(model_config_from_hf(path), weight_bits=bits)
    if path.suffix in (".yaml", ".yml"):
        if not path.is_file():
            raise InputError("no such file", source=name)
        return ModelSpec(load_model_config(path), weight_bits=bits)
    ids = builtin_model_ids()
    if name not in ids:
        raise unknown_name("model", name, ids)
    config = load_model_config(models_dir() / f"{name}.yaml")
    if config.id != name:
        raise InputError(
            f"id: '{config.id}' does not match the file name '{name}'",
            source=str(models_dir() / f"{name}.yaml"),
        )
    return ModelSpec(config, weight_bits=bits)
