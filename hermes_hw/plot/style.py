"""Figure set-up shared by every plot: the Agg backend, sizes, colours and saving."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display needed; set before pyplot is imported anywhere

import matplotlib.pyplot as plt  # noqa: E402

from hermes_hw.errors import InputError  # noqa: E402

#: Colours of the systems compared in the paper (stable across figures).
SYSTEM_COLOURS = {
    "accelerate": "#9e9e9e", "flexgen": "#795548", "dejavu": "#ff9800",
    "hermes-host": "#2196f3", "hermes-base": "#9c27b0", "hermes": "#d32f2f",
    "trtllm-5xa100": "#4caf50",
}
#: Colours of the paper's latency-breakdown categories (timeline events).
CATEGORY_COLOURS = {
    "fc": "#1f77b4", "attention": "#ff7f0e", "predictor": "#2ca02c", "prefill": "#9467bd",
    "communication": "#d62728", "others": "#7f7f7f",
}
SAVE_FORMATS = ("png", "pdf", "svg")


def new_figure(width_in: float = 7.0, height_in: float = 4.0, **kw: Any):
    plt.rcParams.update({"font.size": 9, "axes.titlesize": 10, "legend.fontsize": 8,
                         "svg.hashsalt": "hermes-hw", "pdf.compression": 6})
    return plt.subplots(figsize=(width_in, height_in), **kw)


def colour_cycle(names: list[str], fixed: dict[str, str] | None = None) -> dict[str, str]:
    cmap = plt.get_cmap("tab10")
    out, i = {}, 0
    for n in names:
        if fixed and n in fixed:
            out[n] = fixed[n]
        else:
            out[n] = matplotlib.colors.to_hex(cmap(i % 10))
            i += 1
    return out


def save_figure(fig, out: str | Path, formats: tuple[str, ...] | None = None) -> list[Path]:
    """Save ``fig`` to ``out`` (its suffix picks the format), or to ``out`` with each of
    ``formats``; closes the figure. Metadata without dates, so reruns give identical files."""
    out = Path(out)
    if formats is None:
        suffix = out.suffix.lower().lstrip(".")
        if suffix not in SAVE_FORMATS:
            plt.close(fig)
            raise InputError(f"unsupported figure format '{out.suffix}' (use "
                             f"{', '.join('.' + f for f in SAVE_FORMATS)})", source=str(out))
        targets = [(out, suffix)]
    else:
        targets = [(out.with_suffix("." + f), f) for f in formats]
    written = []
    try:
        for path, fmt in targets:
            path.parent.mkdir(parents=True, exist_ok=True)
            meta = {"CreationDate": None} if fmt == "pdf" else (
                {"Date": None} if fmt == "svg" else None)
            fig.savefig(path, format=fmt, dpi=150, bbox_inches="tight", metadata=meta)
            written.append(path)
    except OSError as err:
        raise InputError(f"cannot write figure ({err.strerror})", source=str(path)) from None
    finally:
        plt.close(fig)
    return written


def label_bars(ax, bars, fmt: str = "{:.3g}", rotation: int = 0) -> None:
    """Write each bar's value above it (as the paper does on its bar charts)."""
    for bar in bars:
        h = bar.get_height()
        if h != h:  # NaN
            continue
        ax.annotate(fmt.format(h), (bar.get_x() + bar.get_width() / 2, h),
                    xytext=(0, 2), textcoords="offset points", ha="center", va="bottom",
                    fontsize=6.5, rotation=rotation)
