"""A run that is interrupted cleans up and reports; a run killed outright is finished by `vpsconform cleanup`.

Each test runs `vpsconform run` as a real process against a reference target on loopback and checks the
target afterwards: it must hold none of the run's snapshots (the target counts what its API created).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from vpsconform.reference.server import RunningTarget

pytestmark = pytest.mark.slow


def _start_run(target: RunningTarget, report_dir: Path) -> subprocess.Popen[str]:
    main, foreign = target.account("main"), target.account("foreign")
    env = os.environ | {"VPSCONFORM_TOKEN": main.token, "VPSCONFORM_FOREIGN_TOKEN": foreign.token}
    args = [sys.executable, "-m", "vpsconform", "run", "--target", target.url, "--time-scale", "0.02"]
    args += [w for sid in main.server_ids[:3] for w in ("--server-id", str(sid))]
    args += ["--foreign-server-id", str(foreign.server_ids[0]), "--max-rps", "0", "--seed", "4"]
    args += ["--report-dir", str(report_dir)]
    # Its own session, so a kill can take the whole run (the controller and its parallel workers: the
    # default against a target) as a CI runner does.
    return subprocess.Popen(
        args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )


def _wait_for_snapshots(target: RunningTarget, run: subprocess.Popen[str]) -> None:
    """Wait until the run holds snapshots on the target (so an interrupt has something to clean up)."""
    deadline = time.monotonic() + 60
    while target.stats()["held_by_api"] == 0:
        assert run.poll() is None, run.stdout.read() if run.stdout else ""
        assert time.monotonic() < deadline, "the run created no snapshot within 60 s"
        time.sleep(0.05)


def _kill_while_holding_snapshots(target: RunningTarget, run: subprocess.Popen[str]) -> None:
    """Kill the run at a moment it holds snapshots on the target.

    The run deletes what it creates within moments, so a kill aimed at "holds some now" can land after the
    last of them was deleted. Freezing the run first (SIGSTOP) lets its in-flight requests settle; only
    if it still holds snapshots is it killed, otherwise it is resumed and the wait repeats.
    """
    for _ in range(20):
        _wait_for_snapshots(target, run)
        os.killpg(run.pid, signal.SIGSTOP)
        time.sleep(0.3)
        if target.stats()["held_by_api"] > 0:
            os.killpg(run.pid, signal.SIGKILL)
            run.communicate(timeout=30)
            return
        os.killpg(run.pid, signal.SIGCONT)
    pytest.fail("the run never held a snapshot at the moment it was frozen")


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_interrupted_run_cleans_up_and_reports(start_reference_target, tmp_path, sig, code) -> None:
    target = start_reference_target(time_scale=0.02)
    run = _start_run(target, tmp_path)
    _wait_for_snapshots(target, run)
    run.send_signal(sig)
    output, _ = run.communicate(timeout=120)
    assert run.returncode == code, output
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["verdict"] == "error"
    assert report["interrupted"] == f"interrupted by {sig.name}"
    assert report["cleanup"]["left"] == 0
    stats = target.stats()
    assert stats["held_by_api"] == 0
    assert stats["foreign_restores"] == stats["foreign_deletes"] == 0


def test_killed_run_is_finished_by_cleanup(start_reference_target, tmp_path) -> None:
    target = start_reference_target(time_scale=0.02)
    run = _start_run(target, tmp_path)
    _kill_while_holding_snapshots(target, run)
    assert target.stats()["held_by_api"] > 0
    env = os.environ | {
        "VPSCONFORM_TOKEN": target.account("main").token,
        "VPSCONFORM_FOREIGN_TOKEN": target.account("foreign").token,
    }
    command = [sys.executable, "-m", "vpsconform", "cleanup", "--report-dir", str(tmp_path)]
    first = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert first.returncode == 0, first.stdout + first.stderr
    assert target.stats()["held_by_api"] == 0
    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert again.returncode == 0 and "left 0" in again.stdout
    assert target.stats()["foreign_deletes"] == 0
    assert target.account("main").token not in first.stdout + first.stderr


def test_cleanup_without_a_ledger_is_a_one_line_error(tmp_path) -> None:
    command = [sys.executable, "-m", "vpsconform", "cleanup", "--report-dir", str(tmp_path)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr


def _signal_at(run: subprocess.Popen[str], moment: float | str, sig: signal.Signals) -> None:
    """Send ``sig`` after ``moment`` seconds, or once the first test has printed its line ("tests"), or
    then and again while the run cleans up ("cleanup": the second signal must not cut the cleanup short)."""
    if isinstance(moment, float):
        time.sleep(moment)
        run.send_signal(sig)
        return
    assert run.stdout is not None
    for line in run.stdout:
        if "test_" in line:  # a test's line (whatever its mark or time stamp)
            break
    else:
        pytest.fail("the run ended before any test printed its line")
    run.send_signal(sig)
    if moment == "cleanup":
        time.sleep(0.3)
        run.send_signal(sig)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
@pytest.mark.parametrize("moment", [0.0, 0.5, 2.0, "tests", "cleanup"])
def test_a_signal_at_any_moment_ends_130_or_143_with_a_report(
    tmp_path: Path, moment: float | str, sig: signal.Signals
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VPSCONFORM_")}
    args = [sys.executable, "-m", "vpsconform", "run", "--report-dir", str(tmp_path / "r"), "--seed", "5"]
    started = time.monotonic()
    run = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _signal_at(run, moment, sig)
    output, errors = run.communicate(timeout=90)
    assert time.monotonic() - started < 90
    assert "Aborted" not in output + errors and run.returncode != 1, output[-2000:] + errors
    if run.returncode == -sig:  # it came inside the interpreter's own start, before any of our code ran
        assert moment == 0.0
        return
    assert run.returncode == {signal.SIGINT: 130, signal.SIGTERM: 143}[sig], output[-2000:] + errors
    assert "Traceback" not in output + errors
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    assert report["verdict"] == "error" and report["interrupted"].startswith(f"interrupted by {sig.name}")
    assert report["cleanup"]["left"] == 0
