"""The layer-wise correlation table: each neuron's 2 most co-firing previous-layer neurons.

Built from profiling tokens (the paper samples it offline). With a source hint
(``trace.partner_candidates``) only the hinted candidates are scored; without one, all pairs of
consecutive same-kind blocks are scored by a chunked co-occurrence product (fine for small and
imported models; quadratic in the layer width).
"""

from __future__ import annotations

import numpy as np

from hermes_hw.workload.activations.base import ActivationTrace


def _previous_same_kind(trace: ActivationTrace) -> list[int | None]:
    prev, last = [], {}
    for b, g in enumerate(trace.model.blocks):
        prev.append(last.get(g.kind))
        last[g.kind] = b
    return prev


def build_correlation_table(trace: ActivationTrace, tokens: range) -> np.ndarray:
    """Flat ``(total_bits, 2)`` int32 partner table; -1 where a neuron has no previous layer."""
    layout = trace.layout
    table = np.full((layout.total_bits, 2), -1, dtype=np.int32)
    hint = trace.partner_candidates
    if hint is not None and hint.shape[1] <= 2:
        table[:, : hint.shape[1]] = hint
        return table
    token_list = list(tokens)
    for b, prev in enumerate(_previous_same_kind(trace)):
        if prev is None or not token_list:
            continue
        child = trace.block_masks(b)[token_list].astype(np.float32)
        parent = trace.block_masks(prev)[token_list].astype(np.float32)
        start = int(layout.bit_offsets[prev])
        rows = layout.block_slice(b)
        if hint is not None:
            cand = hint[rows] - start
            ok = cand >= 0
            safe = np.where(ok, cand, 0)
            scores = np.stack([(child * parent[:, safe[:, c]]).sum(0) for c in
                               range(cand.shape[1])], axis=1)
            scores[~ok] = -1
            best = np.argsort(-scores, axis=1, kind="stable")[:, :2]
            picked = np.take_along_axis(cand, best, axis=1)
            table[rows] = np.where(picked >= 0, picked + start, -1)
            continue
        out = np.empty((child.shape[1], 2), dtype=np.int32)
        for lo in range(0, child.shape[1], 2048):
            co = child[:, lo:lo + 2048].T @ parent  # (chunk, parent neurons)
            top = np.argpartition(-co, 1, axis=1)[:, :2]
            order = np.argsort(-np.take_along_axis(co, top, axis=1), axis=1, kind="stable")
            out[lo:lo + 2048] = np.take_along_axis(top, order, axis=1)
        table[rows] = out + start
    return table
