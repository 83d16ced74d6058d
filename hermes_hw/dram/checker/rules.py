"""JEDEC DDR4 / DDR5 command-timing rules as data.

Written from the constraint tables of the Ramulator2 reference notes (section 5 of
shared/reference/ramulator2/README.md) and the JEDEC definitions, independently of the engine's
own tables. Each rule: the earlier command(s), the later command(s), the scope in which the pair
is related, and the minimum distance in memory cycles as a sum of timing parameters.

Scopes: ``bus`` = the command/data path (the channel in host mode, the rank in NDP mode);
``rank``, ``bankgroup``, ``bank`` = same rank / bank group / bank; ``other_rank`` = different
ranks of one channel (rank-to-rank switching; host mode only, since in NDP mode every rank has
its own data path). A rank-scope rule applies to any two commands of the rank, so for a pair in
the same bank group both the ``_S`` and ``_L`` rules apply and the larger gap wins.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from hermes_hw.errors import InputError

SCOPES = ("bus", "rank", "bankgroup", "bank", "other_rank")
STANDARDS = ("DDR4", "DDR5")

RD = ("RD", "RDA")
WR = ("WR", "WRA")
COL = RD + WR
ALL = ("ACT", "PRE", "PREA", "PREsb", "RD", "WR", "RDA", "WRA", "REFab", "REFsb")
#: Commands that address one bank (need bank group, bank and row fields).
BANK_COMMANDS = ("ACT", "PRE", "RD", "WR", "RDA", "WRA")
#: Commands that address a whole rank (bank group .. column are -1).
RANK_COMMANDS = ("PREA", "REFab")
#: Commands that address bank index b in every bank group of a rank (DDR5 same-bank).
BANKSET_COMMANDS = ("PREsb", "REFsb")

Term = str | int


@dataclass(frozen=True)
class TimingRule:
    """Later command (in ``after``) must come at least ``gap`` cycles after the most recent
    earlier command (in ``before``) of the same ``scope``."""

    name: str
    before: tuple[str, ...]
    after: tuple[str, ...]
    scope: str
    gap: tuple[Term, ...]

    def formula(self) -> str:
        text = " + ".join(str(t) for t in self.gap).replace("+ -", "- ")
        return text

    def required(self, timing: Mapping[str, int]) -> int:
        total = 0
        for term in self.gap:
            if isinstance(term, int):
                total += term
            elif term.startswith("-"):
                total -= int(timing[term[1:]])
            else:
                total += int(timing[term])
        return total

    def parameters(self) -> set[str]:
        return {t.lstrip("-") for t in self.gap if isinstance(t, str)}


def _r(name: str, before, after, scope: str, *gap: Term) -> TimingRule:
    return TimingRule(name, tuple(before), tuple(after), scope, gap or (name,))


_COMMON = (
    # one command per cycle on a command path
    _r("command bus", ALL, ALL, "bus", 1),
    # data bus
    _r("nBL", RD, RD, "bus"),
    _r("nBL", WR, WR, "bus"),
    # column to column
    _r("nCCDS", RD, RD, "rank"),
    _r("nCCDL", RD, RD, "bankgroup"),
    # rank-to-rank switching
    _r("rank switch RD->RD/WR", RD, COL, "other_rank", "nBL", "nCS"),
    _r("rank switch WR->RD", WR, RD, "other_rank", "nCL", "nBL", "nCS", "-nCWL"),
    # row commands
    _r("nRRDS", ("ACT",), ("ACT",), "rank"),
    _r("nRRDL", ("ACT",), ("ACT",), "bankgroup"),
    _r("nRC", ("ACT",), ("ACT",), "bank"),
    _r("nRCD", ("ACT",), COL, "bank"),
    _r("nRAS", ("ACT",), ("PRE",), "bank"),
    _r("nRAS", ("ACT",), ("PREA",), "rank"),
    _r("nRP", ("PRE",), ("ACT",), "bank"),
    _r("nRP", ("PREA",), ("ACT",), "rank"),
    _r("nRTP", RD, ("PRE",), "bank"),
    _r("nRTP", RD, ("PREA",), "rank"),
    _r("nWR", WR, ("PRE",), "bank", "nCWL", "nBL", "nWR"),
    _r("nWR", WR, ("PREA",), "rank", "nCWL", "nBL", "nWR"),
    # auto-precharge: the precharge starts nRTP (read) / nCWL+nBL+nWR (write) after the column
    # command, and the bank is usable nRP after that
    _r("nRTP+nRP", ("RDA",), ("ACT",), "bank", "nRTP", "nRP"),
    _r("nWR+nRP", ("WRA",), ("ACT",), "bank", "nCWL", "nBL", "nWR", "nRP"),
    _r("nRTP+nRP", ("RDA",), ("REFab",), "rank", "nRTP", "nRP"),
    _r("nWR+nRP", ("WRA",), ("REFab",), "rank", "nCWL", "nBL", "nWR", "nRP"),
    # refresh
    _r("nRC", ("ACT",), ("REFab",), "rank"),
    _r("nRP", ("PRE", "PREA"), ("REFab",), "rank"),
)

DDR4_RULES: tuple[TimingRule, ...] = _COMMON + (
    _r("nCCDS", WR, WR, "rank"),
    _r("nCCDL", WR, WR, "bankgroup"),
    _r("RD->WR", RD, WR, "rank", "nCL", "nBL", 2, "-nCWL"),
    _r("nWTRS", WR, RD, "rank", "nCWL", "nBL", "nWTRS"),
    _r("nWTRL", WR, RD, "bankgroup", "nCWL", "nBL", "nWTRL"),
    _r("nRFC", ("REFab",), ("ACT", "PREA", "REFab"), "rank"),
)

DDR5_RULES: tuple[TimingRule, ...] = _COMMON + (
    # ACT, RD and WR are two-cycle commands on DDR5
    _r("2-cycle command", ("ACT",) + COL, ALL, "bus", 2),
    _r("nCCDS_WR", WR, WR, "rank"),
    _r("nCCDL_WR", WR, WR, "bankgroup"),
    _r("RD->WR", RD, WR, "rank", "nCL", "nBL", 2, "-nCWL", 2),
    _r("nCCDS_WTR", WR, RD, "rank"),
    _r("nCCDL_WTR", WR, RD, "bankgroup"),
    _r("nRFC1", ("REFab",), ("ACT", "PREA", "REFab", "REFsb"), "rank"),
    _r("nPPD", ("PRE", "PREA", "PREsb"), ("PRE", "PREA", "PREsb"), "rank"),
    # same-bank refresh, rank-level parts (the per-bank-index REFsb -> ACT gap is not checked)
    _r("nRFCsb", ("REFsb",), ("REFab", "PREA"), "rank"),
    _r("nRP", ("PREA",), ("REFsb",), "rank"),
)

#: Parameters whose rules are skipped when the timing given has no value for them (logs of
#: systems that never issue the command, e.g. REFsb without same-bank refresh).
OPTIONAL_PARAMETERS = frozenset({"nRFCsb"})

#: Four-activate window: parameter name per standard (ACT -> the 4th ACT after it, same rank).
FAW_PARAMETER = "nFAW"
#: Refresh: no rank may go longer than this many nREFI without an all-bank refresh.
MAX_REFRESH_POSTPONE = 9


def rules_for(standard: str) -> tuple[TimingRule, ...]:
    if standard == "DDR4":
        return DDR4_RULES
    if standard == "DDR5":
        return DDR5_RULES
    from hermes_hw.errors import unknown_name

    raise unknown_name("DRAM standard for the protocol checker", standard, STANDARDS)


def resolve_timing(standard: str, timing: Mapping[str, int]) -> dict[str, int]:
    """Check that every parameter the standard's rules use is present and a whole number >= 0.

    On DDR5 ``nRFC`` is accepted for ``nRFC1``."""
    resolved = {str(k): v for k, v in timing.items()}
    if standard == "DDR5" and "nRFC1" not in resolved and "nRFC" in resolved:
        resolved["nRFC1"] = resolved["nRFC"]
    needed = {FAW_PARAMETER, "nREFI"}
    for rule in rules_for(standard):
        needed |= rule.parameters()
    needed -= OPTIONAL_PARAMETERS - set(resolved)  # their rules are skipped (check_commands)
    missing = sorted(needed - set(resolved))
    if missing:
        raise InputError(
            f"{standard} protocol check needs timing parameter(s) {', '.join(missing)} "
            f"(in memory cycles); given: {', '.join(sorted(resolved)) or 'none'}"
        )
    out: dict[str, int] = {}
    for key in sorted(needed):
        value = resolved[key]
        if isinstance(value, bool) or not float(value).is_integer() or value < 0:
            raise InputError(f"timing parameter {key} must be a whole number of cycles >= 0, "
                             f"got {value!r}")  # fmt: skip
        out[key] = int(value)
    return out
