"""How long an NDP-DIMM (or the host CPU standing in for one) takes for one operation.

The timeline depends only on the :class:`DimmTimeModel` protocol: bytes and operations of one op
on one DIMM -> ns. :class:`BandwidthDimmModel` is the analytical default (the DRAM engine's
measured NDP streaming bandwidth and the NDP unit's MAC rate, whichever binds, plus a fixed
per-instruction cost); issue 4's fitted fast mode is an adapter with the same method
(dimm_fast.py).

A model that knows each timeline event's duration directly (the cycle-level replay of the run's
lowered trace, dimm_cycle.py) also implements the optional :class:`RoleTimedDimmModel` hook:
``role_times_ns(role, step, layer)`` -> one duration per DIMM for the event of that role
(:data:`DIMM_ROLES`) in decode step ``step`` and layer ``layer``. The Hermes timeline asks it
for every DIMM event when present (:func:`role_hook`) and the op-level method otherwise.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

from hermes_hw.systems.config import CpuConfig, NdpUnitConfig

OpKind = Literal["gemv", "attention", "merge"]


@dataclass(frozen=True, slots=True)
class DimmOp:
    """One NDP operation on one DIMM.

    ``read_bytes``: bytes streamed from the DIMM's DRAM (weights or KV cache);
    ``write_bytes``: bytes written back (KV append, partial results);
    ``macs``: FP16 multiply-accumulates on the GEMV unit (batch included);
    ``vector_ops``: FP16 element operations on the activation unit (softmax, adds, ReLU);
    ``segments``: contiguous address runs the reads form (neuron rows, K/V regions; used by
    the fast mode's row-miss term, ignored by the bandwidth model).
    """

    kind: OpKind
    read_bytes: float = 0.0
    write_bytes: float = 0.0
    macs: float = 0.0
    vector_ops: float = 0.0
    segments: float = 0.0


class DimmTimeModel(Protocol):
    """Anything that times a :class:`DimmOp` on DIMM ``dimm`` (ns)."""

    def op_time_ns(self, dimm: int, op: DimmOp) -> float: ...


DIMM_ROLES: tuple[str, ...] = ("qkv_cold", "qkv_merge", "attention", "mlp_cold",
                               "merge_reduce", "promote_remap")
"""The Hermes timeline's per-layer DIMM events: QKV cold GEMV, QKV merge, attention, MLP cold
GEMV, merge + reduce, and promotion/remap reads (an event only role-timed models fill)."""


@runtime_checkable
class RoleTimedDimmModel(DimmTimeModel, Protocol):
    """A :class:`DimmTimeModel` that also times whole timeline events (ns per DIMM)."""

    def role_times_ns(self, role: str, step: int, layer: int) -> Sequence[float]: ...


def role_hook(tm: DimmTimeModel) -> Callable[[str, int, int], Sequence[float]] | None:
    """``tm.role_times_ns`` if the model has the per-event hook, else None."""
    return tm.role_times_ns if isinstance(tm, RoleTimedDimmModel) else None


@dataclass(frozen=True)
class BandwidthDimmModel:
    """``op_overhead + max((read + write) / bandwidth, macs / mac_rate) + vector / vec_rate``.

    Streaming and the GEMV unit overlap (the unit consumes data as it arrives); the activation
    unit's work (softmax over scores, merges) follows it.
    """

    ndp: NdpUnitConfig

    def op_time_ns(self, dimm: int, op: DimmOp) -> float:
        if not (op.read_bytes or op.write_bytes or op.macs or op.vector_ops):
            return 0.0
        n = self.ndp
        memory_ns = (op.read_bytes + op.write_bytes) / n.streaming_gbps
        compute_ns = op.macs / n.mac_per_ns
        vector_ns = op.vector_ops / (n.activation_lanes * n.clock_ghz)
        return n.op_overhead_ns + max(memory_ns, compute_ns) + vector_ns

    def describe(self) -> dict:
        return {"model": "bandwidth", "streaming_gbps": self.ndp.streaming_gbps,
                "mac_per_ns": self.ndp.mac_per_ns, "op_overhead_ns": self.ndp.op_overhead_ns}


@dataclass(frozen=True)
class CpuTimeModel:
    """The host CPU as the cold unit (hermes-host): sparse GEMV at an achieved fraction of the
    host memory bandwidth, or its FMA rate, whichever binds, plus a fork/join per operator."""

    cpu: CpuConfig

    def op_time_ns(self, dimm: int, op: DimmOp) -> float:
        if not (op.read_bytes or op.write_bytes or op.macs or op.vector_ops):
            return 0.0
        c = self.cpu
        memory_ns = (op.read_bytes + op.write_bytes) / (c.memory_bandwidth_gbps
                                                        * c.bandwidth_efficiency)
        compute_ns = (2 * op.macs + op.vector_ops) / c.fp16_gflops
        return c.op_overhead_ns + max(memory_ns, compute_ns)

    def describe(self) -> dict:
        return {"model": "cpu", **self.cpu.model_dump()}
