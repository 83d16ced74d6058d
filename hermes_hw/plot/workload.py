"""Figures from workload results: DIMM load balance per window (before/after remapping) and the
predictor's recall/precision per layer (see :mod:`hermes_hw.plot.workload_result`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from hermes_hw.plot.style import new_figure
from hermes_hw.plot.workload_result import FORMAT, per_layer_quality, window_balance

SERIES_LABELS = {
    "static": "fixed placement (no remapping)",
    "remap": "with window remapping (placement from earlier windows)",
    "in_window": "after rebalancing the window itself",
}


def plot_load_balance(obj: dict[str, Any], title: str | None = None):
    series = window_balance(obj)
    per_window = obj["format"] == FORMAT
    fig, ax = new_figure(7.5, 3.8)
    if per_window:
        w = obj.get("window_tokens", 5)
        for key, values in series.items():
            x = np.arange(len(values))
            ax.plot(x, values, marker="o", markersize=3, label=f"{SERIES_LABELS.get(key, key)}"
                    f" (mean {np.nanmean(values[1:] if len(values) > 1 else values):.3f})")
        ax.set_xlabel(f"remapping window (index; {w} decode tokens each)")
    else:
        groups = [f"{g['layers']} {g['kind']}" for g in obj["groups"]]
        x = np.arange(len(groups))
        width = 0.8 / len(series)
        for i, (key, values) in enumerate(series.items()):
            ax.bar(x + (i - (len(series) - 1) / 2) * width, values, width,
                   label=SERIES_LABELS.get(key, key))
        ax.set_xticks(x, groups, rotation=60, ha="right")
        ax.set_xlabel("layer group / block")
    ax.axhline(1.05, color="black", linestyle=":", linewidth=1, label="1.05 (paper: < 5%)")
    ax.set_ylabel("DIMM load imbalance (max / mean)")
    ax.set_ylim(bottom=1.0)
    ax.set_title(title or f"DIMM load balance per window, {obj.get('model', '')}")
    ax.grid(alpha=0.3)
    ax.legend()
    return fig


def plot_predictor_quality(obj: dict[str, Any], title: str | None = None):
    quality = per_layer_quality(obj)
    fig, axes = new_figure(7.5, 3.2 * len(quality), nrows=len(quality), squeeze=False)
    for ax, (kind, q) in zip(axes[:, 0], quality.items(), strict=True):
        numeric = np.issubdtype(q["x"].dtype, np.number)
        x = q["x"] if numeric else np.arange(len(q["x"]))
        ax.plot(x, q["recall"] * 100, marker="o", markersize=3, label="recall")
        ax.plot(x, q["precision"] * 100, marker="s", markersize=3, label="precision")
        if not numeric:
            ax.set_xticks(x, q["x"], rotation=45, ha="right")
        ax.set_xlabel("layer" if numeric else "layer group")
        ax.set_ylabel("recall, precision (%)")
        ax.set_ylim(0, 102)
        ax.set_title(f"{kind} neurons: recall {np.nanmean(q['recall']) * 100:.1f}%, precision "
                     f"{np.nanmean(q['precision']) * 100:.1f}% (layer means)")
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right")
    fig.suptitle(title or f"Predictor recall and precision per layer, {obj.get('model', '')}")
    fig.tight_layout()
    return fig
