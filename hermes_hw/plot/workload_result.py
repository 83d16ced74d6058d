"""The workload result file (``hermes-workload-result/1``): what the DIMM load-balance and
predictor-quality figures read. No matplotlib import here.

```json
{"format": "hermes-workload-result/1", "model": "llama2-70b", "decode_tokens": 128,
 "window_tokens": 5,
 "blocks": [{"layer": 0, "kind": "attention", "neurons": 8192, "tp": 1, "fp": 2, "fn": 3}, ...],
 "window_imbalance": {"static": [[...], ...], "remap": [[...], ...], "in_window": [[...], ...]}}
```

``blocks``: one entry per neuron block (layer x attention/mlp) with the predictor's confusion
counts summed over the decode tokens (``neurons`` = block size x tokens). ``window_imbalance``:
per remapping window (outer list) and block (inner list), the busiest DIMM's cold-neuron load over
the mean DIMM load (max/mean, 1.0 = balanced; null where a block had no cold work): ``static`` with
the offline placement kept, ``remap`` with the placement the window found after the previous
windows' remapping, ``in_window`` after this window's own rebalancing (when recorded).

The output of ``hermes workload --json`` (per layer group) is also accepted by the figures.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from hermes_hw.errors import InputError

FORMAT = "hermes-workload-result/1"


def _rows(arrays: list[np.ndarray]) -> list[list[float | None]]:
    return [[None if not math.isfinite(v) else float(v) for v in np.asarray(a).tolist()]
            for a in arrays]


def workload_result(report: Any, window_tokens: int = 5) -> dict[str, Any]:
    """Build the result object from a :class:`~hermes_hw.workload.pipeline.WorkloadReport`."""
    m = report.metrics
    blocks = [{"layer": int(g.layer), "kind": str(g.kind), "neurons": int(m.neurons[i]),
               "tp": int(m.tp[i]), "fp": int(m.fp[i]), "fn": int(m.fn[i])}
              for i, g in enumerate(report.model.blocks)]
    imb = {"static": _rows(report.imbalance_static), "remap": _rows(report.imbalance_remap)}
    if getattr(report, "imbalance_in_window", None):
        imb["in_window"] = _rows(report.imbalance_in_window)
    return {"format": FORMAT, "model": report.model.id, "decode_tokens": int(report.decode_tokens),
            "window_tokens": int(window_tokens), "blocks": blocks, "window_imbalance": imb}


def write_workload_result(report: Any, path: str | Path, window_tokens: int = 5) -> Path:
    path = Path(path)
    path.write_text(json.dumps(workload_result(report, window_tokens), indent=1) + "\n")
    return path


def read_workload_result(path: str | Path) -> dict[str, Any]:
    """Read either format; returns the object with ``format`` set (``hermes-workload-groups``
    for the output of ``hermes workload --json``)."""
    try:
        obj = json.loads(Path(path).read_text())
    except OSError as err:
        raise InputError(f"cannot read workload result ({err.strerror})", source=str(path)) \
            from None
    except ValueError as err:
        raise InputError(f"not valid JSON ({err})", source=str(path)) from None
    if isinstance(obj, dict) and obj.get("format") == FORMAT:
        for key in ("blocks", "window_imbalance"):
            if key not in obj:
                raise InputError(f"missing '{key}' ({FORMAT})", source=str(path))
        return obj
    if isinstance(obj, dict) and isinstance(obj.get("groups"), list):
        obj = dict(obj, format="hermes-workload-groups")
        return obj
    raise InputError(f"expected a {FORMAT} file or the output of `hermes workload --json`",
                     source=str(path))


def per_layer_quality(obj: dict[str, Any]) -> dict[str, dict[str, np.ndarray]]:
    """{kind: {"x": layers or group labels, "recall": ..., "precision": ...}} where recall =
    TP/(TP+FN) and precision = TP/(TP+FP) per layer (NaN when undefined)."""
    out: dict[str, dict[str, np.ndarray]] = {}
    if obj["format"] == FORMAT:
        for kind in sorted({b["kind"] for b in obj["blocks"]}):
            bl = sorted((b for b in obj["blocks"] if b["kind"] == kind),
                        key=lambda b: b["layer"])
            tp = np.array([b["tp"] for b in bl], dtype=float)
            fp = np.array([b["fp"] for b in bl], dtype=float)
            fn = np.array([b["fn"] for b in bl], dtype=float)
            with np.errstate(invalid="ignore", divide="ignore"):
                out[kind] = {"x": np.array([b["layer"] for b in bl]),
                             "recall": np.where(tp + fn > 0, tp / (tp + fn), np.nan),
                             "precision": np.where(tp + fp > 0, tp / (tp + fp), np.nan)}
    else:
        for kind in sorted({g["kind"] for g in obj["groups"]}):
            gs = [g for g in obj["groups"] if g["kind"] == kind]
            out[kind] = {"x": np.array([g["layers"] for g in gs]),
                         "recall": np.array([_num(g.get("recall")) for g in gs]),
                         "precision": np.array([_num(g.get("precision")) for g in gs])}
    return out


def window_balance(obj: dict[str, Any]) -> dict[str, np.ndarray]:
    """{series: mean over blocks of max/mean DIMM load, per window} for the per-window format;
    for ``hermes workload --json`` output, per layer group instead of per window."""
    if obj["format"] == FORMAT:
        out = {}
        for key, rows in obj["window_imbalance"].items():
            if rows:
                arr = np.array([[np.nan if v is None else v for v in r] for r in rows],
                               dtype=float)
                with np.errstate(all="ignore"):
                    out[key] = np.array([np.nanmean(r) if np.isfinite(r).any() else np.nan
                                         for r in arr])
        return out
    gs = obj["groups"]
    out = {"static": np.array([_num(g.get("imbalance_no_remap")) for g in gs]),
           "remap": np.array([_num(g.get("imbalance_remap")) for g in gs])}
    if all("imbalance_in_window" in g for g in gs):
        out["in_window"] = np.array([_num(g.get("imbalance_in_window")) for g in gs])
    return out


def _num(v: Any) -> float:
    return float("nan") if v is None else float(v)
