"""Protocol checker and command logs.

Timing values are those of the Ramulator2 reference notes, section 5 (DDR4_8Gb_x8 +
DDR4_3200AA, DDR5_16Gb_x8 + DDR5_3200AN); each expected gap below is computed by hand from them.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from hermes_hw.dram.checker import check_commands
from hermes_hw.dram.command_log import CommandLog
from hermes_hw.errors import InputError

REF = Path("/work/shared/reference/ramulator2/results")
needs_ref = pytest.mark.skipif(not REF.is_dir(), reason="Ramulator2 reference data not present")

DDR4 = dict(
    nBL=4,
    nCL=22,
    nRCD=22,
    nRP=22,
    nRAS=52,
    nRC=74,
    nWR=24,
    nRTP=12,
    nCWL=16,
    nCCDS=4,
    nCCDL=8,
    nRRDS=4,
    nRRDL=8,
    nWTRS=4,
    nWTRL=12,
    nFAW=34,
    nRFC=576,
    nREFI=12480,
    nCS=2,
)
DDR5 = dict(nBL=8, nCL=24, nRCD=24, nRP=24, nRAS=52, nRC=75, nWR=48, nRTP=12, nCWL=22, nPPD=2,
            nCCDS=8, nCCDS_WR=8, nCCDS_WTR=34, nCCDL=8, nCCDL_WR=16, nCCDL_WTR=46, nRRDS=8,
            nRRDL=5, nFAW=32, nRFC1=471, nREFI=6222, nCS=2)  # fmt: skip
ORG4 = dict(channels=1, ranks=1, bankgroups=4, banks=4, rows=65536, columns=1024)
ORG4_2R = dict(ORG4, ranks=2)
ORG5 = dict(channels=1, ranks=1, bankgroups=8, banks=4, rows=65536, columns=1024)


def log_of(*records) -> CommandLog:
    """records: (cycle, CMD, rank, bankgroup, bank, row[, column]) on channel 0."""
    rows = []
    for rec in records:
        cycle, cmd, rank, bg, bank, row, *col = rec
        rows.append((cycle, cmd, 0, rank, bg, bank, row, col[0] if col else -1))
    return CommandLog.from_records(rows)


def check(log, standard="DDR4", org=ORG4, mode="host"):
    timing = DDR4 if standard == "DDR4" else DDR5
    return check_commands(log, standard, timing, org, mode)


def only(report):
    assert len(report.violations) == 1, report.summary()
    return report.violations[0]


# ---------------------------------------------------------------- reference traces


@needs_ref
@pytest.mark.parametrize("case", ["ddr4_seq_10k_cmdtrace", "ddr4_rand_10k_cmdtrace"])
def test_ramulator2_reference_traces_have_no_violation(case):
    log = CommandLog.read_text(REF / f"{case}.cmdtrace.ch0.gz")
    report = check(log)
    assert report.ok, report.summary()
    assert (
        report.commands == {"ddr4_seq_10k_cmdtrace": 10068, "ddr4_rand_10k_cmdtrace": 29854}[case]
    )  # README section 9


@needs_ref
def test_moving_one_reference_rd_a_cycle_earlier_breaks_nccdl():
    log = CommandLog.read_text(REF / "ddr4_seq_10k_cmdtrace.cmdtrace.ch0.gz")
    # README section 9: ACT at 1, RD at 23, 31, 39 ... (same bank group: nCCDL = 8 apart)
    assert log.cycle[:4].tolist() == [1, 23, 31, 39]
    log.cycle[2] = 30
    v = only(check(log))
    assert (v.index, v.command, v.constraint) == (2, "RD", "nCCDL")
    assert (v.required_cycles, v.actual_cycles) == (8, 7)
    assert (v.earlier_index, v.earlier_command, v.earlier_cycle) == (1, "RD", 23)


@needs_ref
def test_moving_the_first_reference_rd_earlier_breaks_nrcd():
    log = CommandLog.read_text(REF / "ddr4_seq_10k_cmdtrace.cmdtrace.ch0.gz")
    log.cycle[1] = 22  # ACT at 1 -> RD needs 1 + nRCD(22) = 23
    v = only(check(log))
    assert (v.constraint, v.required_cycles, v.actual_cycles, v.earlier_index) == (
        "nRCD",
        22,
        21,
        0,
    )


@needs_ref
def test_reference_refab_moved_before_its_prea_settles():
    log = CommandLog.read_text(REF / "ddr4_seq_10k_cmdtrace.cmdtrace.ch0.gz")
    # README section 9: PREA at 12484, REFab at 12506 (nRP = 22 after PREA)
    prea = int(np.flatnonzero(log.cycle == 12484)[0])
    assert log.name_at(prea) == "PREA" and log.name_at(prea + 1) == "REFab"
    log.cycle[prea + 1] = 12500
    v = only(check(log))
    assert (v.constraint, v.required_cycles, v.actual_cycles) == ("nRP", 22, 16)


# ---------------------------------------------------------------- DDR4 timing, hand-built logs


def test_legal_hand_built_sequence_passes():
    log = log_of(
        (1, "ACT", 0, 0, 0, 5),
        (5, "ACT", 0, 1, 0, 9),  # other bank group: nRRDS 4
        (23, "RD", 0, 0, 0, 5, 0),  # nRCD 22
        (27, "RD", 0, 1, 0, 9, 0),  # other bank group: nCCDS 4
        (35, "RD", 0, 0, 0, 5, 1),  # same bank group: nCCDL 8
        (47, "PRE", 0, 0, 0, 5),  # nRTP 12 after RD at 35; nRAS 52 from ACT at 1? 46 -> no
    )
    report = check(log)
    # the PRE at 47 is only 46 after its ACT: nRAS (52) is the one rule broken
    v = only(report)
    assert (v.constraint, v.required_cycles, v.actual_cycles) == ("nRAS", 52, 46)
    log.cycle[5] = 53
    assert check(log).ok


@pytest.mark.parametrize(
    ("records", "constraint", "required", "actual"),
    [
        # RD -> RD other bank group, same rank: nCCDS = 4
        ([(1, "ACT", 0, 0, 0, 1), (5, "ACT", 0, 1, 0, 1), (30, "RD", 0, 0, 0, 1, 0),
          (33, "RD", 0, 1, 0, 1, 0)], "nCCDS", 4, 3),
        # WR -> WR same bank group: nCCDL = 8
        ([(1, "ACT", 0, 0, 0, 1), (30, "WR", 0, 0, 0, 1, 0), (37, "WR", 0, 0, 0, 1, 1)],
         "nCCDL", 8, 7),
        # RD -> WR: nCL + nBL + 2 - nCWL = 22 + 4 + 2 - 16 = 12
        ([(1, "ACT", 0, 0, 0, 1), (30, "RD", 0, 0, 0, 1, 0), (41, "WR", 0, 0, 0, 1, 1)],
         "RD->WR", 12, 11),
        # WR -> RD other bank group: nCWL + nBL + nWTRS = 16 + 4 + 4 = 24
        ([(1, "ACT", 0, 0, 0, 1), (5, "ACT", 0, 1, 0, 1), (30, "WR", 0, 0, 0, 1, 0),
          (53, "RD", 0, 1, 0, 1, 0)], "nWTRS", 24, 23),
        # WR -> RD same bank group: nCWL + nBL + nWTRL = 16 + 4 + 12 = 32
        ([(1, "ACT", 0, 0, 0, 1), (30, "WR", 0, 0, 0, 1, 0), (61, "RD", 0, 0, 0, 1, 1)],
         "nWTRL", 32, 31),
        # ACT -> ACT: other bank group nRRDS 4, same bank group nRRDL 8, same bank nRC 74
        ([(1, "ACT", 0, 0, 0, 1), (4, "ACT", 0, 1, 0, 1)], "nRRDS", 4, 3),
        ([(1, "ACT", 0, 0, 0, 1), (8, "ACT", 0, 0, 1, 1)], "nRRDL", 8, 7),
        # (nRC = nRAS + nRP, so an RDA closes the bank: RDA -> ACT needs only nRTP + nRP = 34)
        ([(1, "ACT", 0, 0, 0, 1), (23, "RDA", 0, 0, 0, 1, 0), (74, "ACT", 0, 0, 0, 2)],
         "nRC", 74, 73),
        # five ACTs to different banks 8 apart: the 5th is 32 < nFAW 34 after the 1st
        ([(0, "ACT", 0, 0, 0, 1), (8, "ACT", 0, 1, 0, 1), (16, "ACT", 0, 2, 0, 1),
          (24, "ACT", 0, 3, 0, 1), (32, "ACT", 0, 0, 1, 1)], "nFAW", 34, 32),
        # PRE -> ACT same bank: nRP 22
        ([(1, "ACT", 0, 0, 0, 1), (60, "PRE", 0, 0, 0, 1), (81, "ACT", 0, 0, 0, 2)],
         "nRP", 22, 21),
        # RD -> PRE: nRTP 12 (RD at 60, PRE at 71)
        ([(1, "ACT", 0, 0, 0, 1), (60, "RD", 0, 0, 0, 1, 0), (71, "PRE", 0, 0, 0, 1)],
         "nRTP", 12, 11),
        # WR -> PRE: nCWL + nBL + nWR = 16 + 4 + 24 = 44
        ([(1, "ACT", 0, 0, 0, 1), (60, "WR", 0, 0, 0, 1, 0), (103, "PREA", 0, -1, -1, -1)],
         "nWR", 44, 43),
        # ACT -> PREA: nRAS 52
        ([(1, "ACT", 0, 0, 0, 1), (52, "PREA", 0, -1, -1, -1)], "nRAS", 52, 51),
        # PREA -> REFab: nRP 22; REFab -> ACT: nRFC 576
        ([(1, "PREA", 0, -1, -1, -1), (22, "REFab", 0, -1, -1, -1)], "nRP", 22, 21),
        ([(1, "REFab", 0, -1, -1, -1), (576, "ACT", 0, 0, 0, 1)], "nRFC", 576, 575),
        # ACT -> REFab: nRC 74 (bank closed by PREA in between)
        ([(1, "ACT", 0, 0, 0, 1), (23, "RDA", 0, 0, 0, 1, 0), (74, "REFab", 0, -1, -1, -1)],
         "nRC", 74, 73),
        # RDA -> ACT same bank: nRTP + nRP = 34
        ([(1, "ACT", 0, 0, 0, 1), (50, "RDA", 0, 0, 0, 1, 0), (83, "ACT", 0, 0, 0, 2)],
         "nRTP+nRP", 34, 33),
        # two commands in one cycle on the channel (a PRE to a closed bank is legal otherwise)
        ([(1, "ACT", 0, 0, 0, 1), (1, "PRE", 0, 1, 0, 1)], "command bus", 1, 0),
    ],
)  # fmt: skip
def test_each_ddr4_timing_rule_is_caught(records, constraint, required, actual):
    v = only(check(log_of(*records)))
    assert (v.constraint, v.required_cycles, v.actual_cycles) == (constraint, required, actual)
    assert v.index == len(records) - 1
    fixed = log_of(*records)
    fixed.cycle[-1] += required - actual  # exactly at the minimum: legal
    assert check(fixed).ok, check(fixed).summary()


def test_strictest_rule_of_a_pair_is_reported_once():
    # same bank group, 3 apart: nBL (4), nCCDS (4) and nCCDL (8) all broken; report nCCDL only
    log = log_of((1, "ACT", 0, 0, 0, 1), (30, "RD", 0, 0, 0, 1, 0), (33, "RD", 0, 0, 0, 1, 1))
    v = only(check(log))
    assert (v.constraint, v.required_cycles, v.actual_cycles) == ("nCCDL", 8, 3)


def test_rank_switching_applies_in_host_mode_only():
    # two ranks: RD r0 -> RD r1 needs nBL + nCS = 6; WR r0 -> RD r1 needs nCL+nBL+nCS-nCWL = 12
    rd_rd = log_of((1, "ACT", 0, 0, 0, 1), (2, "ACT", 1, 0, 0, 1), (30, "RD", 0, 0, 0, 1, 0),
                   (35, "RD", 1, 0, 0, 1, 0))  # fmt: skip
    v = only(check(rd_rd, org=ORG4_2R))
    assert (v.constraint, v.required_cycles, v.actual_cycles) == ("rank switch RD->RD/WR", 6, 5)
    assert check(rd_rd, org=ORG4_2R, mode="ndp").ok
    wr_rd = log_of((1, "ACT", 0, 0, 0, 1), (2, "ACT", 1, 0, 0, 1), (30, "WR", 0, 0, 0, 1, 0),
                   (41, "RD", 1, 0, 0, 1, 0))  # fmt: skip
    v = only(check(wr_rd, org=ORG4_2R))
    assert (v.constraint, v.required_cycles, v.actual_cycles) == ("rank switch WR->RD", 12, 11)
    # the rank switch is measured from the latest command of *another* rank, even when a
    # same-rank RD came in between (RD r0 @30, RD r1 bg0 @31, RD r1 bg1 @32)
    between = log_of((1, "ACT", 0, 0, 0, 1), (2, "ACT", 1, 0, 0, 1), (6, "ACT", 1, 1, 0, 1),
                     (30, "RD", 0, 0, 0, 1, 0), (31, "RD", 1, 0, 0, 1, 0),
                     (32, "RD", 1, 1, 0, 1, 0))  # fmt: skip
    got = sorted(
        (v.index, v.constraint, v.actual_cycles, v.earlier_index)
        for v in check(between, org=ORG4_2R).violations
    )
    assert got == [
        (4, "rank switch RD->RD/WR", 1, 3),
        (5, "nCCDS", 1, 4),
        (5, "rank switch RD->RD/WR", 2, 3),
    ]


def test_ndp_mode_puts_the_command_bus_per_rank():
    # two ranks act in the same cycle: a conflict on a shared channel bus, fine with per-rank paths
    log = log_of((1, "ACT", 0, 0, 0, 1), (1, "ACT", 1, 0, 0, 1))
    v = only(check(log, org=ORG4_2R))
    assert (v.constraint, v.actual_cycles) == ("command bus", 0)
    assert check(log, org=ORG4_2R, mode="ndp").ok


# ---------------------------------------------------------------- DDR5


@pytest.mark.parametrize(
    ("records", "constraint", "required", "actual"),
    [
        # ACT is a 2-cycle command: nothing else on the bus in the next cycle
        ([(0, "ACT", 0, 0, 0, 1), (60, "ACT", 0, 1, 0, 1), (61, "PRE", 0, 0, 0, 1)],
         "2-cycle command", 2, 1),
        # PRE -> PRE same rank: nPPD 2
        ([(0, "ACT", 0, 0, 0, 1), (8, "ACT", 0, 1, 0, 1), (100, "PRE", 0, 0, 0, 1),
          (101, "PRE", 0, 1, 0, 1)], "nPPD", 2, 1),
        # WR -> WR same bank group: nCCDL_WR 16
        ([(0, "ACT", 0, 0, 0, 1), (30, "WR", 0, 0, 0, 1, 0), (45, "WR", 0, 0, 0, 1, 1)],
         "nCCDL_WR", 16, 15),
        # WR -> RD other bank group: nCCDS_WTR 34; same bank group: nCCDL_WTR 46
        ([(0, "ACT", 0, 0, 0, 1), (8, "ACT", 0, 1, 0, 1), (30, "WR", 0, 0, 0, 1, 0),
          (63, "RD", 0, 1, 0, 1, 0)], "nCCDS_WTR", 34, 33),
        ([(0, "ACT", 0, 0, 0, 1), (30, "WR", 0, 0, 0, 1, 0), (75, "RD", 0, 0, 0, 1, 1)],
         "nCCDL_WTR", 46, 45),
        # RD -> WR: nCL + nBL + 2 - nCWL + 2 = 24 + 8 + 2 - 22 + 2 = 14
        ([(0, "ACT", 0, 0, 0, 1), (30, "RD", 0, 0, 0, 1, 0), (43, "WR", 0, 0, 0, 1, 1)],
         "RD->WR", 14, 13),
        # nRRDS (8) applies to any two ACTs of a rank, although nRRDL is only 5
        ([(0, "ACT", 0, 0, 0, 1), (7, "ACT", 0, 0, 1, 1)], "nRRDS", 8, 7),
        # REFab -> ACT: nRFC1 471
        ([(0, "REFab", 0, -1, -1, -1), (470, "ACT", 0, 0, 0, 1)], "nRFC1", 471, 470),
    ],
)  # fmt: skip
def test_each_ddr5_rule_is_caught(records, constraint, required, actual):
    v = only(check(log_of(*records), "DDR5", ORG5))
    assert (v.constraint, v.required_cycles, v.actual_cycles) == (constraint, required, actual)
    fixed = log_of(*records)
    fixed.cycle[-1] += required - actual
    assert check(fixed, "DDR5", ORG5).ok


def test_ddr5_accepts_nrfc_for_nrfc1():
    timing = {k: v for k, v in DDR5.items() if k != "nRFC1"} | {"nRFC": 471}
    log = log_of((0, "REFab", 0, -1, -1, -1), (470, "ACT", 0, 0, 0, 1))
    assert only(check_commands(log, "DDR5", timing, ORG5)).constraint == "nRFC1"


# ---------------------------------------------------------------- bank state and refresh


def test_state_rules():
    act_open = check(log_of((1, "ACT", 0, 0, 0, 1), (80, "ACT", 0, 0, 0, 2)))
    v = only(act_open)
    assert (v.constraint, v.earlier_index, v.detail) == ("ACT to an open bank", 0, "row 1 is open")

    closed = check(log_of((1, "ACT", 0, 0, 0, 1), (60, "PRE", 0, 0, 0, 7),
                          (90, "RD", 0, 0, 0, 1, 0)))  # fmt: skip
    v = only(closed)  # the PRE's row (7) is the wanted row, not the one closed: ignored
    assert (v.constraint, v.index, v.earlier_index) == ("RD/WR to a closed bank", 2, 1)

    never_opened = only(check(log_of((30, "WR", 0, 2, 3, 1, 0))))
    assert (never_opened.constraint, never_opened.earlier_index) == ("RD/WR to a closed bank", None)

    wrong = only(check(log_of((1, "ACT", 0, 0, 0, 1), (30, "RD", 0, 0, 0, 2, 0))))
    assert (wrong.constraint, wrong.detail) == (
        "RD/WR to a row that is not open",
        "open row 1, accessed row 2",
    )

    after_rda = only(check(log_of((1, "ACT", 0, 0, 0, 1), (30, "RDA", 0, 0, 0, 1, 0),
                                  (40, "RD", 0, 0, 0, 1, 1))))  # fmt: skip
    assert (after_rda.constraint, after_rda.earlier_index) == ("RD/WR to a closed bank", 1)

    ref_open = check(log_of((1, "ACT", 0, 0, 0, 1), (5, "ACT", 0, 1, 0, 1),
                            (60, "PRE", 0, 0, 0, 1), (100, "REFab", 0, -1, -1, -1)))  # fmt: skip
    v = only(ref_open)
    assert (v.constraint, v.earlier_index, v.detail) == (
        "REFab with a bank open",
        1,
        "1 bank(s) open",
    )

    prea_closes_all = log_of((1, "ACT", 0, 0, 0, 1), (5, "ACT", 0, 1, 0, 1),
                             (60, "PREA", 0, -1, -1, -1), (82, "REFab", 0, -1, -1, -1),
                             (658, "ACT", 0, 1, 0, 3), (680, "RD", 0, 1, 0, 3, 0))  # fmt: skip
    assert check(prea_closes_all).ok


def test_refresh_interval_is_at_most_nine_refi():
    refi = DDR4["nREFI"]
    # REFab at nREFI, then nothing until 10 x nREFI later: 10 x nREFI > 9 x nREFI allowed
    log = log_of((refi, "REFab", 0, -1, -1, -1), (11 * refi, "ACT", 0, 0, 0, 1))
    v = only(check(log))
    assert v.constraint == "refresh interval (9 x nREFI)"
    assert (v.required_cycles, v.actual_cycles, v.earlier_index) == (9 * refi, 10 * refi, 0)
    ok = log_of((refi, "REFab", 0, -1, -1, -1), (10 * refi, "ACT", 0, 0, 0, 1))
    assert check(ok).ok


def test_unsorted_log_is_checked_in_cycle_order_with_original_indices():
    log = log_of((30, "RD", 0, 0, 0, 1, 0), (1, "ACT", 0, 0, 0, 1), (33, "RD", 0, 0, 0, 1, 1))
    v = only(check(log))
    assert (v.index, v.earlier_index, v.constraint) == (2, 0, "nCCDL")


# ---------------------------------------------------------------- bad input


def test_bad_inputs_raise_input_error():
    good = log_of((1, "ACT", 0, 0, 0, 1))
    with pytest.raises(InputError, match=r"needs timing parameter\(s\) nFAW"):
        check_commands(good, "DDR4", {k: v for k, v in DDR4.items() if k != "nFAW"}, ORG4)
    with pytest.raises(InputError, match=r"unknown DRAM standard .* 'DDR4'"):
        check_commands(good, "DDR44", DDR4, ORG4)
    with pytest.raises(InputError, match=r"unknown protocol checker access mode 'nd'"):
        check_commands(good, "DDR4", DDR4, ORG4, mode="nd")
    with pytest.raises(InputError, match=r"ACT has bankgroup 4; expected 0..3"):
        check(log_of((1, "ACT", 0, 4, 0, 1)))
    with pytest.raises(InputError, match=r"unknown command 'NOP'"):
        check(CommandLog.from_records([(1, "NOP", 0, 0, -1, -1, -1, -1)]))


# ---------------------------------------------------------------- command log text form


def test_command_log_round_trip_plain_and_gz(tmp_path):
    log = log_of((1, "ACT", 0, 0, 0, 5), (23, "RD", 0, 0, 0, 5, 3), (99, "PREA", 0, -1, -1, -1))
    for name in ("log.txt", "log.txt.gz"):
        log.write_text(tmp_path / name)
        back = CommandLog.read_text(tmp_path / name)
        assert back == log
    text = gzip.decompress((tmp_path / "log.txt.gz").read_bytes()).decode()
    assert text.splitlines()[1] == "23, RD, 0, 0, 0, 0, 5, 3"


def test_command_log_bad_line_names_file_and_line(tmp_path):
    path = tmp_path / "log.txt"
    path.write_text("1, ACT, 0, 0, 0, 0, 5, 0\n\n23, RD, 0, 0, x, 0, 5, 3\n")
    with pytest.raises(InputError) as err:
        CommandLog.read_text(path)
    assert str(err.value).startswith(f"{path}:3: expected 'clk, CMD, channel, rank")
    assert str(err.value).endswith("got '23, RD, 0, 0, x, 0, 5, 3'")
