"""The protocol checker: every logged command against every JEDEC rule, vectorised with numpy.

For each timing rule and each later command, only the most recent earlier command of the same
scope needs checking (the log is in cycle order, so it is the closest one). "Most recent earlier
command with the same key" is found for all commands at once: sort by scope key (stable, so log
order is kept inside a key) and take a running maximum of the positions of earlier-type commands.
Bank state (which row is open) follows the same way from the last ACT and the last precharge.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from hermes_hw.dram.checker.report import CheckReport, Violation
from hermes_hw.dram.checker.rules import (
    ALL,
    BANK_COMMANDS,
    BANKSET_COMMANDS,
    COL,
    FAW_PARAMETER,
    MAX_REFRESH_POSTPONE,
    TimingRule,
    resolve_timing,
    rules_for,
)
from hermes_hw.dram.command_log import CommandLog
from hermes_hw.errors import InputError, unknown_name

MODES = ("host", "ndp")
#: Tie-break between rules broken by the same pair with the same gap: the narrowest scope wins.
_SPECIFICITY = {"bank": 0, "bankgroup": 1, "rank": 2, "other_rank": 3, "bus": 4}
_ORG_KEYS = {
    "channels": "channel",
    "ranks": "rank",
    "bankgroups": "bankgroup",
    "banks": "bank",
    "rows": "row",
    "columns": "column",
}


@dataclass(frozen=True)
class Organisation:
    """Counts of each level of the memory system (columns: transactions per row or device
    columns; only used as an upper bound of the log's column field)."""

    channels: int
    ranks: int
    bankgroups: int
    banks: int
    rows: int
    columns: int

    @classmethod
    def from_mapping(cls, org: Mapping[str, int] | Organisation) -> Organisation:
        """Accepts plural keys (channels, ranks, ...) or Ramulator2's singular ones (channel,
        rank, bankgroup, bank, row, column)."""
        if isinstance(org, Organisation):
            return org
        values = {}
        for plural, singular in _ORG_KEYS.items():
            value = org.get(plural, org.get(singular))
            if value is None:
                raise InputError(f"organisation needs '{plural}' (or '{singular}')")
            if isinstance(value, bool) or int(value) != value or value < 1:
                raise InputError(f"organisation '{plural}' must be a whole number >= 1")
            values[plural] = int(value)
        return cls(**values)


class _Scopes:
    """Scope keys of every command and their stable sort orders (built once per check)."""

    def __init__(self, log: CommandLog, org: Organisation, mode: str) -> None:
        self.n = len(log)
        ch = log.channel.astype(np.int64)
        rank = ch * org.ranks + log.rank
        bg_ok = log.bankgroup >= 0
        bank_ok = bg_ok & (log.bank >= 0)
        bankgroup = np.where(bg_ok, rank * org.bankgroups + log.bankgroup, -1)
        self.keys = {
            "channel": ch,
            "rank": rank,
            "bankgroup": bankgroup,
            "bank": np.where(bank_ok, bankgroup * org.banks + log.bank, -1),
            "bankset": np.where(log.bank >= 0, rank * org.banks + log.bank, -1),
        }
        self.keys["bus"] = self.keys["channel" if mode == "host" else "rank"]
        self._sorted: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._prev: dict[tuple[str, bytes], np.ndarray] = {}

    def sorted(self, scope: str) -> tuple[np.ndarray, np.ndarray]:
        if scope not in self._sorted:
            order = np.argsort(self.keys[scope], kind="stable")
            self._sorted[scope] = (order, self.keys[scope][order])
        return self._sorted[scope]

    def last_before(self, scope: str, mask: np.ndarray) -> np.ndarray:
        """For every command, the index of the latest earlier command in ``mask`` with the same
        scope key (-1: none, or the command has no key in this scope)."""
        cache_key = (scope, np.packbits(mask).tobytes())
        if cache_key in self._prev:
            return self._prev[cache_key]
        order, keys = self.sorted(scope)
        pos = np.arange(self.n)
        running = np.maximum.accumulate(np.where(mask[order] & (keys >= 0), pos, -1))
        prev = np.concatenate(([-1], running[:-1]))
        ok = prev >= 0
        ok[ok] = keys[prev[ok]] == keys[ok]
        out = np.empty(self.n, dtype=np.int64)
        out[order] = np.where(ok, order[np.maximum(prev, 0)], -1)
        self._prev[cache_key] = out
        return out

    def next_after(self, scope: str, mask: np.ndarray) -> np.ndarray:
        """For every command, the index of the next later command in ``mask`` with the same
        scope key (n: none)."""
        order, keys = self.sorted(scope)
        pos = np.arange(self.n)
        vals = np.where(mask[order] & (keys >= 0), pos, self.n)
        running = np.minimum.accumulate(vals[::-1])[::-1]
        nxt = np.concatenate((running[1:], [self.n]))
        ok = nxt < self.n
        ok[ok] = keys[np.minimum(nxt, self.n - 1)][ok] == keys[ok]
        out = np.empty(self.n, dtype=np.int64)
        out[order] = np.where(ok, order[np.minimum(nxt, self.n - 1)], self.n)
        return out


class _Found:
    """Violations collected as arrays, turned into Violation records at the end."""

    def __init__(self) -> None:
        self.timing: list[tuple[np.ndarray, np.ndarray, str, int, np.ndarray, int]] = []
        self.other: list[Violation] = []

    def add_timing(self, later, earlier, name: str, required: int, actual, scope: str) -> None:
        if len(later):
            self.timing.append((later, earlier, name, required, actual, _SPECIFICITY[scope]))


def check_commands(
    log: CommandLog,
    standard: str,
    timing: Mapping[str, int],
    organisation: Mapping[str, int] | Organisation,
    mode: str = "host",
) -> CheckReport:
    """Check a DRAM command log against the JEDEC rules of ``standard`` ("DDR4" or "DDR5").

    ``timing``: resolved timing parameters in memory cycles (nCL, nRCD, ... as in the Ramulator2
    reference notes, section 5); ``organisation``: level counts (channels, ranks, bankgroups,
    banks, rows, columns); ``mode``: "host" (the ranks of a channel share its command and data
    bus) or "ndp" (each rank has its own command and data path to the DIMM's buffer chip, so the
    bus rules apply per rank and there are no rank-to-rank switching gaps).
    Returns a CheckReport; for each pair of commands only the strictest broken timing rule is
    reported. Malformed logs (unknown commands, fields outside the organisation) raise InputError.
    """
    rules = rules_for(standard)
    params = resolve_timing(standard, timing)
    org = Organisation.from_mapping(organisation)
    if mode not in MODES:
        raise unknown_name("protocol checker access mode", mode, MODES)
    _check_names_and_fields(log, org)

    order = None
    if len(log) > 1 and (np.diff(log.cycle) < 0).any():
        order = np.argsort(log.cycle, kind="stable")
        log = log.take(order)
    names = log.command_names
    masks = {name: log.cmd == names.index(name) if name in names else None for name in ALL}

    def mask(cmds: tuple[str, ...]) -> np.ndarray:
        out = np.zeros(len(log), dtype=bool)
        for c in cmds:
            if masks[c] is not None:
                out |= masks[c]
        return out

    scopes = _Scopes(log, org, mode)
    found = _Found()
    checked: list[str] = []
    cycle = log.cycle
    for rule in rules:
        if rule.scope == "other_rank" and mode == "ndp":
            continue
        if not rule.parameters() <= params.keys():
            continue  # an optional parameter (OPTIONAL_PARAMETERS) was not given
        checked.append(f"{rule.name} ({'/'.join(rule.before)} -> {'/'.join(rule.after)}, "
                       f"{rule.scope}: {rule.formula()})")  # fmt: skip
        _check_timing_rule(rule, params, log, scopes, mask, found)
    if len(log):
        _check_faw(params[FAW_PARAMETER], mask(("ACT",)), scopes, cycle, found)
        _check_bank_state(log, scopes, mask, found)
        _check_refresh(params["nREFI"], org, log, mask(("REFab",)), mask(("REFsb",)), found)
    checked += [
        f"nFAW (4 ACT window, rank: {FAW_PARAMETER})",
        "bank state (ACT to a closed bank; RD/WR to the open row; REF with all banks closed)",
        f"refresh interval (REFab at least every {MAX_REFRESH_POSTPONE} x nREFI per rank)",
    ]
    violations = _collect(found, log)
    if order is not None:
        violations = [_remap(v, order) for v in violations]
    violations.sort(key=lambda v: (v.index, v.constraint))
    return CheckReport(
        standard=standard,
        mode=mode,
        commands=len(log),
        cycles=int(cycle.max()) if len(log) else 0,
        command_counts=log.counts(),
        rules_checked=checked,
        violations=violations,
    )


def _check_names_and_fields(log: CommandLog, org: Organisation) -> None:
    source = log.source or "command log"
    present = set(log.counts())
    unknown = sorted(present - set(ALL))
    if unknown:
        first = int(np.argmax(np.isin(log.cmd, [log.code(u) for u in unknown])))
        raise unknown_name("command", unknown[0], ALL, source=f"{source}: command {first}")

    def need(names: tuple[str, ...], field: str, limit: int) -> None:
        codes = [log.code(n) for n in names if log.code(n) >= 0]
        if not codes:
            return
        sel = np.isin(log.cmd, codes)
        values = getattr(log, field)
        bad = sel & ((values < 0) | (values >= limit))
        if bad.any():
            i = int(np.argmax(bad))
            raise InputError(
                f"{log.name_at(i)} has {field} {int(values[i])}; expected 0..{limit - 1} for this "
                f"organisation",
                source=f"{source}: command {i} (cycle {int(log.cycle[i])})",
            )

    every = tuple(present)
    need(every, "channel", org.channels)
    need(every, "rank", org.ranks)
    need(BANK_COMMANDS, "bankgroup", org.bankgroups)
    need(BANK_COMMANDS + BANKSET_COMMANDS, "bank", org.banks)
    need(("ACT",) + COL, "row", org.rows)
    need(COL, "column", org.columns)
    if len(log) and int(log.cycle.min()) < 0:
        i = int(np.argmax(log.cycle < 0))
        raise InputError("negative cycle", source=f"{source}: command {i}")


def _check_timing_rule(rule: TimingRule, params, log, scopes: _Scopes, mask, found) -> None:
    required = rule.required(params)
    later_mask = mask(rule.after)
    if not later_mask.any():
        return
    before_mask = mask(rule.before)
    if rule.scope == "other_rank":
        prev = _last_before_other_rank(scopes, log, before_mask)
    else:
        prev = scopes.last_before(rule.scope, before_mask)
    later = np.flatnonzero(later_mask & (prev >= 0))
    earlier = prev[later]
    gap = log.cycle[later] - log.cycle[earlier]
    bad = gap < required
    found.add_timing(later[bad], earlier[bad], rule.name, required, gap[bad], rule.scope)


def _last_before_other_rank(scopes: _Scopes, log: CommandLog, before: np.ndarray) -> np.ndarray:
    """Latest earlier ``before`` command of the same channel but another rank."""
    n = scopes.n
    last_any = scopes.last_before("channel", before)
    rank = scopes.keys["rank"]
    # For each `before` command, the latest earlier `before` command of its channel in another
    # rank: the one just ahead of its run of same-rank commands (channel order).
    idx = np.flatnonzero(before)
    order = idx[np.argsort(scopes.keys["channel"][idx], kind="stable")]
    other_of = np.full(n, -1, dtype=np.int64)
    if len(order):
        r = rank[order]
        ch = scopes.keys["channel"][order]
        run_start = np.concatenate(([True], r[1:] != r[:-1]))
        start_pos = np.maximum.accumulate(np.where(run_start, np.arange(len(order)), 0))
        before_run = start_pos - 1
        ok = before_run >= 0
        ok[ok] = ch[before_run[ok]] == ch[ok]
        other_of[order] = np.where(ok, order[np.maximum(before_run, 0)], -1)
    out = np.full(n, -1, dtype=np.int64)
    has = last_any >= 0
    same = np.zeros(n, dtype=bool)
    same[has] = rank[last_any[has]] == rank[has]
    out[has & ~same] = last_any[has & ~same]
    out[has & same] = other_of[last_any[has & same]]
    return out


def _check_faw(n_faw: int, act: np.ndarray, scopes: _Scopes, cycle: np.ndarray, found) -> None:
    acts = np.flatnonzero(act)
    if len(acts) < 5:
        return
    rank = scopes.keys["rank"][acts]
    acts = acts[np.argsort(rank, kind="stable")]
    rank = scopes.keys["rank"][acts]
    same = rank[4:] == rank[:-4]
    later, earlier = acts[4:][same], acts[:-4][same]
    gap = cycle[later] - cycle[earlier]
    bad = gap < n_faw
    found.add_timing(later[bad], earlier[bad], "nFAW", n_faw, gap[bad], "rank")


def _check_bank_state(log: CommandLog, scopes: _Scopes, mask, found: _Found) -> None:
    n = len(log)
    act = mask(("ACT",))
    bank_close = mask(("PRE", "RDA", "WRA"))
    prea = mask(("PREA",))
    presb = mask(("PREsb",))
    last_act = scopes.last_before("bank", act)
    last_close = np.maximum.reduce(
        [
            scopes.last_before("bank", bank_close),
            scopes.last_before("rank", prea),
            scopes.last_before("bankset", presb),
        ]
    )
    is_open = (last_act >= 0) & (last_act > last_close)
    names = log.command_names

    def add(sel: np.ndarray, rule: str, earlier: np.ndarray, detail=None) -> None:
        for i in np.flatnonzero(sel)[:10_000]:
            e = int(earlier[i])
            found.other.append(
                Violation(
                    index=int(i),
                    cycle=int(log.cycle[i]),
                    command=names[log.cmd[i]],
                    constraint=rule,
                    earlier_index=e if e >= 0 else None,
                    earlier_command=names[log.cmd[e]] if e >= 0 else None,
                    earlier_cycle=int(log.cycle[e]) if e >= 0 else None,
                    detail=detail(i, e) if detail else "",
                )
            )

    col = mask(COL)
    add(act & is_open, "ACT to an open bank", last_act,
        lambda i, e: f"row {int(log.row[e])} is open")  # fmt: skip
    add(col & ~is_open, "RD/WR to a closed bank", last_close)
    wrong_row = col & is_open
    wrong_row[wrong_row] = log.row[last_act[wrong_row]] != log.row[wrong_row]
    add(wrong_row, "RD/WR to a row that is not open", last_act,
        lambda i, e: f"open row {int(log.row[e])}, accessed row {int(log.row[i])}")  # fmt: skip

    # Refresh needs the banks it refreshes closed: count the rows open at each REF.
    closers = np.minimum.reduce(
        [
            scopes.next_after("bank", act | bank_close),
            scopes.next_after("rank", prea),
            scopes.next_after("bankset", presb),
        ]
    )
    acts = np.flatnonzero(act)
    for ref_name, scope in (("REFab", "rank"), ("REFsb", "bankset")):
        refs = np.flatnonzero(mask((ref_name,)))
        if not len(refs) or not len(acts):
            continue
        key = scopes.keys[scope]
        opened = np.sort(key[acts] * (n + 1) + acts)
        closed = np.sort(key[acts] * (n + 1) + closers[acts])
        at = key[refs] * (n + 1) + refs
        base = key[refs] * (n + 1)
        open_now = (np.searchsorted(opened, at) - np.searchsorted(opened, base)) - (
            np.searchsorted(closed, at) - np.searchsorted(closed, base)
        )
        for r, count in zip(refs[open_now > 0], open_now[open_now > 0], strict=True):
            candidates = acts[(key[acts] == key[r]) & (acts < r) & (closers[acts] > r)]
            sel = np.zeros(n, dtype=bool)
            sel[r] = True
            add(sel, f"{ref_name} with a bank open", np.full(n, int(candidates.max())),
                lambda i, e, c=int(count): f"{c} bank(s) open")  # fmt: skip


def _check_refresh(
    n_refi: int, org: Organisation, log: CommandLog, refab: np.ndarray, refsb: np.ndarray, found
) -> None:
    """Every bank is refreshed at least every MAX_REFRESH_POSTPONE x nREFI cycles: by a REFab of
    its rank, or (DDR5) by a REFsb naming its bank index (it covers that bank in every group)."""
    limit = MAX_REFRESH_POSTPONE * n_refi
    end = int(log.cycle.max())
    rank_key = log.channel.astype(np.int64) * org.ranks + log.rank
    bank_indices = range(org.banks) if refsb.any() else [None]
    for ch in range(org.channels):
        for rank in range(org.ranks):
            for b in bank_indices:
                covers = refab if b is None else refab | (refsb & (log.bank == b))
                mine = np.flatnonzero(covers & (rank_key == ch * org.ranks + rank))
                times = np.concatenate(([0], log.cycle[mine], [end]))
                gaps = np.diff(times)
                for k in np.flatnonzero(gaps > limit):
                    is_end = k == len(mine)
                    index = len(log) - 1 if is_end else int(mine[k])
                    prev = int(mine[k - 1]) if k > 0 else None
                    where = f"channel {ch} rank {rank}" + ("" if b is None else f" bank {b}")
                    found.other.append(
                        Violation(
                            index=index,
                            cycle=int(times[k + 1]),
                            command="end of log" if is_end else log.name_at(index),
                            constraint=f"refresh interval ({MAX_REFRESH_POSTPONE} x nREFI)",
                            required_cycles=limit,
                            actual_cycles=int(gaps[k]),
                            earlier_index=prev,
                            earlier_command=log.name_at(prev) if prev is not None else None,
                            earlier_cycle=int(log.cycle[prev]) if prev is not None else None,
                            detail=where + ("" if prev is not None else ", counted from cycle 0"),
                        )
                    )


def _collect(found: _Found, log: CommandLog) -> list[Violation]:
    """Timing violations, keeping for each (later, earlier) pair only the strictest rule (the
    largest required gap; on a tie the narrowest scope, e.g. nCCDS before the bus's nBL)."""
    out = list(found.other)
    if found.timing:
        later = np.concatenate([t[0] for t in found.timing])
        earlier = np.concatenate([t[1] for t in found.timing])
        required = np.concatenate([np.full(len(t[0]), t[3]) for t in found.timing])
        actual = np.concatenate([t[4] for t in found.timing])
        rule = np.concatenate([np.full(len(t[0]), i) for i, t in enumerate(found.timing)])
        narrow = np.concatenate([np.full(len(t[0]), t[5]) for t in found.timing])
        names = [t[2] for t in found.timing]
        order = np.lexsort((narrow, -required, earlier, later))
        later, earlier, required, actual, rule = (
            a[order] for a in (later, earlier, required, actual, rule)
        )
        first = np.concatenate(([True], (later[1:] != later[:-1]) | (earlier[1:] != earlier[:-1])))
        cmd_names = log.command_names
        for i in np.flatnonzero(first):
            li, ei = int(later[i]), int(earlier[i])
            out.append(
                Violation(
                    index=li,
                    cycle=int(log.cycle[li]),
                    command=cmd_names[log.cmd[li]],
                    constraint=names[rule[i]],
                    required_cycles=int(required[i]),
                    actual_cycles=int(actual[i]),
                    earlier_index=ei,
                    earlier_command=cmd_names[log.cmd[ei]],
                    earlier_cycle=int(log.cycle[ei]),
                )
            )
    return out


def _remap(v: Violation, order: np.ndarray) -> Violation:
    from dataclasses import replace

    earlier = None if v.earlier_index is None else int(order[v.earlier_index])
    return replace(v, index=int(order[v.index]), earlier_index=earlier)
