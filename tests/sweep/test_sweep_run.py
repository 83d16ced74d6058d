"""Running sweeps: identical tables serially / local processes / Dask, resume after a kill,
--rerun, failures per point, and point results equal to `hermes dram replay --json`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _sweep_helpers import REPO, dram_grid, write_grid

from hermes_hw.cli.main import main
from hermes_hw.sweep import load_grid, run_sweep
from hermes_hw.sweep.store import SweepStore

TWO_AXES = ("axes:\n  MemorySystem.DRAM.timing.nFAW: [26, 48]\n"
            "  MemorySystem.Controller.Scheduler.impl: [FRFCFS, FCFS]\n")


def _table(tmp_path: Path, out: str, **kw) -> bytes:
    grid = load_grid(dram_grid(tmp_path, TWO_AXES), out=tmp_path / out)
    report = run_sweep(grid, progress=False, **kw)
    assert len(report.ran) == 4 and not report.failed
    return (tmp_path / out / "results.csv").read_bytes()


def test_point_values_equal_dram_replay_cli(tmp_path, capsys):
    grid = load_grid(dram_grid(tmp_path, TWO_AXES), out=tmp_path / "o")
    run_sweep(grid, workers=1, progress=False)
    store = SweepStore(grid)
    for point in grid.points:
        cfg = tmp_path / f"{point.id}.json"  # YAML is a superset of JSON
        cfg.write_text(json.dumps(point.config))
        assert main(["dram", "replay", "--config", str(cfg), "--json"]) == 0
        direct = json.loads(capsys.readouterr().out)
        values = store.load_result(point)["values"]
        for key in ("cycles", "drain_cycles", "reads", "writes", "row_hits", "row_conflicts",
                    "avg_read_latency_cycles", "bandwidth_gbps"):
            assert values[key] == direct[key], key
        assert values["commands.ACT"] == direct["commands"]["ACT"]
    # the axes changed the result (the sweep is not replaying one config four times)
    assert len({store.load_result(p)["values"]["cycles"] for p in grid.points}) == 4


def test_serial_and_local_processes_give_identical_tables(tmp_path):
    serial = _table(tmp_path, "serial", workers=1)
    procs = _table(tmp_path, "procs", workers=2)
    assert serial == procs
    lines = serial.decode().splitlines()
    assert len(lines) == 5 and lines[0].startswith(
        "point_id,MemorySystem.DRAM.timing.nFAW,MemorySystem.Controller.Scheduler.impl,")


def test_two_axis_sweep_on_dask_local_cluster_is_identical_to_serial(tmp_path):
    distributed = pytest.importorskip(
        "distributed", reason="dask.distributed not installed (pip install 'hermes-hw[dask]')")
    serial = _table(tmp_path, "serial", workers=1)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        assert len(client.scheduler_info()["workers"]) == 2
        on_dask = _table(tmp_path, "dask", scheduler=client)
        # the CLI path: --scheduler with the cluster's address
        grid = dram_grid(tmp_path, TWO_AXES)
        assert main(["sweep", str(grid), "--out", str(tmp_path / "dask-cli"), "--scheduler",
                     cluster.scheduler_address, "--no-progress"]) == 0
    assert serial == on_dask == (tmp_path / "dask-cli" / "results.csv").read_bytes()


def test_unreachable_scheduler_is_a_clear_error(tmp_path, capsys):
    pytest.importorskip("distributed", reason="dask.distributed not installed")
    grid = dram_grid(tmp_path, TWO_AXES)
    rc = main(["sweep", str(grid), "--scheduler", "tcp://127.0.0.1:9", "--no-progress",
               "--connect-timeout", "1"])
    assert rc == 2
    assert "cannot connect to the Dask scheduler" in capsys.readouterr().err


KILL_SCRIPT = """
import sys
sys.path.insert(0, {helpers!r})
import _sweep_helpers  # registers 'test-arith'
from hermes_hw.cli.main import main
sys.exit(main(["sweep", {grid!r}, "--workers", "1", "--no-progress"]))
"""


def test_killed_sweep_resumes_with_only_the_missing_points(tmp_path, monkeypatch):
    grid_path = write_grid(tmp_path / "g.yaml", (
        "runner: test-arith\nset: {sleep_s: 0.15}\naxes:\n  x: [1, 2, 3, 4]\n  y: [5, 6, 7]\n"))
    grid = load_grid(grid_path)
    store = SweepStore(grid)
    script = KILL_SCRIPT.format(helpers=str(Path(__file__).parent), grid=str(grid_path))
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while sum(store.is_finished(p) for p in grid.points) < 3:
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.monotonic() < deadline
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    finished = {p.id for p in grid.points if store.is_finished(p)}
    assert 3 <= len(finished) < 12
    # a result file caught half-written by a crash is a temporary file, never result.json
    missing = [p for p in grid.points if p.id not in finished]
    (store.point_dir(missing[0]) / ".result.json.abc.tmp").parent.mkdir(parents=True,
                                                                      exist_ok=True)
    (store.point_dir(missing[0]) / ".result.json.abc.tmp").write_text('{"values": {"pro')

    log = tmp_path / "calls.txt"
    monkeypatch.setenv("HERMES_TEST_CALL_LOG", str(log))
    report = run_sweep(grid, workers=1, progress=False)
    ran = log.read_text().splitlines()
    assert sorted(ran) == sorted(f"{p.axes['x']},{p.axes['y']}" for p in missing)
    assert report.skipped == len(finished) and len(report.ran) == len(missing)
    # the resumed table equals a clean run's, and holds the hand-computed values
    clean = load_grid(grid_path, out=tmp_path / "clean")
    run_sweep(clean, workers=1, progress=False)
    resumed = (grid.out / "results.csv").read_bytes()
    assert resumed == (tmp_path / "clean" / "results.csv").read_bytes()
    rows = [r.split(",") for r in resumed.decode().splitlines()]
    assert rows[0] == ["point_id", "x", "y", "product", "sum"]
    assert [(int(r[1]), int(r[2]), int(r[3]), int(r[4])) for r in rows[1:]] == [
        (x, y, x * y, x + y) for x in (1, 2, 3, 4) for y in (5, 6, 7)]

    # everything finished: a second run does nothing
    log.write_text("")
    again = run_sweep(grid, workers=1, progress=False)
    assert again.ran == [] and again.skipped == 12 and log.read_text() == ""


def test_rerun_one_point_by_id(tmp_path, monkeypatch):
    grid = load_grid(write_grid(tmp_path / "g.yaml", "runner: test-arith\naxes: {x: [1, 2, 3]}\n"))
    run_sweep(grid, workers=1, progress=False)
    log = tmp_path / "calls.txt"
    monkeypatch.setenv("HERMES_TEST_CALL_LOG", str(log))
    target = grid.points[1]
    report = run_sweep(grid, workers=1, progress=False, rerun=[target.id[:6]])
    assert report.ran == [target.id] and report.skipped == 2
    assert log.read_text() == "2,1\n"


def test_failed_point_is_reported_and_not_in_the_table(tmp_path, capsys):
    path = write_grid(tmp_path / "g.yaml", "runner: test-arith\naxes: {x: [-1, 2]}\n")
    rc = main(["sweep", str(path), "--workers", "1", "--no-progress"])
    out = capsys.readouterr().out
    assert rc == 1 and "1 failed" in out and "RuntimeError: negative x" in out
    grid = load_grid(path)
    bad, good = grid.points
    assert "negative x" in (grid.out / "points" / bad.id / "error.txt").read_text()
    assert not (grid.out / "points" / bad.id / "result.json").exists()
    table = (grid.out / "results.csv").read_text().splitlines()
    assert table == ["point_id,x,product,sum", f"{good.id},2,2,3"]


def test_list_shows_ids_and_state(tmp_path, capsys):
    path = write_grid(tmp_path / "g.yaml", "runner: test-arith\naxes: {x: [1, 2]}\n")
    grid = load_grid(path)
    run_sweep(grid, workers=1, progress=False, rerun=())
    SweepStore(grid).forget(grid.points[0])
    assert main(["sweep", str(path), "--list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["point_id"], r["finished"], r["x"]) for r in rows] == [
        (grid.points[0].id, False, 1), (grid.points[1].id, True, 2)]
