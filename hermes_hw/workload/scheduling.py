"""Online scheduling: hot/cold adjustment (PCIe promotions) and window-based DIMM remapping.

Adjustment (paper section 6): a neuron whose predictor state exceeds ``hot_threshold`` and has no
GPU copy is copied DIMM -> GPU during the layer's output projection, evicting the GPU-resident
neuron of the same block with the lowest state (no write-back). We swap only while the candidate's
state is strictly higher than the evictee's, and at most ``budget`` neurons per block and token:
[O] the copy must hide under the output projection, so the default budget is the bytes PCIe moves
in the projection's GPU time (``o_proj bytes / GPU bandwidth * PCIe bandwidth``), split evenly
between the layer's two blocks.

Remapping (Algorithm 1, corrected): every ``window`` tokens, per block, the DIMMs are sorted by
the window's load (activations of their cold neurons); the most loaded is paired with the least
loaded, the second with the second-least, ...; within a pair the heavier DIMM's most active
neuron moves to its partner while that strictly lowers the pair's maximum (i.e. its count is
below the load difference), which terminates and is the printed loop's intent.
"""

from __future__ import annotations

import numpy as np


def promotion_budget(model, system) -> int:
    """Bytes per block and token that PCIe can move under one output projection."""
    o_proj = model.hidden_size * model.q_dim * model.weight_bits // 8
    seconds = o_proj / (system.gpu_bandwidth_gbps * 1e9)
    return int(seconds * system.pcie_gbps * 1e9 / 2)


def adjust_block(state: np.ndarray, on_gpu: np.ndarray, cand: np.ndarray, res: np.ndarray,
                 max_swaps: int) -> tuple[np.ndarray, np.ndarray]:
    """Swap candidates in for the lowest-state residents of one block (in place on ``on_gpu``).

    ``cand``: indices with state above the hot threshold and no GPU copy; ``res``: indices with
    a GPU copy (both block-local). Returns (promoted, evicted) block-local indices."""
    if len(cand) == 0 or len(res) == 0 or max_swaps <= 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    k = min(len(cand), len(res), max_swaps)
    cs = state[cand]
    rs = state[res]
    if len(cand) > k:
        top = np.argpartition(-cs.astype(np.int16), k - 1)[:k]
        cand, cs = cand[top], cs[top]
    if len(res) > k:
        low = np.argpartition(rs, k - 1)[:k]
        res, rs = res[low], rs[low]
    oc = np.argsort(-cs.astype(np.int16), kind="stable")
    orr = np.argsort(rs, kind="stable")
    cand, cs, res, rs = cand[oc], cs[oc], res[orr], rs[orr]
    swaps = int(np.count_nonzero(cs > rs))  # a prefix: cs descending, rs ascending
    promoted, evicted = cand[:swaps], res[:swaps]
    on_gpu[promoted] = True
    on_gpu[evicted] = False
    return promoted, evicted


def remap_block(counts: np.ndarray, dimm: np.ndarray, cold: np.ndarray, n_dimms: int
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One window of Algorithm 1 for one block (in place on ``dimm``).

    ``counts``: activations of each neuron in the window; ``cold``: neurons computed on the
    DIMMs. Returns (moved local indices, source DIMMs, destination DIMMs)."""
    sel = np.flatnonzero(cold & (counts > 0))
    load = np.bincount(dimm[sel], weights=counts[sel], minlength=n_dimms).astype(np.int64)
    order = np.argsort(-load, kind="stable")
    moved, src, dst = [], [], []
    for i in range(n_dimms // 2):
        heavy, light = int(order[i]), int(order[n_dimms - 1 - i])
        diff = int(load[heavy] - load[light])
        if diff <= 1:
            continue
        mine = sel[dimm[sel] == heavy]
        c = counts[mine].astype(np.int64)
        by_activity = np.argsort(-c, kind="stable")
        mine, c = mine[by_activity], c[by_activity]
        # Greedy over the heavy DIMM's neurons, most active first: move one while its count is
        # below the remaining difference. Counts are small integers, so walk them by value.
        pos = 0
        while diff > 1 and pos < len(c):
            cj = int(c[pos])
            same = int(np.searchsorted(-c, -cj, side="right")) - pos  # neurons with count cj
            if cj < diff:
                take = min(same, -(-(diff - cj) // (2 * cj)))
                moved.extend(mine[pos:pos + take].tolist())
                src.extend([heavy] * take)
                dst.extend([light] * take)
                diff -= 2 * cj * take
            pos += same
        shifted = (int(load[heavy]) - int(load[light]) - diff) // 2
        load[heavy] -= shifted
        load[light] += shifted
    moved_a = np.array(moved, dtype=np.int64)
    dst_a = np.array(dst, dtype=np.int8)
    if len(moved_a):
        dimm[moved_a] = dst_a
    return moved_a, np.array(src, dtype=np.int8), dst_a


def imbalance(load: np.ndarray) -> float:
    """max / mean of per-DIMM loads (1.0 = perfectly even; NaN when idle)."""
    mean = load.mean()
    return float(load.max() / mean) if mean > 0 else float("nan")
