"""Summary figure of one simulation (matplotlib, Agg): the breakdown and a Gantt chart of the
first decode token's events per lane."""

from __future__ import annotations

from pathlib import Path

from hermes_hw.timeline import CATEGORIES

COLORS = {"fc": "#4c72b0", "attention": "#dd8452", "predictor": "#55a868",
          "prefill": "#8172b3", "communication": "#c44e52", "others": "#937860"}


def summary_figure(result, path: str | Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tl = result.timeline
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 4.8),
                                   gridspec_kw={"width_ratios": [1, 2.4]})
    bottom = 0.0
    for cat in CATEGORIES:
        v = result.breakdown_ns.get(cat, 0.0) * 1e-9
        ax1.bar([0], [v], bottom=bottom, color=COLORS[cat], label=cat)
        if v > 0.02 * result.total_ns * 1e-9:
            ax1.text(0, bottom + v / 2, f"{v:.3g} s", ha="center", va="center", fontsize=8)
        bottom += v
    ax1.set_xticks([0], [f"{result.model}\n{result.system}, batch {result.batch}"])
    ax1.set_ylabel("end-to-end time (s)")
    ax1.set_title(f"{result.tokens_per_s:.3g} tokens/s; critical-path breakdown", fontsize=10)
    ax1.legend(fontsize=8, loc="upper right")
    lanes = tl.lanes()
    row = {lane: i for i, lane in enumerate(lanes)}
    # the first decode step's events, one broken_barh per lane (a bar per event is ~1 ms of
    # matplotlib each: seconds for the ~6,000 events of a 70B token)
    bars: dict[int, tuple[list, list]] = {}
    t0 = t1 = None
    for i in range(len(tl)):
        if tl.tokens[i] == 0 and tl.phases[i] == "decode":
            start, end = tl.starts[i], tl.ends[i]
            t0 = start if t0 is None else min(t0, start)
            t1 = end if t1 is None else max(t1, end)
            spans, colors = bars.setdefault(row[tl.lane_order[tl.lane_idx[i]]], ([], []))
            spans.append((start / 1e3, (end - start) / 1e3))
            colors.append(COLORS[CATEGORIES[tl.cat_idx[i]]])
    for y, (spans, colors) in bars.items():
        ax2.broken_barh(spans, (y - 0.4, 0.8), facecolors=colors)
    ax2.set_ylim(-0.5, len(lanes) - 0.5)
    ax2.set_yticks(range(len(lanes)), lanes, fontsize=6)
    ax2.invert_yaxis()
    ax2.set_xlabel("time (us)")
    if t0 is not None:
        ax2.set_xlim(t0 / 1e3, t1 / 1e3)
        ax2.set_title("first decode step, one row per lane", fontsize=10)
    else:
        ax2.set_title("no decode step (output tokens = 1)", fontsize=10)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
