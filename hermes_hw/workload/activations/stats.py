"""Statistics of an activation trace next to the targets they were calibrated to."""

from __future__ import annotations

import numpy as np

from hermes_hw.workload.activations.base import ActivationTrace

# (target, tolerance, source) of each statistic the synthetic source must reproduce
TARGETS = {
    "adjacent_overlap": "Hermes sec. 4: adjacent tokens share > 90% of active neurons",
    "overlap_10": "Hermes sec. 4: about 70% beyond 10 tokens",
    "overlap_25": "Hermes sec. 4: flat beyond 25 tokens",
    "top20_share": "Hermes sec. 4: ~20% of neurons carry ~80% of activations",
    "cofire": "Hermes sec. 4: top correlated next-layer neurons fire with it > 90%",
    "sparsity": "PowerInfer Table 3 (per model, see configs/models)",
}


def _kind_bytes(trace: ActivationTrace, kind: str) -> np.ndarray:
    sel = np.zeros(trace.bits.shape[1], dtype=bool)
    for b, g in enumerate(trace.model.blocks):
        if g.kind == kind:
            sel[int(trace.layout.byte_offsets[b]):int(trace.layout.byte_offsets[b + 1])] = True
    return sel


def token_overlap(trace: ActivationTrace, lag: int, kind: str = "mlp") -> float:
    """Pooled share of a token's active neurons still active ``lag`` tokens later."""
    bits = trace.bits[:, _kind_bytes(trace, kind)]
    if lag >= len(bits):
        return float("nan")
    inter = np.bitwise_count(bits[:-lag] & bits[lag:]).sum(dtype=np.int64)
    return float(inter / max(np.bitwise_count(bits[:-lag]).sum(dtype=np.int64), 1))


def top_share(trace: ActivationTrace, fraction: float = 0.2, kind: str = "mlp") -> float:
    """Share of all activations carried by the most active ``fraction`` of neurons (pooled)."""
    counts = np.concatenate([trace.block_masks(b).sum(axis=0) for b, g in
                             enumerate(trace.model.blocks) if g.kind == kind])
    counts = np.sort(counts)[::-1]
    return float(counts[: int(len(counts) * fraction)].sum() / max(counts.sum(), 1))


def cofire(trace: ActivationTrace, kind: str = "mlp") -> float:
    """Pooled P(neuron fires | its top partner in the previous layer fired).

    The top partner is the previous-layer candidate that co-fires most (candidates from the
    source's hint; without a hint this statistic is not computed)."""
    cand = trace.partner_candidates
    if cand is None:
        return float("nan")
    co = fired = 0
    for b, g in enumerate(trace.model.blocks):
        if g.kind != kind:
            continue
        sl = trace.layout.block_slice(b)
        c = cand[sl]
        if (c < 0).all():
            continue
        prev = int(np.searchsorted(trace.layout.bit_offsets, c[c >= 0].min(), side="right")) - 1
        start = int(trace.layout.bit_offsets[prev])
        child = trace.block_masks(b)
        parent = trace.block_masks(prev)
        best_co = best_fired = None
        for k in range(c.shape[1]):
            p = parent[:, np.maximum(c[:, k] - start, 0)]
            both = (child & p).sum(axis=0)
            pf = p.sum(axis=0)
            if best_co is None:
                best_co, best_fired = both, pf
            else:
                better = both > best_co
                best_co = np.where(better, both, best_co)
                best_fired = np.where(better, pf, best_fired)
        co += int(best_co.sum())
        fired += int(best_fired.sum())
    return float(co / max(fired, 1))


def generator_stats(trace: ActivationTrace) -> dict:
    """Measured statistics with targets (what ``hermes workload --generator-stats`` prints)."""
    model = trace.model
    profile = model.config.activity
    active = np.array([trace.block_masks(b).mean() for b in range(len(model.blocks))])
    mlp = np.array([g.kind == "mlp" for g in model.blocks])
    target_active = trace.meta.get("block_targets", active)
    rows = [
        ("MLP sparsity (mean over blocks)", 1 - active[mlp].mean(),
         f"{1 - np.mean(target_active[mlp]):.3f}", TARGETS["sparsity"]),
        ("attention-input sparsity", 1 - active[~mlp].mean(),
         f"{1 - np.mean(target_active[~mlp]):.3f}", "[O] docs/workload.md"),
        ("max relative error of block activity", float(np.max(np.abs(active / target_active
                                                                      - 1))), "< 0.05",
         "calibration"),
        ("adjacent-token overlap (MLP)", token_overlap(trace, 1),
         f">= {profile.adjacent_overlap - 0.02:.2f}" if profile else "> 0.90",
         TARGETS["adjacent_overlap"]),
        ("overlap at 10 tokens (MLP)", token_overlap(trace, 10), "0.70 +- 0.05",
         TARGETS["overlap_10"]),
        ("overlap at 25 tokens (MLP)", token_overlap(trace, 25), "0.70 +- 0.05",
         TARGETS["overlap_25"]),
        ("overlap at 50 tokens (MLP)", token_overlap(trace, 50), "= lag 25",
         TARGETS["overlap_25"]),
        ("share of activations in top 20% (MLP)", top_share(trace), "~0.80",
         TARGETS["top20_share"]),
        ("P(fires | top prev-layer partner fired)", cofire(trace), "> 0.90", TARGETS["cofire"]),
    ]
    return {"model": model.id, "tokens": trace.tokens, "batch": trace.batch,
            "rows": [{"name": n, "measured": float(v), "target": t, "source": s}
                     for n, v, t, s in rows]}
