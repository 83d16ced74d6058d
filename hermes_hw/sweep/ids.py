"""Stable point ids: a hash of the point's resolved config as canonical JSON."""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

ID_HEX_DIGITS = 12


def canonical_json(obj: Any) -> str:
    """JSON with sorted keys, no whitespace and no NaN/Infinity (rejected): equal data gives equal
    text on every machine and Python version."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)


def point_id(runner: str, config: dict[str, Any], resolved: Any = None) -> str:
    """First 12 hex digits of SHA-256 over ``{"runner": ..., "config": ...}`` (canonical JSON),
    with ``"resolved": ...`` added when the runner resolves named inputs (a system id to its
    config file's contents), so that editing a built-in config gives new ids."""
    obj = {"runner": runner, "config": config}
    if resolved is not None:
        obj["resolved"] = resolved
    text = canonical_json(obj)
    return hashlib.sha256(text.encode()).hexdigest()[:ID_HEX_DIGITS]


def is_finite_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
