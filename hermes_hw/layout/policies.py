"""The built-in layout policies."""

from __future__ import annotations

import numpy as np

from hermes_hw.errors import InputError
from hermes_hw.layout.base import LINE_BYTES, DimmGeometry, LayoutPolicy, register_policy

#: Bit fields of each regular mapper from the least significant end (see addr_mappers.c).
MAPPER_FIELDS = {
    "RoBaRaCoCh": ("channel", "column", "rank", "bankgroup", "bank", "row"),
    "ChRaBaRoCo": ("column", "row", "bank", "bankgroup", "rank", "channel"),
    "RoCoBaRaCh": ("channel", "rank", "bankgroup", "bank", "column", "row"),
}


@register_policy("interleaved")
class InterleavedPolicy(LayoutPolicy):
    """Each neuron's bytes contiguous in the linear physical space, neurons packed by id; the
    DRAM address mapper decides the interleaving (RoCoBaRaCh: consecutive lines rotate over
    ranks, bank groups and banks, so one neuron stream uses every rank)."""

    @property
    def spaces(self) -> int:
        return 1

    def physical_line(self, space: np.ndarray, line: np.ndarray) -> np.ndarray:
        return np.asarray(line, dtype=np.int64)

    def neuron_stride_bytes(self) -> int:
        return LINE_BYTES


@register_policy("rank-local")
class RankLocalPolicy(LayoutPolicy):
    """Each neuron lives entirely in one rank (neurons of a block dealt round-robin over the
    ranks); the NDP core streams one neuron per rank at a time, round-robin line by line, so
    every rank stays busy while no neuron straddles ranks. Needs a mapper whose rank field sits
    directly above the channel field (RoCoBaRaCh), so a rank's lines are a constant stride."""

    def __init__(self, geometry: DimmGeometry) -> None:
        super().__init__(geometry)
        fields = MAPPER_FIELDS.get(geometry.mapper)
        below = fields[: fields.index("rank")] if fields else None
        if fields is None or any(f != "channel" for f in below) or geometry.channels != 1:
            raise InputError(
                f"layout policy 'rank-local' needs a single-channel DIMM with the rank field "
                f"lowest in the address mapper (RoCoBaRaCh); got {geometry.mapper} with "
                f"{geometry.channels} channel(s)", source="layout.policy")
        if geometry.ranks & (geometry.ranks - 1):
            raise InputError(f"layout policy 'rank-local' needs a power-of-two rank count, got "
                             f"{geometry.ranks}", source="layout.policy")

    @property
    def spaces(self) -> int:
        return self.geometry.ranks

    def physical_line(self, space: np.ndarray, line: np.ndarray) -> np.ndarray:
        return np.asarray(line, dtype=np.int64) * self.geometry.ranks + np.asarray(space)

    def neuron_stride_bytes(self) -> int:
        return LINE_BYTES * self.geometry.ranks


def check_geometry(geometry: DimmGeometry) -> None:
    if geometry.capacity_bytes % LINE_BYTES:
        raise InputError("DIMM capacity is not a multiple of 64 B")
