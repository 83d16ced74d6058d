"""gem5 memory commands (MemCmd) in packet traces, and how each maps onto a DRAM request.

A packet trace stores ``cmd`` as the number of the command in gem5's ``MemCmd::Command`` enum,
so the numbering is that of the gem5 release that recorded the trace. The orders below are
facts taken from gem5's public ``src/mem/packet.hh`` at each release; ReadReq (1) and WriteReq
(4), the two commands hermes-hw writes, have the same number in every listed release.

Mapping onto DRAM requests (the same rule gem5's memory controller applies: a packet that
writes goes to the write queue, otherwise a packet that reads goes to the read queue):

* ``read``: ReadReq, ReadExReq, ReadSharedReq, ReadCleanReq, LoadLockedReq, the prefetches ...
* ``write``: WriteReq, WritebackDirty, WritebackClean, WriteClean, WriteLineReq, StoreCondReq,
  LockedRMWWriteReq, SwapReq (reads and writes; gem5's controller queues it as a write) ...
* ``skip``: requests that move no data to or from DRAM (CleanEvict, UpgradeReq, fences, cache
  maintenance, FlushReq ...). They are counted, not replayed.
* anything else (responses, error codes, numbers outside the release's enum) is rejected.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Literal

from hermes_hw.errors import InputError

Kind = Literal["read", "write", "skip"]

_READ = frozenset(
    "ReadReq SoftPFReq SoftPFExReq HardPFReq SCUpgradeFailReq ReadExReq ReadCleanReq "
    "ReadSharedReq LoadLockedReq LockedRMWReadReq".split()
)
_WRITE = frozenset(
    "WriteReq WritebackDirty WritebackClean WriteClean WriteLineReq StoreCondReq "
    "StoreCondFailReq LockedRMWWriteReq SwapReq".split()
)
_SKIP = frozenset(
    "CleanEvict UpgradeReq SCUpgradeReq MemFenceReq MemSyncReq CleanSharedReq CleanInvalidReq "
    "PrintReq FlushReq InvalidateReq HTMReq HTMAbort TlbiExtSync".split()
)

# Enum order of the newest layout (gem5 v22.1 .. v24.x); None marks unused numbers (gem5's
# deprecated MessageReq/MessageResp slots).
_V22_1 = (
    "InvalidCmd ReadReq ReadResp ReadRespWithInvalidate WriteReq WriteResp WriteCompleteResp "
    "WritebackDirty WritebackClean WriteClean CleanEvict SoftPFReq SoftPFExReq HardPFReq "
    "SoftPFResp HardPFResp WriteLineReq UpgradeReq SCUpgradeReq UpgradeResp SCUpgradeFailReq "
    "UpgradeFailResp ReadExReq ReadExResp ReadCleanReq ReadSharedReq LoadLockedReq StoreCondReq "
    "StoreCondFailReq StoreCondResp LockedRMWReadReq LockedRMWReadResp LockedRMWWriteReq "
    "LockedRMWWriteResp SwapReq SwapResp - - MemFenceReq MemSyncReq MemSyncResp MemFenceResp "
    "CleanSharedReq CleanSharedResp CleanInvalidReq CleanInvalidResp InvalidDestError "
    "BadAddressError ReadError WriteError FunctionalReadError FunctionalWriteError PrintReq "
    "FlushReq InvalidateReq InvalidateResp HTMReq HTMReqResp HTMAbort TlbiExtSync"
).split()


def _without(names: list[str], *removed: str) -> list[str]:
    return [n for n in names if n not in removed]


# Older layouts, each described as the newer one minus the commands added since.
_V22_0 = _without(_V22_1, "ReadError", "WriteError")
_V20_1 = _without(
    _V22_0,
    "LockedRMWReadReq",
    "LockedRMWReadResp",
    "LockedRMWWriteReq",
    "LockedRMWWriteResp",
    "TlbiExtSync",
)
_V19 = _without(
    _V20_1, "WriteCompleteResp", "MemSyncReq", "MemSyncResp", "HTMReq", "HTMReqResp", "HTMAbort"
)

#: Command layouts by the first gem5 release that used them (v19.0 also covers v20.0;
#: v20.1 covers v20.1..v21.2; v22.0 only v22.0; v22.1 covers v22.1..v24.x).
LAYOUTS: dict[str, tuple[str | None, ...]] = {
    name: tuple(None if n == "-" else n for n in order)
    for name, order in (("v19.0", _V19), ("v20.1", _V20_1), ("v22.0", _V22_0), ("v22.1", _V22_1))
}

#: The layout assumed when the caller does not name a gem5 release.
DEFAULT_GEM5_VERSION = "v22.1"

#: Commands hermes-hw writes (same number in every layout above).
READ_REQ = 1
WRITE_REQ = 4


@dataclass(frozen=True)
class CommandTable:
    """The command numbering of one gem5 release range."""

    layout: str
    names: tuple[str | None, ...]

    def name(self, cmd: int) -> str | None:
        """Command name for number ``cmd``, None if the number is unused or out of range."""
        return self.names[cmd] if 0 <= cmd < len(self.names) else None

    def kind(self, cmd: int) -> Kind | None:
        """'read', 'write' or 'skip' for a request command; None for anything else."""
        name = self.name(cmd)
        if name in _WRITE:
            return "write"
        if name in _READ:
            return "read"
        if name in _SKIP:
            return "skip"
        return None

    def describe_rejected(self, cmd: int) -> str:
        """Why ``cmd`` is not accepted (for error messages)."""
        name = self.name(cmd)
        if name is None:
            return (
                f"unknown command {cmd} (gem5 {self.layout} numbering has commands "
                f"0..{len(self.names) - 1}; is the trace from another gem5 release? "
                f"choose it with gem5_version / --gem5-version, one of {', '.join(LAYOUTS)})"
            )
        return (
            f"command {cmd} ({name}) is not a memory request (gem5 {self.layout} numbering); "
            "a packet trace for replay holds requests such as ReadReq or WriteReq"
        )


def _parse_version(version: str) -> tuple[int, int] | None:
    text = version.strip().lower().removeprefix("gem5").strip().removeprefix("-").lstrip("v")
    parts = text.split(".")
    try:
        major = int(parts[0])
        minor = int(parts[1]) if len(parts) > 1 and parts[1] else 0
    except (ValueError, IndexError):
        return None
    return major, minor


@cache
def command_table(gem5_version: str = DEFAULT_GEM5_VERSION) -> CommandTable:
    """The command numbering used by a gem5 release ('v21.2', '23.0', 'v24.0.0.1' ...).

    Releases newer than the newest known layout use that layout; releases before v19.0 are
    not supported (their numbering differs and is not listed).
    """
    parsed = _parse_version(gem5_version)
    if parsed is None or parsed < (19, 0):
        raise InputError(
            f"unsupported gem5 version '{gem5_version}'; expected a release number from v19.0 "
            f"on, such as {', '.join(LAYOUTS)} or v23.0"
        )
    chosen = "v19.0"
    for layout in LAYOUTS:
        if parsed >= _parse_version(layout):  # type: ignore[operator]
            chosen = layout
    return CommandTable(chosen, LAYOUTS[chosen])
