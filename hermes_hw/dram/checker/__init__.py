"""Independent JEDEC protocol checker for DRAM command logs (DDR4, DDR5; host or NDP access).

Written from the JEDEC constraint tables (see rules.py), not from the engine's code, so that a
log produced by any engine (ours, Ramulator2's TraceRecorder) can be verified command by command::

    from hermes_hw.dram.command_log import CommandLog
    from hermes_hw.dram.checker import check_commands

    report = check_commands(CommandLog.read_text("run.cmdtrace"), "DDR4", timing, org)
    print(report.summary())
"""

from hermes_hw.dram.checker.core import MODES, Organisation, check_commands
from hermes_hw.dram.checker.report import CheckReport, Violation
from hermes_hw.dram.checker.rules import DDR4_RULES, DDR5_RULES, TimingRule, rules_for

__all__ = [
    "DDR4_RULES",
    "DDR5_RULES",
    "MODES",
    "CheckReport",
    "Organisation",
    "TimingRule",
    "Violation",
    "check_commands",
    "rules_for",
]
