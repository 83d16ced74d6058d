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
    t0 = t1 = None
    for i in range(len(tl)):
        if tl.phases[i] == "decode" and tl.tokens[i] == 0:
            e = tl.event(i)
            t0 = e.start_ns if t0 is None else min(t0, e.start_ns)
            t1 = e.end_ns if t1 is None else max(t1, e.end_ns)
            ax2.barh(row[e.lane], (e.end_ns - e.start_ns) / 1e3, left=e.start_ns / 1e3,
                     color=COLORS[e.category], height=0.8)
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
