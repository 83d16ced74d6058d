"""Layout policy interface, the segment record and the DIMM geometry a policy works on.

Address terms: a *line* is one 64 B DRAM transaction. A policy divides a DIMM into ``spaces``
(allocation domains): the ``interleaved`` policy has one space (the linear physical space, the
address mapper spreads consecutive lines over ranks/banks); ``rank-local`` has one space per rank
(every line of a space lives in that rank). Regions that should use every rank (KV cache, scratch,
reservations) are *striped*: the same offsets in every space, i.e. a contiguous physical range.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from hermes_hw.errors import InputError, unknown_name

#: One run of requests: ``lines`` 64 B requests at ``addr``, ``addr + stride``, ...
#: Consecutive segments with the same ``width`` W > 1 form a *group* (``lane`` 0..W-1, equal
#: ``lines``) whose requests are issued round-robin line by line (lane 0 line 0, lane 1 line 0,
#: ...).
SEGMENT_DTYPE = np.dtype([
    ("addr", "<u8"),     # physical byte address of the first line (64 B aligned)
    ("lines", "<u4"),    # number of 64 B requests
    ("stride", "<u4"),   # bytes between consecutive lines of this segment
    ("write", "u1"),     # 1 = write requests, 0 = reads
    ("lane", "u1"),      # position in its interleave group
    ("width", "u1"),     # size of its interleave group (1 = not interleaved)
    ("pad", "u1"),
    ("op", "<u4"),       # index of the op (in this DIMM's op table of the token) it belongs to
])

LINE_BYTES = 64


@dataclass(frozen=True)
class DimmGeometry:
    """What a layout needs to know about one DIMM's DRAM (from the resolved DRAM config)."""

    capacity_bytes: int
    ranks: int
    channels: int
    mapper: str
    tx_bytes: int = LINE_BYTES

    @property
    def capacity_lines(self) -> int:
        return self.capacity_bytes // LINE_BYTES

    @classmethod
    def from_dram_mapping(cls, mapping: dict, source: str = "<dram config>") -> DimmGeometry:
        from hermes_hw.dram.config import parse_config
        from hermes_hw.dram.resolve import resolve

        cfg = parse_config(mapping, source)
        r = resolve(cfg)
        if r.tx_bytes != LINE_BYTES:
            raise InputError(f"NDP lowering assumes 64 B transactions; the DRAM config has "
                             f"{r.tx_bytes} B", source=source)
        return cls(capacity_bytes=int(r.capacity_bytes), ranks=int(r.org["rank"]),
                   channels=int(r.org["channel"]), mapper=cfg.MemorySystem.AddrMapper.impl)


class LayoutPolicy(ABC):
    """How neuron slots map to physical lines (one instance per DIMM geometry)."""

    name: str = ""

    def __init__(self, geometry: DimmGeometry) -> None:
        self.geometry = geometry

    @property
    @abstractmethod
    def spaces(self) -> int:
        """Number of allocation spaces of one DIMM."""

    @abstractmethod
    def physical_line(self, space: np.ndarray, line: np.ndarray) -> np.ndarray:
        """Physical line index of ``line`` (offset in lines) of ``space`` (vectorised)."""

    @abstractmethod
    def neuron_stride_bytes(self) -> int:
        """Bytes between consecutive physical lines of one neuron stored in one space."""

    def striped_physical_line(self, offset_line: int) -> int:
        """Physical line of a striped region starting at per-space offset ``offset_line``."""
        return int(self.physical_line(np.zeros(1, np.int64), np.array([offset_line]))[0])

    def interleave_spaces(self) -> bool:
        """True if the NDP streams neurons of different spaces round-robin (one per space)."""
        return self.spaces > 1


POLICIES: dict[str, Callable[[DimmGeometry], LayoutPolicy]] = {}


def register_policy(name: str):
    """Class decorator: make a layout policy available by name (``layout.policy``)."""

    def deco(cls):
        cls.name = name
        POLICIES[name] = cls
        return cls

    return deco


def make_policy(name: str, geometry: DimmGeometry) -> LayoutPolicy:
    if name not in POLICIES:
        raise unknown_name("layout policy", name, POLICIES, source="layout.policy")
    return POLICIES[name](geometry)
