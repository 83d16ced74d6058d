"""The `hermes` CLI: entry point, doctor, and the bad-argument contract (exit 2, no traceback)."""

import subprocess
import sys

from hermes_hw.cli.main import main


def test_doctor_reports_the_builtin_engine(capsys):
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert "built-in C engine: hermes-dram" in out
    assert "(active)" in out
    assert "C trace parser: built" in out
    assert "C synthetic activation kernel: built" in out
    assert "C timeline core: built" in out


def test_python_dash_m_matches_console_script():
    proc = subprocess.run(
        [sys.executable, "-m", "hermes_hw", "--version"], capture_output=True, text=True
    )
    assert proc.returncode == 0
    assert proc.stdout.startswith("hermes-hw ")


def test_unknown_subcommand_exits_2_without_traceback():
    proc = subprocess.run(
        [sys.executable, "-m", "hermes_hw", "simulatee"], capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "invalid choice" in proc.stderr
