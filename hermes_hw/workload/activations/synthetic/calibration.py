"""Per-block frequency distributions and temporal parameters of the synthetic source.

Within one sequence, neuron ``k`` of a block (``k`` = frequency rank, rank fraction
``x = (k + 0.5) / N``) fires with probability

    p(x) = p_max * min(1, (x / x0) ** -s)          (a capped power law)

``x0`` and ``s`` are solved per block so that the mean of p is the block's active fraction ``m``
(the sparsity profile) and the *concentration* ``C = sum(p^2) / sum(p)`` is the target. ``C`` is
exactly the long-range token overlap of the persistence model below, so the plateau the paper
reports (~70% beyond 10 tokens) fixes the skew; a steeper skew follows for sparser layers.

Persistence: each token a neuron either keeps its state (probability ``q``) or redraws it from
Bernoulli(p). The expected share of a token's active neurons still active ``d`` tokens later is
``C + (1 - C) * q**d``, so ``q = (adjacent - C) / (1 - C)`` hits the adjacent-token target.
"""

from __future__ import annotations

import numpy as np


def _mean_and_square(x0: np.ndarray, s: np.ndarray, pmax: float) -> tuple[np.ndarray, np.ndarray]:
    """Continuous mean of p and of p^2 over x in (0, 1] for the capped power law."""
    s = np.where(np.abs(s - 1.0) < 1e-6, s + 2e-6, s)
    s = np.where(np.abs(s - 0.5) < 1e-6, s + 2e-6, s)
    tail1 = (x0**s - x0) / (1.0 - s)  # = x0^s * integral of x^-s over [x0, 1]
    tail2 = (x0 ** (2 * s) - x0) / (1.0 - 2 * s)
    return pmax * (x0 + tail1), pmax**2 * (x0 + tail2)


def solve_power_law(
    mean: np.ndarray, concentration: np.ndarray, pmax: float
) -> tuple[np.ndarray, np.ndarray]:
    """``(x0, s)`` per block so that mean(p) = mean and sum(p^2)/sum(p) = concentration.

    Vectorised nested bisection (outer on s, inner on log x0). ``concentration`` is raised to
    ``mean * 1.05`` where it is not reachable (a block more active than the plateau).
    """
    mean = np.asarray(mean, dtype=float)
    target = np.maximum(
        np.asarray(concentration, dtype=float), np.minimum(mean * 1.05, pmax * 0.99)
    )
    s_lo, s_hi = np.full_like(mean, 1e-3), np.full_like(mean, 60.0)

    def x0_for(s: np.ndarray) -> np.ndarray:
        lo, hi = np.full_like(mean, -60.0), np.zeros_like(mean)
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            m, _ = _mean_and_square(np.exp(mid), s, pmax)
            too_big = m > mean
            hi = np.where(too_big, mid, hi)
            lo = np.where(too_big, lo, mid)
        return np.exp(0.5 * (lo + hi))

    for _ in range(50):
        s_mid = 0.5 * (s_lo + s_hi)
        x0 = x0_for(s_mid)
        m, sq = _mean_and_square(x0, s_mid, pmax)
        too_skewed = sq / m > target
        s_hi = np.where(too_skewed, s_mid, s_hi)
        s_lo = np.where(too_skewed, s_lo, s_mid)
    s = 0.5 * (s_lo + s_hi)
    return x0_for(s), s


def discrete_frequencies(n: int, mean: float, x0: float, s: float, pmax: float) -> np.ndarray:
    """The ``n`` per-neuron frequencies (descending), rescaled to the exact mean."""
    x = (np.arange(n) + 0.5) / n
    p = pmax * np.minimum(1.0, (x / x0) ** -s)
    for _ in range(4):  # rescale to the exact mean while respecting the cap
        p = np.minimum(p * (mean / p.mean()), pmax)
    return p


def persistence_from_targets(adjacent: float, concentration: float) -> float:
    """Probability ``q`` that a neuron keeps its state from one token to the next."""
    return float(np.clip((adjacent - concentration) / (1.0 - concentration), 0.0, 0.999))


def piecewise(depths: list[float], values: list[float], n_layers: int) -> np.ndarray:
    """Piecewise-linear profile evaluated at every layer (depth = layer / (layers - 1))."""
    depth = np.arange(n_layers) / max(n_layers - 1, 1)
    return np.interp(depth, depths, values)
