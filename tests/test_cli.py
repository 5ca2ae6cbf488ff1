"""The `vpsconform` command: option handling, error paths and exit statuses, and no token in any output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from vpsconform.reference.server import RunningTarget


def vpsconform(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess:
    """Run the CLI as a user would, in a clean environment (no VPSCONFORM_* leaking in from the caller)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("VPSCONFORM_")}
    return subprocess.run(
        [sys.executable, "-m", "vpsconform", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**base, **(env or {})},
        check=False,
    )


def remote_args(target: RunningTarget, account: str = "main") -> list[str]:
    """Flags aiming the CLI at a running reference target, as at any remote target."""
    acct = target.account(account)
    return [
        "--target",
        target.url,
        "--token",
        acct.token,
        *[a for s in acct.server_ids for a in ("--server-id", str(s))],
    ]


#: What runs against a loopback reference target add: parallel workers (the default against a target) would
#: cost start-up and CPU there and buy nothing; test_parallel.py and test_interrupt.py run the default.
SERIAL = ("--jobs", "1")


def assert_one_line_error(done: subprocess.CompletedProcess, code: int, fragment: str) -> None:
    assert done.returncode == code, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("vpsconform: error: ") and fragment in lines[0], (
        done.stderr
    )


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--target", "ftp://example.test", "--token", "t", "--server-id", "1"], "http(s) URL"),
        (["--target", "http://127.0.0.1:9", "--token", "t"], "--server-id"),
        (["--target", "http://127.0.0.1:9", "--server-id", "1"], "--token"),
        (["--target", "http://127.0.0.1:9", "--token", "t", "--server-id", "x"], "positive integers"),
        (
            ["--target", "http://127.0.0.1:9", "--token", "t", "--server-id", "1", "--time-scale", "soon"],
            "number",
        ),
        (
            ["--target", "http://127.0.0.1:9", "--token", "t", "--server-id", "1", "--profile", "max"],
            "--profile",
        ),
        (
            ["--target", "http://127.0.0.1:9", "--token", "t", "--server-id", "1", "--fault", "x"],
            "embedded target only",
        ),
        (["--fault", "no-such-fault"], "unknown faults"),
        (["--time-scale", "1"], "cannot be changed"),
    ],
)
def test_bad_options_exit_2_with_one_line(args: list[str], fragment: str) -> None:
    assert_one_line_error(vpsconform("run", *args), 2, fragment)


def test_environment_variables_are_read() -> None:
    done = vpsconform(
        "run",
        env={
            "VPSCONFORM_TARGET": "http://127.0.0.1:9",
            "VPSCONFORM_TOKEN": "t",
            "VPSCONFORM_SERVER_IDS": "1,2",
            "VPSCONFORM_PROFILE": "nope",
        },
    )
    assert_one_line_error(done, 2, "--profile")


def test_unreachable_target_exits_3() -> None:
    done = vpsconform("run", "--target", "http://127.0.0.1:9", "--token", "t", "--server-id", "1")
    assert_one_line_error(done, 3, "target unreachable")


def test_rejected_token_exits_2(reference_target: RunningTarget) -> None:
    args = remote_args(reference_target)
    args[args.index("--token") + 1] = "not-the-token"
    assert_one_line_error(vpsconform("run", *args), 2, "401")


def test_failing_probe_exits_2(reference_target: RunningTarget) -> None:
    probe = [
        f"--probe-write={sys.executable} -c 'raise SystemExit(4)' {{server_id}} {{marker}}",
        f"--probe-read={sys.executable} -c 'raise SystemExit(4)' {{server_id}}",
    ]
    done = vpsconform("run", *remote_args(reference_target), *probe)
    assert_one_line_error(done, 2, "--probe-read does not work")


@pytest.mark.slow
def test_select_that_matches_nothing_exits_2(reference_target: RunningTarget, tmp_path: Path) -> None:
    done = vpsconform(
        "run",
        *remote_args(reference_target),
        *SERIAL,
        "--select",
        "no_such_test",
        "--report-dir",
        str(tmp_path),
    )
    assert_one_line_error(done, 2, "no test matched")


@pytest.mark.slow
def test_remote_run_writes_reports_without_the_token(reference_target: RunningTarget, tmp_path: Path) -> None:
    foreign = reference_target.account("foreign")
    args = [
        *remote_args(reference_target),
        "--foreign-token",
        foreign.token,
        "--time-scale",
        "0.01",
        "--select",
        "auth",
        "--report-dir",
        str(tmp_path),
        "--seed",
        "7",
    ]
    done = vpsconform(*["run", *args, *SERIAL])
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["verdict"] == "conformant"
    verdicts = {r["id"]: r["verdict"] for r in report["requirements"]}
    assert verdicts["AUTH-01"] == "pass" and verdicts["AUTH-04"] == "pass"
    assert verdicts["DATA-01"] == "skip"
    assert report["target"]["time_scale"] == 0.01 and report["target"]["seed"] == 7
    assert (tmp_path / "junit.xml").is_file()
    secrets = [reference_target.account("main").token, foreign.token]
    for path in tmp_path.rglob("*"):
        if path.is_file():
            text = path.read_text(errors="replace")
            assert not any(secret in text for secret in secrets), path
    assert not any(secret in done.stdout + done.stderr for secret in secrets)


@pytest.mark.slow
def test_default_run_is_conformant_and_complete(tmp_path: Path) -> None:
    """The README's main job: every catalog requirement gets a verdict, none fails, in well under 60 s."""
    done = vpsconform("run", "--report-dir", str(tmp_path), "--seed", "3")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["verdict"] == "conformant"
    verdicts = {r["id"]: r["verdict"] for r in report["requirements"]}
    from vpsconform.catalog import load_requirements

    assert set(verdicts) == set(load_requirements())
    assert {v for v in verdicts.values()} <= {"pass", "warn"}, {
        k: v for k, v in verdicts.items() if v != "pass"
    }
    assert report["cleanup"]["left"] == 0 and report["cleanup"]["created"] == report["cleanup"]["deleted"] > 0
    assert report["duration_s"] < 60
    assert "verdict: conformant" in done.stdout


@pytest.mark.slow
def test_pytest_and_the_cli_reach_the_same_verdicts(reference_target: RunningTarget, tmp_path: Path) -> None:
    """`pytest suites/` with the same options is the same run as `vpsconform run`."""
    foreign = reference_target.account("foreign")
    common = [
        *remote_args(reference_target),
        "--foreign-token",
        foreign.token,
        *[a for s in foreign.server_ids for a in ("--foreign-server-id", str(s))],
        "--time-scale",
        "0.01",
        "--seed",
        "11",
        "--probe-write",
        reference_target.probe_write_command,
        "--probe-read",
        reference_target.probe_read_command,
    ]
    cli = vpsconform(
        "run",
        *common,
        *SERIAL,
        "--select",
        "auth or validation or tenant",
        "--report-dir",
        str(tmp_path / "cli"),
    )
    assert cli.returncode == 0, cli.stdout[-2000:] + cli.stderr
    suites = Path(__file__).resolve().parents[1] / "suites"
    base = {k: v for k, v in os.environ.items() if not k.startswith("VPSCONFORM_")}
    direct = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            str(suites),
            "-p",
            "no:cacheprovider",
            "-q",
            *common,
            "-k",
            "auth or validation or tenant",
            "--report-dir",
            str(tmp_path / "pytest"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=base,
        check=False,
    )
    assert direct.returncode == 0, direct.stdout[-2000:] + direct.stderr
    verdicts = [
        {
            r["id"]: r["verdict"]
            for r in json.loads((tmp_path / run / "report.json").read_text())["requirements"]
        }
        for run in ("cli", "pytest")
    ]
    assert verdicts[0] == verdicts[1]
    assert verdicts[0]["TENANT-02"] == "pass" and verdicts[0]["VALID-03"] == "pass"
