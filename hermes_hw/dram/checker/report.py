"""Checker output: one Violation per broken rule, and a CheckReport with a summary."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Violation:
    """One command that breaks a rule.

    ``index``: 0-based position of the offending (later) command in the log; ``constraint``: the
    rule (a timing parameter such as "nCCDL", or a state rule such as "ACT to an open bank");
    ``required_cycles`` / ``actual_cycles``: the minimum distance the rule asks for and the one
    found (for the refresh rule: the maximum allowed and the one found; None for state rules);
    ``earlier_*``: the command the distance is measured from (None if there is none).
    """

    index: int
    cycle: int
    command: str
    constraint: str
    required_cycles: int | None = None
    actual_cycles: int | None = None
    earlier_index: int | None = None
    earlier_command: str | None = None
    earlier_cycle: int | None = None
    detail: str = ""

    def __str__(self) -> str:
        text = f"command {self.index} ({self.command} at cycle {self.cycle}): {self.constraint}"
        if self.required_cycles is not None:
            op = "at most" if self.constraint.startswith("refresh interval") else "at least"
            text += f": needs {op} {self.required_cycles} cycles, got {self.actual_cycles}"
        if self.earlier_index is not None:
            text += (
                f" after command {self.earlier_index} ({self.earlier_command} at cycle "
                f"{self.earlier_cycle})"
            )
        if self.detail:
            text += f" [{self.detail}]"
        return text


@dataclass
class CheckReport:
    """Result of :func:`check_commands`: the violations in log order, plus what was checked."""

    standard: str
    mode: str
    commands: int
    cycles: int
    command_counts: dict[str, int]
    rules_checked: list[str]
    violations: list[Violation] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations

    def by_constraint(self) -> dict[str, int]:
        return dict(Counter(v.constraint for v in self.violations).most_common())

    def summary(self, max_listed: int = 10) -> str:
        counts = ", ".join(f"{k} {v}" for k, v in self.command_counts.items())
        head = (
            f"protocol check ({self.standard}, {self.mode} mode): {self.commands} commands "
            f"({counts}) over {self.cycles} cycles, {len(self.rules_checked)} rules: "
            f"{len(self.violations)} violation{'s' if len(self.violations) != 1 else ''}"
        )
        if not self.violations:
            return head
        lines = [head]
        lines += [f"  {name}: {n}" for name, n in self.by_constraint().items()]
        lines += [f"  - {v}" for v in self.violations[:max_listed]]
        if len(self.violations) > max_listed:
            lines.append(f"  ... and {len(self.violations) - max_listed} more")
        return "\n".join(lines)
