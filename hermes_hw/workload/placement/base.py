"""Offline placement: the problem, the result, the objective and the policy registry.

A placement puts every neuron on the GPU (a *copy*: all weights also live on the DIMMs) or on
one DIMM, and gives every neuron a home DIMM. The paper's objective (section 6) is

    sum over blocks b of  max( T_gpu_b * sum_{i on GPU} f_i + 2 T_sync,
                               max_j T_dimm_b * sum_{i on DIMM j} f_i )

with ``f_i`` the activation frequency (expected activations per token) and ``T_*_b`` the time one
activation of a neuron of block ``b`` takes on that unit (its bytes over the unit's bandwidth:
GEMV at small batch is memory-bound). Register a policy with :func:`register_placement`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from hermes_hw.errors import InputError
from hermes_hw.registry import Registry
from hermes_hw.workload.activations.base import BlockLayout
from hermes_hw.workload.models.spec import NEURON_KINDS, ModelSpec


@dataclass
class SystemParams:
    """The hardware numbers placement and scheduling need (defaults: the paper's system)."""

    n_dimms: int = 8  # Table II
    gpu_bandwidth_gbps: float = 936.0  # RTX 4090 as stated by the paper
    dimm_bandwidth_gbps: float = 102.4  # [O] per-DIMM NDP bandwidth: 4 ranks x 25.6 GB/s
    gpu_weight_budget_bytes: int = 20 * 10**9  # paper: ~20 GB of weights resident on the 24 GB GPU
    dimm_capacity_bytes: int = 32 * 2**30  # Table II: 32 GB per DIMM
    t_sync_s: float = 6.4e-6  # kernel launch + synchronise (peers.md section 5)
    pcie_gbps: float = 64.0  # paper: PCIe 4.0, 64 GB/s as stated
    dimm_link_gbps: float = 25.0  # 8 lanes x 25 Gb/s

    def __post_init__(self) -> None:
        for name in ("n_dimms", "gpu_bandwidth_gbps", "dimm_bandwidth_gbps", "pcie_gbps"):
            if getattr(self, name) <= 0:
                raise InputError(f"{name} must be positive, got {getattr(self, name)}")


@dataclass
class PlacementProblem:
    """Frequencies per flat neuron plus per-block costs and the capacities."""

    model: ModelSpec
    layout: BlockLayout
    frequency: np.ndarray  # flat float64 expected activations per token (0 for padding)
    system: SystemParams
    neuron_ids: list[np.ndarray] | None = None  # internal -> model id per block (for 'fixed')

    @property
    def n_blocks(self) -> int:
        return len(self.layout.sizes)

    @property
    def bytes_per_neuron(self) -> np.ndarray:
        return np.array([g.bytes_per_neuron for g in self.model.blocks], dtype=np.int64)

    @property
    def t_gpu(self) -> np.ndarray:
        """Seconds per activation of one neuron of each block on the GPU."""
        return self.bytes_per_neuron / (self.system.gpu_bandwidth_gbps * 1e9)

    @property
    def t_dimm(self) -> np.ndarray:
        """Seconds per activation of one neuron of each block on one DIMM."""
        return self.bytes_per_neuron / (self.system.dimm_bandwidth_gbps * 1e9)

    @property
    def gpu_capacity_bytes(self) -> int:
        """GPU bytes left for neuron copies after the GPU-resident dense weights."""
        return max(0, self.system.gpu_weight_budget_bytes - self.model.gpu_dense_bytes)

    @property
    def dimm_capacity_bytes(self) -> int:
        """Per-DIMM bytes for cold neurons: capacity less the dense weights and GPU copies'
        homes spread evenly (all weights live on the DIMMs)."""
        s = self.system
        reserve = (self.model.dense_bytes + self.gpu_capacity_bytes) // s.n_dimms
        return s.dimm_capacity_bytes - reserve

    def block_frequency(self, b: int) -> np.ndarray:
        return self.frequency[self.layout.block_slice(b)]


@dataclass
class Placement:
    """Where each flat neuron is: ``on_gpu`` (has a GPU copy) and its home DIMM ``dimm``."""

    on_gpu: np.ndarray  # flat bool
    dimm: np.ndarray  # flat int8 home DIMM (every neuron has one)
    policy: str = ""
    solve_seconds: float = 0.0
    info: dict | None = None

    def copy(self) -> Placement:
        return Placement(self.on_gpu.copy(), self.dimm.copy(), self.policy, self.solve_seconds,
                         dict(self.info or {}))


def block_costs(problem: PlacementProblem, placement: Placement,
                frequency: np.ndarray | None = None) -> np.ndarray:
    """Per-block max(GPU time, slowest DIMM time) in seconds under ``frequency``."""
    f = problem.frequency if frequency is None else frequency
    layout, d = problem.layout, problem.system.n_dimms
    block = layout.block_of_flat()
    nb = problem.n_blocks
    gpu = np.bincount(block, weights=f * placement.on_gpu, minlength=nb)
    cold = f * ~placement.on_gpu
    per_dimm = np.bincount(block.astype(np.int64) * d + placement.dimm, weights=cold,
                           minlength=nb * d).reshape(nb, d)
    t_gpu = problem.t_gpu * gpu + 2 * problem.system.t_sync_s
    t_dimm = problem.t_dimm * per_dimm.max(axis=1)
    return np.maximum(t_gpu, t_dimm)


def objective(problem: PlacementProblem, placement: Placement) -> float:
    """The paper's objective (seconds per token) for a placement."""
    return float(block_costs(problem, placement).sum())


def check_capacities(problem: PlacementProblem, placement: Placement) -> dict:
    """Bytes used on the GPU and per DIMM (cold neurons) against the capacities."""
    layout, d = problem.layout, problem.system.n_dimms
    bpn = np.asarray(problem.bytes_per_neuron, dtype=np.int64)
    # neuron counts per block (GPU) and per (block, DIMM) (cold), then bytes: integer sums
    gpu_n = np.zeros(problem.n_blocks, dtype=np.int64)
    cold_n = np.zeros((problem.n_blocks, d), dtype=np.int64)
    for b in range(problem.n_blocks):
        sl = layout.block_slice(b)  # the block's real neurons (no padding)
        on = placement.on_gpu[sl]
        gpu_n[b] = np.count_nonzero(on)
        cold_n[b] = np.bincount(placement.dimm[sl][~on], minlength=d)[:d]
    gpu_bytes = int(gpu_n @ bpn)
    dimm_bytes = bpn @ cold_n
    return {
        "gpu_bytes": gpu_bytes,
        "gpu_capacity_bytes": problem.gpu_capacity_bytes,
        "dimm_bytes": dimm_bytes.astype(np.int64),
        "dimm_capacity_bytes": problem.dimm_capacity_bytes,
        "ok": gpu_bytes <= problem.gpu_capacity_bytes
        and bool((dimm_bytes <= problem.dimm_capacity_bytes).all()),
    }


class PlacementPolicy(ABC):
    name: str = ""

    @abstractmethod
    def place(self, problem: PlacementProblem, rng: np.random.Generator) -> Placement:
        """Place every neuron (flat arrays as in :class:`Placement`)."""


PLACEMENTS: Registry[PlacementPolicy] = Registry("placement policy")
#: Class decorator registering a placement policy by name.
register_placement = PLACEMENTS.register
#: Instantiate a placement policy by name (unknown names list the valid ones).
make_placement = PLACEMENTS.create


def check_gpu_kinds(kinds) -> tuple[str, ...]:
    """The ``gpu_kinds`` placement option: neuron kinds that may have GPU copies (a subset of
    ``NEURON_KINDS``); a bad name is an InputError naming the valid ones."""
    if isinstance(kinds, str) or not all(isinstance(k, str) for k in kinds):
        raise InputError(f"placement option gpu_kinds: expected a list of neuron kinds "
                         f"{list(NEURON_KINDS)}, got {kinds!r}")
    bad = [k for k in kinds if k not in NEURON_KINDS]
    if bad:
        raise InputError(f"placement option gpu_kinds: unknown neuron kind {bad[0]!r} "
                         f"(valid: {', '.join(NEURON_KINDS)})")
    return tuple(kinds)


def snake_dimms(n: int, d: int) -> np.ndarray:
    """DIMM for the ``k``-th hottest cold neuron: 0..d-1, d-1..0, ... (balances sorted loads)."""
    k = np.arange(n)
    pos = k % (2 * d)
    return np.where(pos < d, pos, 2 * d - 1 - pos).astype(np.int8)
