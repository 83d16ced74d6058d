"""Components registered by name (activation sources, predictors, placement policies, ...).

    PREDICTORS = Registry("predictor")

    @PREDICTORS.register("hermes")
    class HermesPredictor(Predictor): ...

    PREDICTORS.create("hermes", **options)

A Registry is a dict from name to factory, so ``name in REG`` and iteration work as usual.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from hermes_hw.errors import InputError, closest_match_hint, unknown_name

T = TypeVar("T")


class Registry(dict, Generic[T]):
    """Name -> factory of one kind of component; ``kind`` names it in error messages."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind

    def register(self, name: str) -> Callable[[type], type]:
        """Class decorator: make ``cls`` available as ``name`` (and set ``cls.name``)."""

        def deco(cls: type) -> type:
            cls.name = name
            self[name] = cls
            return cls

        return deco

    def create(self, name: str, **options: Any) -> T:
        """Instantiate component ``name``; unknown names and unknown options list the valid
        ones."""
        if name not in self:
            raise unknown_name(self.kind, name, self)
        factory = self[name]
        params = inspect.signature(factory).parameters
        if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
            valid = [k for k, p in params.items()
                     if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
            for key in options:
                if key not in valid:
                    raise InputError(f"unknown option '{key}' of {self.kind} '{name}'"
                                     f"{closest_match_hint(key, valid)}")
        return factory(**options)
