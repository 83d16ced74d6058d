"""The engine against the Ramulator 2.0 reference runs (../shared/reference/ramulator2)."""

import gzip
import json

import pytest
from _engine_helpers import REFERENCE

from hermes_hw.dram.command_log import CommandLog
from hermes_hw.dram.replay import run_replay
from hermes_hw.dram.validate import TOLERANCES, run_case

pytestmark = pytest.mark.skipif(not (REFERENCE / "manifest.json").is_file(),
                                reason=f"reference folder {REFERENCE} not present")


def _cases():
    if not (REFERENCE / "manifest.json").is_file():
        return []
    return json.loads((REFERENCE / "manifest.json").read_text())["cases"]


@pytest.mark.parametrize("case", _cases(), ids=lambda c: c["id"])
def test_case_within_tolerance(case):
    result = run_case(REFERENCE, case)
    for metric, tol in TOLERANCES.items():
        assert abs(result.errors[metric]) <= tol, (metric, result.ours, result.reference)


@pytest.mark.parametrize("case_id", ["ddr4_seq_10k_cmdtrace", "ddr4_rand_10k_cmdtrace"])
def test_command_log_equals_ramulator2_trace_recorder(case_id):
    out = run_replay(REFERENCE / "configs" / f"{case_id}.yaml", command_log=True)
    ref = CommandLog.read_text(REFERENCE / "results" / f"{case_id}.cmdtrace.ch0.gz")
    ours = out.command_log
    # Ramulator2 stops at the last acceptance; our log continues through the drain.
    stop = out.result.at_last_accept["cycles"]
    ours = ours.take(ours.cycle <= stop)
    assert len(ours) == len(ref)
    for col in ("cycle", "cmd", "channel", "rank", "bankgroup", "bank", "row", "column"):
        assert (getattr(ours, col) == getattr(ref, col)).all(), col


@pytest.mark.parametrize("case_id", ["ddr4_mix70", "ddr5_mix70", "ddr4_rand_2rank",
                                     "ddr4_rand_closedrow"])
def test_protocol_checker_finds_no_violation_in_our_replays(case_id):
    out = run_replay(REFERENCE / "configs" / f"{case_id}.yaml", check=True)
    assert out.check.commands > 100_000
    assert out.check.violations == []


@pytest.mark.slow
@pytest.mark.parametrize("case", _cases(), ids=lambda c: c["id"])
def test_protocol_checker_every_case(case):
    out = run_replay(REFERENCE / case["config"], check=True)
    assert out.check.violations == []


def test_reference_traces_are_the_documented_ones():
    # guards the tests above against a changed reference folder
    man = json.loads((REFERENCE / "manifest.json").read_text())
    seq = next(t for t in man["traces"] if "seq_10k" in json.dumps(t)) if "traces" in man else None
    with gzip.open(REFERENCE / "traces" / "seq_10k.trace.gz", "rt") as f:
        first = [next(f).split() for _ in range(3)]
    assert first == [["LD", "0x0"], ["LD", "0x40"], ["LD", "0x80"]]
    assert seq is None or seq
