"""The paper's offline partition as an integer program (PuLP + CBC), grouped by frequency.

Each block's neurons are sorted by frequency and cut into ``groups_per_block`` groups of equal
size (``group_size`` = 1 gives the exact per-neuron ILP of the paper). Integer ``n[b, g, u]`` =
how many neurons of group ``g`` of block ``b`` go to unit ``u`` (0 = GPU, 1..D = DIMMs):

    minimise   sum_b z_b
    subject to z_b >= T_gpu_b  * sum_g fbar_bg n[b,g,0] + 2 T_sync        (every block)
               z_b >= T_dimm_b * sum_g fbar_bg n[b,g,j]                    (every block, DIMM j)
               sum_u n[b,g,u] = |group b,g|                                (each neuron placed once)
               sum_bg bytes_b n[b,g,0] <= GPU capacity
               sum_bg bytes_b n[b,g,j] <= DIMM j capacity                  (every DIMM)

``fbar`` is the group's mean frequency. Within a group the hottest neurons take the GPU seats
and the rest are dealt to the DIMMs in snake order with the solved counts.

The optimum is not unique: a block's time is the larger of its GPU and DIMM terms, so neurons
can move into the other side's slack without changing the objective, and which such plan a
solver returns is arbitrary (CBC and HiGHS put 327k vs 517k OPT-13B neurons on the GPU at equal
objective, docs/workload.md). ``min_gpu_bytes=True`` adds ``1 us x GPU bytes / GPU capacity`` to
the objective, so among (near-)optimal plans the one with the fewest GPU bytes is taken; the
default (False) keeps the committed calibration's CBC plans (docs/calibration.md, "Placement
ties", has both measured). ``gpu_kinds`` (default both kinds) names the neuron kinds that may have
GPU copies; the others' GPU counts are fixed at 0 (Hermes-host's ``host.attention:
dense_gpu_first`` places the attention itself and lets the ILP place only MLP neurons).
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import pulp

from hermes_hw.errors import InputError
from hermes_hw.workload.models.spec import NEURON_KINDS
from hermes_hw.workload.placement.base import (
    Placement,
    PlacementPolicy,
    PlacementProblem,
    check_gpu_kinds,
    register_placement,
    snake_dimms,
)


def _variable(prob: pulp.LpProblem, name: str, **kw) -> pulp.LpVariable:
    """A variable of ``prob``: PuLP >= 3.3 creates it through the problem (direct LpVariable
    construction is deprecated there); older PuLP only has the constructor."""
    if hasattr(prob, "add_variable"):
        return prob.add_variable(name, **kw)
    return pulp.LpVariable(name, **kw)


def _expr(terms: list, constant: float = 0) -> pulp.LpAffineExpression:
    """sum(coefficient x count) over ``terms`` (variable or constant-0 expression, coefficient);
    constant expressions (a kind without GPU variables) contribute nothing."""
    return pulp.LpAffineExpression([(v, c) for v, c in terms if isinstance(v, pulp.LpVariable)],
                                   constant=constant)


@register_placement("ilp")
class IlpPlacement(PlacementPolicy):
    """``dimm_symmetry`` (default): the DIMMs are identical, so one aggregated DIMM unit with time
    ``T_dimm * load / D`` replaces the D per-DIMM units (the solved counts are split evenly, in
    snake order of frequency); ``False`` keeps the paper's per-DIMM variables (small instances).
    ``lp_rounding`` (default, with ``dimm_symmetry``): solve the LP relaxation, round every GPU
    count down and keep that plan when its objective is within ``gap`` of the LP bound (so within
    ``gap`` of the optimum); otherwise, or with ``False``, CBC's branch and bound.
    """

    def __init__(self, groups_per_block: int = 16, time_limit_s: float = 60.0,
                 gap: float = 1e-3, group_size: int | None = None,
                 dimm_symmetry: bool = True, min_gpu_bytes: bool = False,
                 gpu_kinds: tuple[str, ...] | list[str] = NEURON_KINDS,
                 lp_rounding: bool = True) -> None:
        self.groups_per_block = groups_per_block
        self.time_limit_s = time_limit_s
        self.gap = gap
        self.group_size = group_size
        self.dimm_symmetry = dimm_symmetry
        if not isinstance(min_gpu_bytes, bool):
            raise InputError(f"placement option min_gpu_bytes: expected true or false, got "
                             f"{min_gpu_bytes!r}")
        self.min_gpu_bytes = min_gpu_bytes
        if not isinstance(lp_rounding, bool):
            raise InputError(f"placement option lp_rounding: expected true or false, got "
                             f"{lp_rounding!r}")
        self.lp_rounding = lp_rounding
        self.gpu_kinds = check_gpu_kinds(gpu_kinds)

    def _groups(self, f_sorted: np.ndarray) -> list[tuple[int, int]]:
        """Group boundaries: fixed ``group_size``, else equal frequency mass per group (hot
        groups are small, the cold tail is one or two big groups)."""
        n = len(f_sorted)
        if self.group_size:
            return [(lo, min(n, lo + self.group_size)) for lo in range(0, n, self.group_size)]
        cum = np.cumsum(f_sorted)
        if cum[-1] <= 0:
            return [(0, n)]
        cuts = np.searchsorted(cum, cum[-1] * np.arange(1, self.groups_per_block)
                               / self.groups_per_block)
        bounds = np.unique(np.concatenate([[0], cuts + 1, [n]]).clip(0, n))
        return [(int(lo), int(hi)) for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)
                if hi > lo]

    def place(self, problem: PlacementProblem, rng: np.random.Generator) -> Placement:
        t0 = time.perf_counter()
        d = problem.system.n_dimms
        # with identical DIMMs, one aggregated DIMM unit (time = load / d) is the same problem up
        # to how evenly a group splits; dimm_symmetry=False keeps one variable per DIMM
        sym = self.dimm_symmetry
        units = range(2) if sym else range(d + 1)
        tg, td, bpn = problem.t_gpu, problem.t_dimm, problem.bytes_per_neuron
        ts = problem.system.t_sync_s
        scale = 1e6  # objective in microseconds keeps CBC's tolerances meaningful
        prob = pulp.LpProblem("hermes_partition", pulp.LpMinimize)
        orders, groups, counts = [], [], {}
        z = [_variable(prob, f"z_{b}", lowBound=0) for b in range(problem.n_blocks)]
        prob += pulp.lpSum(z)
        gpu_bytes, dimm_bytes = [], [[] for _ in range(d)]
        loads = []  # per block: {unit: [(fbar, count expression)]}, for the LP rounding
        for b in range(problem.n_blocks):
            f = problem.block_frequency(b)
            order = np.argsort(-f, kind="stable")
            orders.append(order)
            grp = self._groups(f[order])
            groups.append(grp)
            load = {u: [] for u in units}
            # a block whose kind may not have GPU copies gets no GPU variable (a constant 0:
            # CBC's pre-processing can call a row of zero-bounded variables infeasible)
            gpu_ok = (problem.model.blocks[b].kind in self.gpu_kinds
                      and problem.gpu_capacity_bytes > 0)
            for g, (lo, hi) in enumerate(grp):
                fbar = float(f[order[lo:hi]].mean())
                for u in units:
                    if u == 0 and not gpu_ok:
                        var = pulp.LpAffineExpression(0)
                    else:
                        var = _variable(prob, f"n_{b}_{g}_{u}", lowBound=0, upBound=hi - lo,
                                        cat="Integer")
                    counts[b, g, u] = var
                    load[u].append((fbar, var))
                prob += pulp.lpSum(counts[b, g, u] for u in units) == hi - lo
                gpu_bytes.append((counts[b, g, 0], int(bpn[b])))
                for j in range(len(units) - 1):
                    dimm_bytes[j].append((counts[b, g, j + 1], int(bpn[b])))
            loads.append(load)
            # expressions built from (variable, coefficient) lists: the coefficients are the
            # products PuLP's operators would form (same order, same floats), without one
            # intermediate expression per term (a third of the model-building time)
            prob += z[b] >= _expr([(v, scale * (tg[b] * fb)) for fb, v in load[0]],
                                  (2 * ts) * scale)
            share = 1.0 / d if sym else 1.0
            k = scale * td[b] * share
            for j in range(len(units) - 1):
                prob += z[b] >= _expr([(v, k * fb) for fb, v in load[j + 1]])
        prob += _expr(gpu_bytes) <= problem.gpu_capacity_bytes
        if self.min_gpu_bytes and problem.gpu_capacity_bytes > 0:
            # tie-break: at most 1 us (a full GPU) on top of the summed block times
            prob.setObjective(pulp.lpSum(z) + (scale * 1e-6 / problem.gpu_capacity_bytes)
                              * _expr(gpu_bytes))
        cap = problem.dimm_capacity_bytes * (d if sym else 1)
        for j in range(len(units) - 1):
            prob += _expr(dimm_bytes[j]) <= cap
        method, lp_bound = "mip", None
        if sym and self.lp_rounding:
            # the LP relaxation is nearly integral (groups hold thousands of neurons): solve it,
            # round the GPU counts down, and keep that plan if it is within the gap of the LP
            # bound (a certificate); else branch and bound as before. CBC's own heuristics find
            # no integer point on Falcon-40B until node 671 (1.9 s); the LP takes 0.04 s.
            status = self._solve(prob, mip=False)
            if pulp.LpStatus[status] == "Optimal":
                lp_bound = float(pulp.value(prob.objective))
                rounded = self._round_down(prob, problem, groups, counts, loads, z, scale, bpn)
                if rounded is not None and rounded - lp_bound <= self.gap * abs(lp_bound):
                    method = "lp-rounding"
        if method == "mip":
            status = self._solve(prob, mip=True)
        placement = self._assign(problem, orders, groups, counts)
        placement.solve_seconds = time.perf_counter() - t0
        placement.info = {
            "ilp_objective_s": float(pulp.value(prob.objective)) / scale,
            "status": pulp.LpStatus[status],
            "method": method,
            "variables": len(counts) + len(z),
        }
        if lp_bound is not None:
            placement.info["lp_bound_s"] = lp_bound / scale
        return placement

    def _solve(self, prob: pulp.LpProblem, *, mip: bool) -> int:
        """Solve with the bundled CBC (``mip=False``: the LP relaxation); raise on infeasible."""
        with warnings.catch_warnings():  # PuLP 3 flags its bundled CBC as deprecated
            warnings.simplefilter("ignore", DeprecationWarning)
            solver = pulp.PULP_CBC_CMD(msg=False, timeLimit=self.time_limit_s,
                                       gapRel=self.gap, mip=mip)
            status = prob.solve(solver)
        if pulp.LpStatus[status] not in ("Optimal",) and prob.sol_status not in (1, 2):
            raise InputError(
                f"placement ILP is {pulp.LpStatus[status]}: the model does not fit the GPU and "
                "DIMM capacities (check the system's capacities)"
            )
        return status

    @staticmethod
    def _round_down(prob: pulp.LpProblem, problem: PlacementProblem, groups, counts, loads, z,
                    scale: float, bpn) -> float | None:
        """Round the LP solution's GPU counts down (the rest of each group to the aggregated
        DIMM unit), set every variable to that integer plan, and return its objective; None
        (variables untouched) if it breaks a capacity."""
        plan: dict[tuple[int, int, int], int] = {}
        gpu_bytes = dimm_bytes = 0
        for b, grp in enumerate(groups):
            for g, (lo, hi) in enumerate(grp):
                var = counts[b, g, 0]
                n0 = 0
                if isinstance(var, pulp.LpVariable):
                    n0 = min(hi - lo, max(0, int(np.floor((var.varValue or 0.0) + 1e-6))))
                plan[b, g, 0], plan[b, g, 1] = n0, hi - lo - n0
                gpu_bytes += int(bpn[b]) * n0
                dimm_bytes += int(bpn[b]) * (hi - lo - n0)
        if (gpu_bytes > problem.gpu_capacity_bytes
                or dimm_bytes > problem.dimm_capacity_bytes * problem.system.n_dimms):
            return None
        for key, n in plan.items():
            if isinstance(counts[key], pulp.LpVariable):
                counts[key].varValue = n
        d, ts = problem.system.n_dimms, problem.system.t_sync_s
        for b, load in enumerate(loads):
            gpu = sum(fb * float(pulp.value(v) or 0.0) for fb, v in load[0])
            dimm = sum(fb * float(pulp.value(v) or 0.0) for fb, v in load[1])
            z[b].varValue = scale * max(problem.t_gpu[b] * gpu + 2 * ts,
                                        problem.t_dimm[b] * dimm / d)
        return float(pulp.value(prob.objective))

    def _assign(self, problem, orders, groups, counts) -> Placement:
        layout, d = problem.layout, problem.system.n_dimms
        placement = Placement(np.zeros(layout.total_bits, dtype=bool),
                              np.zeros(layout.total_bits, dtype=np.int8), policy=self.name)
        if self.dimm_symmetry:
            # each group's solved GPU count goes to the group's hottest neurons; the cold
            # neurons of the block are dealt over the DIMMs in one snake (even loads)
            for b, (order, grp) in enumerate(zip(orders, groups, strict=True)):
                on = np.zeros(len(order), dtype=bool)
                for g, (lo, hi) in enumerate(grp):
                    k = min(hi - lo, int(round(counts[b, g, 0].value() or 0)))
                    on[order[lo:lo + k]] = True
                dimm = np.empty(len(order), dtype=np.int8)
                cold = order[~on[order]]
                hot = order[on[order]]
                dimm[cold] = snake_dimms(len(cold), d)
                dimm[hot] = snake_dimms(len(hot), d)
                sl = layout.block_slice(b)
                placement.on_gpu[sl] = on
                placement.dimm[sl] = dimm
            return placement
        for b, (order, grp) in enumerate(zip(orders, groups, strict=True)):
            on = np.zeros(len(order), dtype=bool)
            dimm = np.zeros(len(order), dtype=np.int8)
            home_rr = 0
            for g, (lo, hi) in enumerate(grp):
                ids = order[lo:hi]
                n = [int(round(counts[b, g, u].value() or 0)) for u in
                     range(2 if self.dimm_symmetry else d + 1)]
                n[0] = min(n[0], hi - lo)
                if self.dimm_symmetry:  # split the aggregated DIMM count evenly
                    rest_n = hi - lo - n[0]
                    n = [n[0]] + [rest_n // d + (1 if j < rest_n % d else 0) for j in range(d)]
                on[ids[: n[0]]] = True
                # GPU copies need homes too: round-robin
                dimm[ids[: n[0]]] = (home_rr + np.arange(n[0])) % d
                home_rr = (home_rr + n[0]) % d
                # deal cold neurons to DIMMs: hottest first, to the DIMM with most seats left
                seats = np.array(n[1:], dtype=np.int64)
                seats[-1] += (hi - lo) - n[0] - seats.sum()  # rounding slack
                rest = ids[n[0]:]
                plan = np.concatenate([np.full(max(s, 0), j) for j, s in enumerate(seats)])
                # interleave so that every DIMM gets a mix of the group's frequencies
                inter = np.argsort(np.concatenate(
                    [np.arange(max(s, 0)) / max(s, 1) for s in seats]), kind="stable")
                dimm[rest] = plan[inter][: len(rest)].astype(np.int8)
            sl = layout.block_slice(b)
            placement.on_gpu[sl] = on
            placement.dimm[sl] = dimm
        return placement
