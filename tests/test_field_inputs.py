"""Bad input ends bounded, with one line and the documented exit status, before anything starts.

Every case runs the command as a user would (a real process, a clean environment) and asserts its exit
status, a single line on stderr, no traceback, and a time bound. Cases that must not reach the target aim
at a loopback listener that counts connections, or check that no embedded target was started.
"""

from __future__ import annotations

import copy
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from vpsconform.cleanup import resume_cleanup
from vpsconform.interrupts import Interrupted, Interrupts
from vpsconform.ledger import Ledger
from vpsconform.reference.server import RunningTarget
from vpsconform.reporting.schema import shape_error
from vpsconform.runstart import RunStart

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures" / "report_samples"
BOUND = 90  # seconds: the bound on every hostile case


def command(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> tuple[Any, float]:
    """Run ``python -m <args>`` in a clean environment; returns the finished process and its wall time."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("VPSCONFORM_")}
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", *args],
        capture_output=True,
        text=True,
        timeout=BOUND,
        env={**base, **(env or {})},
        cwd=cwd,
        check=False,
    )
    return done, time.monotonic() - started


def assert_one_line(done: Any, seconds: float, code: int, fragment: str, prefix: str) -> None:
    """Exit ``code``, one stderr line starting with ``prefix`` and naming ``fragment``, no traceback."""
    assert done.returncode == code, done.stdout[-2000:] + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(prefix) and fragment in lines[0], done.stderr
    assert seconds < BOUND


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A loopback port that accepts connections and answers nothing: any connection is a request sent."""
    sock = socket.create_server(("127.0.0.1", 0))
    sock.settimeout(0)
    yield sock
    sock.close()


def connections(sock: socket.socket) -> int:
    """How many connections reached the listener."""
    count = 0
    while True:
        try:
            sock.accept()[0].close()
        except BlockingIOError:
            return count
        count += 1


def _file(tmp: Path) -> Path:
    (tmp / "a-file").write_text("x")
    return tmp / "a-file"


def _reused(tmp: Path, name: str) -> Path:
    (tmp / "old").mkdir(exist_ok=True)
    (tmp / "old" / name).write_text("{}\n")
    return tmp / "old"


REPORT_DIRS = {
    "a file": (_file, "is a file"),
    "under a file": (lambda tmp: _file(tmp) / "sub", "cannot be written"),
    "under /proc": (lambda tmp: Path("/proc/vpsconform-reports"), "cannot be written"),
    "holding a report": (lambda tmp: _reused(tmp, "report.json"), "already holds a run (report.json)"),
    "holding a ledger": (lambda tmp: _reused(tmp, "ledger.jsonl"), "already holds a run (ledger.jsonl)"),
}
BAD_TARGETS = [
    ("http://[::1", "not a valid URL"),
    ("http://127.0.0.1:abc", "not a valid URL"),
    ("http://127.0.0.1:99999", "not a valid URL"),
    ("127.0.0.1:8000", "http(s) URL with a host"),
    ("ftp://127.0.0.1/", "http(s) URL with a host"),
    ("http://", "http(s) URL with a host"),
    ("http://:8000", "http(s) URL with a host"),
    ("http://127.0.0.1:0", "invalid host or port"),
    ("http://exa mple.test", "invalid host or port"),
    ("http://user:hunter2@127.0.0.1", "must not carry credentials"),
]
EMBEDDED_OPTIONS = [
    (["--time-scale", "-1"], "--time-scale must be > 0"),
    (["--time-scale", "abc"], "--time-scale takes a number"),
    (["--time-scale", "1"], "cannot be changed for the embedded target"),
    (["--server-id", "abc"], "positive integers"),
    (["--jobs", "0"], "--jobs takes an integer >= 1"),
    (["--max-rps", "-1"], "--max-rps must be >= 0"),
    (["--probe-write", "w 'open {server_id} {marker}", "--probe-read", "r {server_id}"], "command line"),
    (["--probe-read", "r {server_id}"], "go together"),
    (["--probe-write", "w {server_id}", "--probe-read", "r {server_id}"], "{marker}"),
    (["--fault", "no-such-fault"], "unknown faults"),
]


@pytest.mark.parametrize(("url", "fragment"), BAD_TARGETS)
def test_a_malformed_target_is_one_line_exit_2(tmp_path: Path, url: str, fragment: str) -> None:
    done, seconds = command("vpsconform", "run", "--target", url, "--token", "t0ken", "--server-id", "1")
    assert_one_line(done, seconds, 2, fragment, "vpsconform: error: --target ")
    assert "hunter2" not in done.stderr


@pytest.mark.parametrize("case", list(REPORT_DIRS))
def test_a_bad_report_dir_is_one_line_exit_2_before_any_request(
    tmp_path: Path, listener: socket.socket, case: str
) -> None:
    make, fragment = REPORT_DIRS[case]
    target = f"http://127.0.0.1:{listener.getsockname()[1]}"
    args = ["--target", target, "--token", "t0ken", "--server-id", "1", "--report-dir", str(make(tmp_path))]
    done, seconds = command("vpsconform", "run", *args)
    assert_one_line(done, seconds, 2, fragment, "vpsconform: error: --report-dir ")
    assert connections(listener) == 0
    if "holding" in case:
        assert "vpsconform cleanup --report-dir" in done.stderr  # the hint for a killed run's folder


@pytest.mark.parametrize(("args", "fragment"), EMBEDDED_OPTIONS)
def test_options_for_the_embedded_target_are_checked_before_it_starts(
    tmp_path: Path, args: list[str], fragment: str
) -> None:
    done, seconds = command("vpsconform", "run", *args, "--report-dir", str(tmp_path / "r"))
    assert_one_line(done, seconds, 2, fragment, "vpsconform: error: ")
    assert "embedded reference target" not in done.stdout


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--time-scale", "abc"], "--time-scale takes a number"),
        (["--time-scale", "1"], "cannot be changed"),
        (["--server-id", "abc"], "positive integers"),
        (["--target", "http://[::1", "--token", "t", "--server-id", "1"], "not a valid URL"),
        (["--report-dir", "{file}"], "is a file"),
    ],
)
def test_plain_pytest_refuses_bad_values_as_a_usage_error(
    tmp_path: Path, args: list[str], fragment: str
) -> None:
    args = [arg.replace("{file}", str(_file(tmp_path))) for arg in args]
    done, seconds = command("pytest", "-p", "no:cacheprovider", str(ROOT / "suites"), *args, cwd=tmp_path)
    assert_one_line(done, seconds, 4, fragment, "ERROR: vpsconform: ")


def test_jobs_beyond_the_servers_and_no_rate_cap_are_said_on_the_console(listener: socket.socket) -> None:
    target = f"http://127.0.0.1:{listener.getsockname()[1]}"
    args = ["--target", target, "--token", "t0ken", "--server-id", "1", "--jobs", "99", "--max-rps", "0"]
    args += ["--request-timeout", "1"]
    done, _ = command("vpsconform", "run", *args)
    assert "--jobs 99 capped to 1: each scenario runs on a server of its own" in done.stdout
    assert "--max-rps 0: no request rate cap" in done.stdout
    assert done.returncode in (2, 3) and "Traceback" not in done.stderr  # the listener never answers


# report and compare -------------------------------------------------------------------------------------


def _shapes() -> dict[str, tuple[Any, str]]:
    good = json.loads((FIXTURES / "conformant" / "report.json").read_text(encoding="utf-8"))
    wrong_verdict = copy.deepcopy(good)
    wrong_verdict["requirements"][3]["verdict"] = "maybe"
    wrong_id = copy.deepcopy(good)
    wrong_id["requirements"][0]["id"] = 5
    without = {key: value for key, value in good.items() if key != "requirements"}
    older = {key: value for key, value in good.items() if key != "schema_version"}
    return {
        "a list": ([1, 2], "a JSON array, not an object"),
        "a string": ("text", "a JSON string, not an object"),
        "not JSON": (None, "cannot read"),
        "an older schema": (older, "has no schema_version"),
        "another version": ({**good, "schema_version": 2}, "has schema_version 2"),
        "a missing key": (without, "'requirements' is a required property"),
        "a target string": ({**good, "target": "x"}, "target: 'x' is not of type 'object'"),
        "a summary list": ({**good, "summary": []}, "summary: [] is not of type 'object'"),
        "a bad verdict": (wrong_verdict, "requirements[3].verdict: 'maybe' is not one of"),
        "an id number": (wrong_id, "requirements[0].id: 5 is not of type 'string'"),
    }


@pytest.mark.parametrize("shape", list(_shapes()))
@pytest.mark.parametrize("verb", ["report", "compare"])
def test_report_and_compare_refuse_another_shape_in_one_line(tmp_path: Path, verb: str, shape: str) -> None:
    content, fragment = _shapes()[shape]
    (tmp_path / "bad").mkdir()
    text = "{not json" if content is None else json.dumps(content)
    (tmp_path / "bad" / "report.json").write_text(text, encoding="utf-8")
    args = [str(tmp_path / "bad")]
    if verb == "compare":
        args = [str(FIXTURES / "conformant"), *args, "--out", str(tmp_path / "out")]
    done, seconds = command("vpsconform", verb, *args)
    assert_one_line(done, seconds, 2, fragment, "vpsconform: error: ")


def test_every_report_a_run_writes_has_the_shape_report_and_compare_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("conformant", "nonconformant"):
        assert shape_error(json.loads((FIXTURES / name / "report.json").read_text(encoding="utf-8"))) is None
    monkeypatch.chdir(tmp_path)  # no config file of the project's
    start = RunStart({"report_dir": str(tmp_path / "r")})
    start.check()
    assert start.interrupted() == 130  # the report of a run stopped before its tests
    report = json.loads((tmp_path / "r" / "report.json").read_text(encoding="utf-8"))
    assert shape_error(report) is None and report["schema_version"] == 1
    assert report["verdict"] == "error" and report["scope"]["judged"] == 0


# a reused report folder: cleanup sweeps every run its ledger holds ---------------------------------------


def test_cleanup_sweeps_every_run_a_ledger_holds(start_reference_target, tmp_path: Path) -> None:
    target: RunningTarget = start_reference_target(time_scale=0.002)
    main = target.account("main")
    journal = tmp_path / "ledger.jsonl"
    api = httpx.Client(base_url=target.url, headers={"Authorization": f"Bearer {main.token}"}, timeout=10)
    for number, server in enumerate(main.server_ids[:2]):
        prefix = f"vpsc-run{number}-"
        header = {
            "target": target.url,
            "prefix": prefix,
            "servers": {"main": [server], "foreign": []},
            "token_env": {"main": "TEST_TOKEN", "foreign": None},
            "time_scale": 0.002,
            "max_rps": 0,
        }
        ledger = Ledger(journal, header=header)  # a second run appended to the same ledger
        created = api.post("/api/v1/snapshots/", json={"server_id": server, "name": prefix + "a"}).json()
        ledger.created("main", created["id"], server)
        api.post("/api/v1/snapshots/", json={"server_id": server, "name": prefix + "unledgered"})
    assert target.stats()["held_by_api"] == 4
    assert resume_cleanup(journal, env={"TEST_TOKEN": main.token}).left == 0
    assert target.stats()["held_by_api"] == 0
    assert [len(ledger.alive()) for _, ledger in Ledger.runs(journal)] == [0, 0]  # its deletes are theirs
    api.close()


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ('{"event": "run", "prefix": "vpsc-x-"}\n', "without its target and servers"),
        ("[1]\n", "not a ledger line"),
        ('{"event": "created", "snapshot_id": 1, "account": "main"}\n', "no run header"),
        (None, "Is a directory"),
    ],
)
def test_cleanup_refuses_a_broken_ledger_in_one_line(
    tmp_path: Path, content: str | None, fragment: str
) -> None:
    if content is None:
        (tmp_path / "ledger.jsonl").mkdir()
    else:
        (tmp_path / "ledger.jsonl").write_text(content)
    done, seconds = command("vpsconform", "cleanup", "--report-dir", str(tmp_path))
    assert_one_line(done, seconds, 2, fragment, "vpsconform: error: ")


def test_selftest_refuses_a_folder_holding_an_earlier_selftest(tmp_path: Path) -> None:
    (tmp_path / "fault-x").mkdir()
    (tmp_path / "fault-x" / "ledger.jsonl").write_text("{}\n")
    done, seconds = command("vpsconform", "selftest", "--only", "faithful", "--report-dir", str(tmp_path))
    assert_one_line(done, seconds, 2, "already holds selftest runs (fault-x)", "vpsconform: error: ")


# signals (end to end in test_interrupt.py) --------------------------------------------------------------


def test_the_signal_handler_decides_by_how_far_the_run_got() -> None:
    notes: list[str] = []
    held = Interrupts()
    held.note = notes.append
    with held.held():  # plain pytest's cleanup: the run never "started", and the cleanup must finish
        held.handle(signal.SIGINT, None)
        held.handle(signal.SIGINT, None)
    assert held.reason == "interrupted by SIGINT" and len(notes) == 2
    early = Interrupts()
    early.handle(signal.SIGTERM, None)  # before the report folder exists: acted on once it does
    with pytest.raises(Interrupted):
        early.start()
    assert early.exit_code == 143
    again = Interrupts()
    again.note = notes.append
    again.handle(signal.SIGINT, None)
    with pytest.raises(SystemExit) as ended:  # a second one before the start ends the command at once
        again.handle(signal.SIGINT, None)
    assert ended.value.code == 130


# serve prints a run line that works ---------------------------------------------------------------------


@pytest.mark.slow
def test_serve_prints_a_run_line_with_its_clock_that_works_as_pasted(tmp_path: Path) -> None:
    base = {k: v for k, v in os.environ.items() if not k.startswith("VPSCONFORM_")}
    serve = subprocess.Popen(
        [sys.executable, "-m", "vpsconform", "serve", "--time-scale", "0.005"],
        stdout=subprocess.PIPE,
        text=True,
        env=base,
    )
    try:
        assert serve.stdout is not None
        lines = [serve.stdout.readline()]
        while not lines[-1].strip().startswith("vpsconform run ") and len(lines) < 60:
            lines.append(serve.stdout.readline())
        exports = next(line for line in lines if line.strip().startswith("export "))
        run_line = lines[-1]
        assert "--time-scale 0.005" in run_line and "TOKEN" not in run_line
        env = dict(word.split("=", 1) for word in shlex.split(exports)[1:])
        args = [*shlex.split(run_line)[1:], "--select", "auth", "--report-dir", str(tmp_path / "r")]
        done, _ = command("vpsconform", *args, env=env)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr
    finally:
        serve.terminate()
        serve.wait(timeout=30)
