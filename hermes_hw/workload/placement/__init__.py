"""Placement (offline ILP, greedy, random, fixed) and online scheduling (adjustment, remapping)."""

from hermes_hw.workload.placement import ilp, policies  # noqa: F401  (registration)
from hermes_hw.workload.placement.base import (
    PLACEMENTS,
    Placement,
    PlacementPolicy,
    PlacementProblem,
    SystemParams,
    block_costs,
    check_capacities,
    make_placement,
    objective,
    register_placement,
)

__all__ = [
    "PLACEMENTS",
    "Placement",
    "PlacementPolicy",
    "PlacementProblem",
    "SystemParams",
    "block_costs",
    "check_capacities",
    "make_placement",
    "objective",
    "register_placement",
]
