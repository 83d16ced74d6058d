"""Placement policies: greedy (fast), random and fixed (ablation baselines).

The ILP lives in :mod:`hermes_hw.workload.placement.ilp`.
"""

from __future__ import annotations

import heapq

import numpy as np

from hermes_hw.workload.models.spec import NEURON_KINDS
from hermes_hw.workload.placement.base import (
    Placement,
    PlacementPolicy,
    PlacementProblem,
    check_gpu_kinds,
    register_placement,
    snake_dimms,
)


def _empty(problem: PlacementProblem) -> Placement:
    n = problem.layout.total_bits
    return Placement(np.zeros(n, dtype=bool), np.zeros(n, dtype=np.int8))


def fill_block(problem: PlacementProblem, placement: Placement, b: int, k_gpu: int) -> None:
    """Hottest ``k_gpu`` neurons of block ``b`` on the GPU, the others dealt to the DIMMs in
    snake order of frequency; GPU copies get homes the same way."""
    sl = problem.layout.block_slice(b)
    f = problem.block_frequency(b)
    order = np.argsort(-f, kind="stable")
    on = np.zeros(len(f), dtype=bool)
    on[order[:k_gpu]] = True
    dimm = np.empty(len(f), dtype=np.int8)
    d = problem.system.n_dimms
    dimm[order[k_gpu:]] = snake_dimms(len(f) - k_gpu, d)
    dimm[order[:k_gpu]] = snake_dimms(k_gpu, d)
    placement.on_gpu[sl] = on
    placement.dimm[sl] = dimm


@register_placement("greedy")
class GreedyPlacement(PlacementPolicy):
    """Give the GPU, chunk by chunk, the hottest neurons of the block whose cost falls most per
    byte, while the GPU has room; DIMM loads balanced in snake order (an LPT-like deal)."""

    def __init__(self, chunks_per_block: int = 256,
                 gpu_kinds: tuple[str, ...] | list[str] = NEURON_KINDS) -> None:
        self.chunks_per_block = chunks_per_block
        self.gpu_kinds = check_gpu_kinds(gpu_kinds)

    def place(self, problem: PlacementProblem, rng: np.random.Generator) -> Placement:
        d, ts = problem.system.n_dimms, problem.system.t_sync_s
        tg, td, bpn = problem.t_gpu, problem.t_dimm, problem.bytes_per_neuron
        sorted_f = [np.sort(problem.block_frequency(b))[::-1] for b in range(problem.n_blocks)]
        cums = [np.concatenate([[0.0], np.cumsum(f)]) for f in sorted_f]

        def cost(b: int, k: int) -> float:
            fg = cums[b][k]
            return max(tg[b] * fg + 2 * ts, td[b] * (cums[b][-1] - fg) / d)

        k = np.zeros(problem.n_blocks, dtype=np.int64)
        step = [max(1, len(f) // self.chunks_per_block) for f in sorted_f]
        heap = []

        def push(b: int) -> None:
            n = len(sorted_f[b])
            if k[b] >= n:
                return
            k2 = min(n, k[b] + step[b])
            gain = cost(b, int(k[b])) - cost(b, int(k2))
            if gain > 0:
                heapq.heappush(heap, (-gain / ((k2 - k[b]) * bpn[b]), b, int(k2)))

        for b in range(problem.n_blocks):
            if problem.model.blocks[b].kind in self.gpu_kinds:
                push(b)
        room = problem.gpu_capacity_bytes
        while heap:
            _, b, k2 = heapq.heappop(heap)
            if k2 <= k[b]:
                continue
            need = (k2 - k[b]) * bpn[b]
            if need > room:
                fit = room // bpn[b]
                if fit > 0:
                    room -= fit * bpn[b]
                    k[b] += fit
                continue
            room -= need
            k[b] = k2
            push(b)
        placement = _empty(problem)
        for b in range(problem.n_blocks):
            fill_block(problem, placement, b, int(k[b]))
        placement.policy = self.name
        placement.info = {"gpu_neurons_per_block": k.tolist()}
        return placement


@register_placement("random")
class RandomPlacement(PlacementPolicy):
    """Ablation baseline: a uniformly random set of neurons fills the GPU budget, homes are
    uniformly random DIMMs."""

    def place(self, problem: PlacementProblem, rng: np.random.Generator) -> Placement:
        layout = problem.layout
        placement = _empty(problem)
        valid = np.flatnonzero(layout.valid_flat())
        bpn = problem.bytes_per_neuron[layout.block_of_flat()]
        order = rng.permutation(valid)
        fits = np.cumsum(bpn[order]) <= problem.gpu_capacity_bytes
        placement.on_gpu[order[fits]] = True
        placement.dimm[:] = rng.integers(0, problem.system.n_dimms, layout.total_bits,
                                         dtype=np.int8)
        placement.policy = self.name
        return placement


@register_placement("fixed")
class FixedPlacement(PlacementPolicy):
    """Ablation baseline without any frequency knowledge (Hermes-base-like): whole blocks are
    copied to the GPU in layer order while they fit; homes are striped by model neuron id
    (neuron ``i`` on DIMM ``i mod n_dimms``)."""

    def place(self, problem: PlacementProblem, rng: np.random.Generator) -> Placement:
        layout = problem.layout
        placement = _empty(problem)
        room = problem.gpu_capacity_bytes
        for b, g in enumerate(problem.model.blocks):
            sl = layout.block_slice(b)
            ids = (problem.neuron_ids[b] if problem.neuron_ids is not None
                   else np.arange(g.count))
            placement.dimm[sl] = (ids % problem.system.n_dimms).astype(np.int8)
            if g.total_bytes <= room:
                placement.on_gpu[sl] = True
                room -= g.total_bytes
        placement.policy = self.name
        return placement
