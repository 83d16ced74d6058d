"""Token programs: one decode token's events, built once per work sample and run per token.

A decode token repeats the event structure of every other token that uses the same work sample
(the same lanes, dependencies, names, categories, durations); only its start, its token number
and a few per-token values (attention reads grow with the KV length) change. A builder therefore
writes a token into a :class:`ProgramBuilder`, which offers the :class:`Timeline` methods a
builder uses (``add``, ``add_on``, ``add_group``, ``join``, ``start_of``, ``lane_id``) but only
records the calls, with *op indices* as event ids (op 0 stands for the token's start event).
:func:`run_program` then adds the events to the timeline for any token: each is placed by the
rule of :meth:`Timeline.add_on` (the latest of its lane's last event, its dependencies and its
not-before time, the first in order winning a tie), each zero-cost ``join`` is evaluated on the
current end times, and "not before the start of op k plus c" is evaluated on the current start
of op k. Per-token values are :class:`ParamList` s named in the program and given to
:func:`run_program` as ``params``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from itertools import chain, repeat

import numpy as np

from hermes_hw.timeline.events import NO_EVENT, Timeline, category_index

_EVENT, _JOIN = 0, 1


class ParamList(list):
    """Per-token values (event durations in ns, or event ``args``) given to ``add_group``: a
    program reads them from :func:`run_program`'s ``params`` under :attr:`name` instead of
    storing them."""

    __slots__ = ("name",)

    def __init__(self, name: str, values: Sequence) -> None:
        super().__init__(values)
        self.name = name


@dataclass(frozen=True)
class _StartPlus:
    """``start_of(op) + offset_ns``: a not-before time evaluated when the program runs."""

    op: int
    offset_ns: float = 0.0

    def __add__(self, other: float) -> _StartPlus:
        return _StartPlus(self.op, self.offset_ns + float(other))


@dataclass
class TokenProgram:
    """``ops[k] = (kind, lane, refs, not_before)`` for k >= 1 (op 0: the start event); ``refs``
    index earlier ops (-1, NO_EVENT, has no effect); ``not_before`` is None or
    ``(op, offset_ns)``. Per event, in order:
    lane, duration (ns), name, category, layer, args; ``param_durs`` / ``param_args`` list
    ``(event index, param name, position)`` read per token."""

    ops: list[tuple[int, int, tuple[int, ...], tuple[int, float] | None]]
    lanes: list[int]
    durations_ns: list[float]
    names: list[str]
    cats: list[int]
    phases: list[str]
    layers: list[int]
    args: list
    param_durs: list[tuple[int, str, int]]
    param_args: list[tuple[int, str, int]]
    result: int
    """Op whose event id the token returns."""
    arrays: dict = field(default_factory=dict, repr=False)
    """The ops as flat arrays for the C core (:meth:`pack`)."""

    def pack(self) -> dict:
        """``ops`` as the arrays ``htl_run_program`` reads (built once per program)."""
        if not self.arrays:
            n = len(self.ops)
            ref_start = np.zeros(n + 1, dtype=np.int32)
            ref_start[1:] = np.cumsum([len(op[2]) for op in self.ops])
            refs = np.fromiter(chain.from_iterable(op[2] for op in self.ops), dtype=np.int32,
                               count=int(ref_start[-1]))
            refs[refs < 0] = n  # NO_EVENT: the core's slot n, which holds no event
            self.arrays = {
                "kind": np.array([op[0] for op in self.ops], dtype=np.int8),
                "lane": np.array([max(op[1], 0) for op in self.ops], dtype=np.int32),
                "ref_start": ref_start,
                "refs": refs if len(refs) else np.zeros(1, dtype=np.int32),
                "nb_op": np.array([-1 if op[3] is None else op[3][0] for op in self.ops],
                                  dtype=np.int32),
                "nb_add": np.array([0.0 if op[3] is None else op[3][1] for op in self.ops],
                                   dtype=np.float64),
                "dur": np.array(self.durations_ns or [0.0], dtype=np.float64),
                "param_dur_at": np.array([k for k, _n, _j in self.param_durs], dtype=np.int64),
            }
        return self.arrays


class ProgramBuilder:
    """Records the Timeline calls of one token's builder (see the module doc). ``token`` is the
    token number the builder is given; every event must carry it."""

    START = 0
    """The op index standing for the token's start event (pass it as the start dependency)."""

    def __init__(self, timeline: Timeline, token: int) -> None:
        self.timeline, self.token = timeline, token
        self.ops: list = [(_EVENT, -1, (), None)]  # op 0: the start event
        self.lanes: list[int] = []
        self.durations: list[float] = []
        self.names: list[str] = []
        self.cats: list[int] = []
        self.phases: list[str] = []
        self.layers: list[int] = []
        self.args: list = []
        self.param_durs: list[tuple[int, str, int]] = []
        self.param_args: list[tuple[int, str, int]] = []

    def lane_id(self, lane: str) -> int:
        return self.timeline.lane_id(lane)

    def _event(self, li: int, dur: float, deps: Iterable[int], not_before, name: str, ci: int,
               phase: str, token: int, layer: int, args) -> int:
        if token != self.token:
            raise ValueError(f"event {name!r}: token {token} in a program of token "
                             f"{self.token}")
        if not not_before:
            nb = None
        elif isinstance(not_before, _StartPlus):
            nb = (not_before.op, not_before.offset_ns)
        else:
            raise ValueError(f"event {name!r}: a fixed not-before time cannot be replayed")
        op = len(self.ops)
        self.ops.append((_EVENT, li, deps if type(deps) is list else list(deps), nb))
        self.lanes.append(li)
        self.durations.append(dur)
        self.names.append(name)
        self.cats.append(ci)
        self.phases.append(phase)
        self.layers.append(layer)
        self.args.append(args)
        return op

    def add(self, lane: str, duration_ns: float, *, name: str, category: str,
            deps: Iterable[int] = (), not_before_ns=0.0, phase: str = "decode",
            token: int = -1, layer: int = -1, args: dict | None = None) -> int:
        return self._event(self.lane_id(lane), duration_ns, deps, not_before_ns, name,
                           category_index(category), phase, token, layer, args)

    def add_on(self, li: int, duration_ns: float, name: str, ci: int, deps: Iterable[int] = (),
               not_before_ns=0.0, phase: str = "decode", token: int = -1, layer: int = -1,
               args: dict | None = None) -> int:
        return self._event(li, duration_ns, deps, not_before_ns, name, ci, phase, token, layer,
                           args)

    def add_group(self, lanes: Sequence[int], durations_ns: Sequence[float], name: str, ci: int,
                  deps: Sequence[Sequence[int]], token: int, layer: int,
                  args: Sequence[dict | None]) -> list[int]:
        if token != self.token:
            raise ValueError(f"event {name!r}: token {token} in a program of token "
                             f"{self.token}")
        first_op, first_event, n = len(self.ops), len(self.lanes), len(lanes)
        if isinstance(durations_ns, ParamList):
            self.param_durs.extend((first_event + j, durations_ns.name, j) for j in range(n))
        if isinstance(args, ParamList):
            self.param_args.extend((first_event + j, args.name, j) for j in range(n))
        if len(deps) != n:
            raise ValueError(f"event {name!r}: {n} lanes but {len(deps)} dependency lists")
        self.ops.extend(zip(repeat(_EVENT), lanes, deps, repeat(None)))
        self.lanes.extend(lanes)
        self.durations.extend(durations_ns)
        self.names.extend([name] * n)
        self.cats.extend([ci] * n)
        self.phases.extend(["decode"] * n)
        self.layers.extend([layer] * n)
        self.args.extend(args)
        return list(range(first_op, first_op + n))

    def join(self, deps: Sequence[int]) -> int:
        self.ops.append((_JOIN, -1, deps if type(deps) is list else list(deps), None))
        return len(self.ops) - 1

    def start_of(self, op: int) -> _StartPlus:
        if self.ops[op][0] != _EVENT or op == self.START:
            raise ValueError("start_of needs an event of this token")
        return _StartPlus(op)

    def finish(self, result: int) -> TokenProgram:
        """The program; ``result`` is the op the builder returned for the token."""
        if self.durations and min(self.durations) < 0:
            k = min(range(len(self.durations)), key=self.durations.__getitem__)
            raise ValueError(f"event {self.names[k]!r}: negative duration "
                             f"{self.durations[k]}")
        for k, (_kind, _li, _refs, nb) in enumerate(self.ops):
            if nb is not None and nb[0] >= k:
                raise ValueError("not-before refers to a later op")
        return TokenProgram(self.ops, self.lanes, self.durations, self.names, self.cats,
                            self.phases, self.layers, self.args, self.param_durs,
                            self.param_args, result)


@cache
def _core():
    """``(ffi, lib)`` of the C timeline core, or None where it is not built (then the Python
    loop runs: same results, slower)."""
    try:
        from ramulator_bridge import timeline_lib

        return timeline_lib()
    except ImportError:
        return None


def run_program(tl: Timeline, prog: TokenProgram, start_dep: int, token: int,
                params: dict[str, Sequence] | None = None, *, use_c: bool = True) -> int:
    """Add ``prog``'s events to ``tl`` for decode ``token`` after event ``start_dep``; returns
    the event id of the program's result op. ``use_c=False`` runs the Python loop (the
    reference the C core is tested against)."""
    pvalues = [params[name][j] for _k, name, j in prog.param_durs]
    if min(pvalues, default=0.0) < 0:
        raise ValueError(f"negative duration {min(pvalues)} in a token program's params")
    args = prog.args
    if prog.param_args:
        args = list(args)
        for k, name, j in prog.param_args:
            args[k] = params[name][j]
    core = _core() if use_c else None
    if core is not None:
        dur = prog.pack()["dur"]
        if pvalues:
            dur = dur.copy()
            dur[prog.arrays["param_dur_at"]] = pvalues
        result = _run_c(core, tl, prog, dur, start_dep)
    else:
        durations = prog.durations_ns
        if pvalues:
            durations = list(durations)
            for (k, _name, _j), v in zip(prog.param_durs, pvalues, strict=True):
                durations[k] = v
        result = _run_python(tl, prog, durations, start_dep)
    n = len(prog.lanes)
    tl.lane_idx.extend(prog.lanes)
    tl.names.extend(prog.names)
    tl.cat_idx.extend(prog.cats)
    tl.phases.extend(prog.phases)
    tl.tokens.extend([token] * n)
    tl.layers.extend(prog.layers)
    tl.args.extend(args)
    return result


def _run_c(core, tl: Timeline, prog: TokenProgram, dur: np.ndarray, start_dep: int) -> int:
    ffi, lib = core
    a = prog.pack()
    n_ops, n = len(prog.ops), len(prog.lanes)
    ends = tl.ends
    lane_last = np.array(tl._lane_last, dtype=np.int64)
    lane_end = np.array([ends[x] if x >= 0 else 0.0 for x in tl._lane_last], dtype=np.float64)
    out = np.empty((3, max(n, 1)), dtype=np.float64)
    preds = np.empty(max(n, 1), dtype=np.int64)
    op_id = np.empty(n_ops + 1, dtype=np.int64)
    op_times = np.empty((2, n_ops + 1), dtype=np.float64)
    f = ffi.from_buffer
    result = lib.htl_run_program(
        n_ops, f("int8_t[]", a["kind"]), f("int32_t[]", a["lane"]),
        f("int32_t[]", a["ref_start"]), f("int32_t[]", a["refs"]), f("int32_t[]", a["nb_op"]),
        f("double[]", a["nb_add"]), f("double[]", dur), start_dep,
        tl.starts[start_dep] if start_dep >= 0 else 0.0,
        ends[start_dep] if start_dep >= 0 else 0.0,
        f("int64_t[]", lane_last), f("double[]", lane_end), len(ends),
        f("double[]", out[0]), f("double[]", out[1]), f("int64_t[]", preds),
        f("int64_t[]", op_id), f("double[]", op_times[0]), f("double[]", op_times[1]),
        prog.result)
    tl.starts.extend(out[0, :n].tolist())
    ends.extend(out[1, :n].tolist())
    tl.preds.extend(preds[:n].tolist())
    tl._lane_last[:] = lane_last.tolist()
    return int(result)


def _run_python(tl: Timeline, prog: TokenProgram, durations: Sequence[float],
                start_dep: int) -> int:
    ends, starts, preds, lane_last = tl.ends, tl.starts, tl.preds, tl._lane_last
    ops = prog.ops
    ids = [NO_EVENT] * (len(ops) + 1)  # the extra slot: a NO_EVENT reference reads NO_EVENT
    ids[0] = start_dep
    eid, e = len(ends), 0
    for k in range(1, len(ops)):
        kind, li, refs, nb = ops[k]
        if kind:  # join: the dependency that ends last (the first on a tie)
            best, best_end = NO_EVENT, -1.0
            for r in refs:
                d = ids[r]
                if d >= 0 and ends[d] > best_end:
                    best, best_end = d, ends[d]
            ids[k] = best
            continue
        start = 0.0 if nb is None else starts[ids[nb[0]]] + nb[1]
        pred = NO_EVENT
        last = lane_last[li]
        if last >= 0 and ends[last] > start:
            start, pred = ends[last], last
        for r in refs:
            d = ids[r]
            if d >= 0 and ends[d] > start:
                start, pred = ends[d], d
        starts.append(start)
        ends.append(start + durations[e])
        preds.append(pred)
        lane_last[li] = eid
        ids[k] = eid
        eid += 1
        e += 1
    return ids[prog.result]


__all__ = ["ParamList", "ProgramBuilder", "TokenProgram", "run_program"]
