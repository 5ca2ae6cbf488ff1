"""Field-grade operation against bad targets: each ends bounded, with one line naming the cause, the right
exit status, no traceback, and a report where a run started; plain progress for CI logs; a mock judged fast.

Every hostile target runs on loopback inside the test (tests/hostile.py, or the reference target).
"""

from __future__ import annotations

import io
import itertools
import json
import os
import re
import shutil
import socket
import subprocess
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from hostile import HTML, hostile_target, once_then_silent, status
from rich.console import Console
from test_cli import assert_one_line_error, remote_args, vpsconform

from vpsconform import progress
from vpsconform.catalog import load_requirements
from vpsconform.client import ApiClient
from vpsconform.errors import TargetSilent
from vpsconform.liveness import Liveness
from vpsconform.plugin.session import cut_short
from vpsconform.preflight import api_base, wrong_target
from vpsconform.ratelimit import RateLimiter
from vpsconform.redaction import Redactor
from vpsconform.reference.server import RunningTarget
from vpsconform.verdicts import RequirementResult, Verdict

STAMP = re.compile(r"^(\d\d):(\d\d):(\d\d)Z ")
#: The account token a hostile target is given (long enough that redacting it leaves messages readable).
TOKEN = "hostile-target-token"


def timed_run(*args: str, timeout: float = 200) -> tuple[object, float]:
    """`vpsconform run ARGS` (stdout not a terminal) and its wall time in seconds."""
    started = time.monotonic()
    done = vpsconform("run", *args, timeout=timeout)
    return done, time.monotonic() - started


def report_of(folder: Path) -> dict:
    return json.loads((folder / "report.json").read_text())


# Units ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("target", "base"),
    [
        ("http://127.0.0.1:8000/api/v1/snapshots/", "http://127.0.0.1:8000"),
        ("http://127.0.0.1:8000/api/v1/snapshots", "http://127.0.0.1:8000"),
        ("https://gw.example.test/vps/api/v1/snapshots/", "https://gw.example.test/vps"),
        ("https://gw.example.test/vps", "https://gw.example.test/vps"),
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
    ],
)
def test_api_base_strips_only_the_documented_path(target: str, base: str) -> None:
    assert api_base(target) == base


@pytest.mark.parametrize(
    ("response", "fragment"),
    [
        (
            httpx.Response(200, headers={"Content-Type": "text/html"}, content=b"<html></html>"),
            "text/html, not",
        ),
        (httpx.Response(302, headers={"Location": "https://sso.test/login"}), "redirect to https://sso.test"),
        (httpx.Response(403, json={"detail": "forbidden"}), "answered 403 to the configured --token"),
        (httpx.Response(404, text="not found"), "answered 404: is --target the API's base URL?"),
    ],
)
def test_wrong_target_names_the_cause(response: httpx.Response, fragment: str) -> None:
    assert fragment in (wrong_target(response) or "")


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(200, json={"count": 0, "results": []}),
        httpx.Response(200, headers={"Content-Type": "text/plain"}, content=b'{"count": 0, "results": []}'),
        httpx.Response(500, text="<html>oops</html>"),
        httpx.Response(400, json={"detail": "bad"}),
    ],
)
def test_an_api_answer_is_not_a_wrong_target(response: httpx.Response) -> None:
    """JSON served as text/plain is the API failing SCHEMA-04, and a 5xx is judged: neither stops a run."""
    assert wrong_target(response) is None


def test_a_silent_target_is_given_up_on_after_one_check() -> None:
    liveness = Liveness()
    with hostile_target(once_then_silent) as url:
        api = ApiClient(
            url,
            "t",
            redactor=Redactor({}),
            limiter=RateLimiter(0),
            timeout=0.5,
            observers=[],
            liveness=liveness,
        )
        assert api.list_snapshots().status_code == 200
        started = time.monotonic()
        with pytest.raises(TargetSilent, match="the target stopped answering"):
            api.list_snapshots()
        assert time.monotonic() - started < 10
        with pytest.raises(TargetSilent):  # from now on, at once
            api.create_snapshot(1, "vpsc-x-1")
        liveness.retry_once()  # the cleanup's one more try: still silent
        with pytest.raises(TargetSilent):
            api.list_snapshots()
        api.close()


def test_lost_requests_to_a_target_that_still_answers_are_not_silence() -> None:
    """A target that never answers some bodies but answers the check stays alive (Prism and invalid JSON)."""
    liveness = Liveness()
    for _ in range(10):
        if liveness.lost(time.monotonic(), "POST /api/v1/snapshots/"):
            liveness.answered(0.01)
    assert liveness.gone is None
    liveness.admit()


@pytest.mark.parametrize(
    ("tests", "verdict", "is_error"),
    [
        ([{"test": "t", "outcome": "failed"}], Verdict.FAIL, False),  # failures found before it stopped stand
        ([], Verdict.FAIL, True),  # stopped before any test (a 5xx on every list): error
        ([{"test": "t", "outcome": "passed"}], Verdict.PASS, True),  # nothing failed: error
    ],
)
def test_a_run_stopped_early_keeps_the_failures_its_tests_found(tests, verdict, is_error) -> None:
    catalog = load_requirements()
    must = next(r for r in catalog.values() if r.level == "MUST")
    state = SimpleNamespace(preset=None, stopped="the target stopped answering", tests=tests)
    results = [RequirementResult(must, verdict, "m", [], [])]
    expected = "the target stopped answering" if is_error else None
    assert cut_short(state, results, pytest.ExitCode.INTERRUPTED) == expected


def test_plain_progress_has_timestamps_and_a_heartbeat(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(progress, "HEARTBEAT", 0.5)
    out = io.StringIO()
    console = Console(file=out, width=60)
    shown = progress.make_progress("auto", console)  # a StringIO is not a terminal: plain
    with shown:
        shown.say("scope: judging 61 of 69 MUST requirements")
        shown.status("waiting up to 30.0 s for snapshot 7 to complete")
        time.sleep(2.5)
        shown.test("suites/test_x.py::test_y", "inconclusive", ["LIMIT-01"])
    lines = out.getvalue().splitlines()
    assert all(STAMP.match(line) for line in lines), lines
    assert lines[0].endswith("scope: judging 61 of 69 MUST requirements")
    assert any("... waiting up to 30.0 s for snapshot 7 to complete (" in line for line in lines)
    assert lines[-1].split()[1:3] == ["inconclusive", "test_y"]


# Hostile targets, end to end ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("answer", "fragment"),
    [
        (
            lambda n: HTML,
            "GET /api/v1/snapshots/ answered text/html, not JSON: is --target the API's base URL?",
        ),
        (status(403), "GET /api/v1/snapshots/ answered 403 to the configured --token"),
    ],
    ids=["html", "403"],
)
def test_a_target_that_is_not_the_api_is_named_before_the_run(answer, fragment, tmp_path: Path) -> None:
    with hostile_target(answer) as url:
        done, seconds = timed_run(
            "--target", url, "--token", TOKEN, "--server-id", "1", "--report-dir", str(tmp_path)
        )
    assert_one_line_error(done, 3, fragment)
    assert seconds < 30
    assert not (tmp_path / "report.json").exists()  # refused before a run started


@pytest.mark.slow
def test_server_errors_to_everything_stop_the_run_with_a_report(tmp_path: Path) -> None:
    with hostile_target(status(500)) as url:
        done, seconds = timed_run(
            "--target", url, "--token", TOKEN, "--server-id", "1", "--report-dir", str(tmp_path)
        )
    assert_one_line_error(done, 3, "GET /api/v1/snapshots/ answered 500, 500, 500")
    assert seconds < 90
    report = report_of(tmp_path)
    assert report["verdict"] == "error" and "answered 500" in report["stopped"]
    verdicts = {r["id"]: r["verdict"] for r in report["requirements"]}
    assert verdicts["ROBUST-01"] == "fail"  # every 5xx is still a finding
    assert report["tests"] == []


@pytest.mark.slow
def test_a_target_that_stops_answering_is_given_up_on_within_90_s(tmp_path: Path) -> None:
    """Answers the first request, then never again: each read would wait 30 s, three times over."""
    with hostile_target(once_then_silent) as url:
        done, seconds = timed_run(
            "--target", url, "--token", TOKEN, "--server-id", "1", "--report-dir", str(tmp_path)
        )
    assert_one_line_error(done, 3, "the target stopped answering")
    assert seconds < 90
    report = report_of(tmp_path)
    assert report["verdict"] == "error" and report["stopped"].startswith("the target stopped answering")
    assert report["cleanup"]["left"] is None and "stopped answering" in report["cleanup"]["left_unknown"]


@pytest.mark.slow
def test_target_given_with_the_api_path_means_its_base_url(reference_target: RunningTarget, tmp_path) -> None:
    args = remote_args(reference_target)
    args[1] = reference_target.url + "/api/v1/snapshots/"  # as `serve` prints the base path
    done, seconds = timed_run(
        *args, "--time-scale", "0.01", "--select", "auth", "--report-dir", str(tmp_path)
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    assert f"using its base URL {reference_target.url}" in done.stdout
    assert report_of(tmp_path)["target"]["target"] == reference_target.url
    assert seconds < 90


@pytest.mark.slow
def test_a_clock_mismatch_is_named(start_reference_target, tmp_path: Path) -> None:
    """`serve` on the production clock, `run --time-scale 0.01` against it: the first snapshot says so."""
    target = start_reference_target(time_scale=1)
    done, seconds = timed_run(*remote_args(target), "--time-scale", "0.01", "--report-dir", str(tmp_path))
    assert_one_line_error(done, 3, "the first snapshot was still in_progress after")
    assert "is --time-scale right?" in done.stderr
    assert seconds < 90
    report = report_of(tmp_path)
    assert report["verdict"] == "error" and report["cleanup"]["left"] == 0
    assert target.stats()["held_by_api"] == 0


@pytest.mark.slow
def test_tests_that_judged_nothing_are_shown_as_such(
    reference_target: RunningTarget, reference_client, tmp_path
):
    """With the only server full of someone else's snapshots, the create tests judge nothing: no ✓."""
    server_id = reference_target.account("main").server_ids[0]
    client = reference_client(reference_target)
    for index in range(5):
        created = client.post("/api/v1/snapshots/", json={"server_id": server_id, "name": f"theirs-{index}"})
        assert created.status_code == 201
    args = [*remote_args(reference_target)[:4], "--server-id", str(server_id)]
    done, _ = timed_run(*args, "--time-scale", "0.01", "--select", "create", "--report-dir", str(tmp_path))
    report = report_of(tmp_path)
    outcomes = {t["test"].split("::")[-1]: t["outcome"] for t in report["tests"]}
    assert outcomes["test_create_answers_201_with_the_new_snapshot"] == "inconclusive", outcomes
    assert re.search(r"Z inconclusive +test_create_answers_201_with_the_new_snapshot ", done.stdout)
    unjudged = {r["id"] for r in report["requirements"] if r["verdict"] in ("inconclusive", "skip")}
    cases = ET.parse(tmp_path / "junit.xml").getroot().iter("testcase")
    skipped = {case.get("name").split()[0] for case in cases if case.find("skipped") is not None}
    assert "CREATE-01" in unjudged and unjudged <= skipped


@pytest.mark.slow
def test_plain_output_on_a_slow_clock_states_the_scope_first_and_never_goes_quiet(
    start_reference_target, tmp_path: Path
) -> None:
    """A documented minute lasts 3 s: snapshots take 9-30 s; the log shows a line at least every 30 s."""
    target = start_reference_target(time_scale=0.05)
    args = [
        *remote_args(target),
        "--time-scale",
        "0.05",
        "--select",
        "test_snapshots_complete_in_time",
        "--report-dir",
        str(tmp_path),
    ]
    done, _ = timed_run(*args)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    stamped = [line for line in done.stdout.splitlines() if STAMP.match(line)]
    assert stamped[0].split(" ", 1)[1].startswith("target ")
    assert stamped[1].split(" ", 1)[1].startswith("scope: judging ")
    assert any(" test_snapshots_complete_in_time" in line for line in stamped[2:])
    seconds = [int(h) * 3600 + int(m) * 60 + int(s) for h, m, s in (STAMP.match(x).groups() for x in stamped)]
    gaps = [(b - a) % 86400 for a, b in itertools.pairwise(seconds)]
    assert max(gaps) <= 30, list(zip(gaps, stamped[1:], strict=False))
    assert any(line.split(" ", 1)[1].startswith("... ") for line in stamped)  # a wait long enough to need one


# A stateless mock: Stoplight Prism serving our own spec -----------------------------------------------------
PRISM = "@stoplight/prism-cli@5.16"


def prism_command(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Prism 5.16 installed with npm into a cache folder (once); skips the test when it cannot be."""
    cache = (
        Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "vpsconform-tests" / "prism-5.16"
    )
    binary = cache / "node_modules" / ".bin" / "prism"
    if binary.is_file():
        return binary
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip(f"npm is not installed, so {PRISM} cannot be")
    cache.mkdir(parents=True, exist_ok=True)
    command = [npm, "install", "--no-audit", "--no-fund", "--prefix", str(cache), PRISM]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    except subprocess.TimeoutExpired:
        pytest.skip(f"npm install {PRISM} took over 10 minutes")
    if done.returncode != 0 or not binary.is_file():
        pytest.skip(f"npm install {PRISM} failed: {(done.stderr or done.stdout).strip()[-300:]}")
    return binary


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def prism(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Prism mocking spec/openapi.yaml on a free loopback port; yields its base URL."""
    binary = prism_command(tmp_path_factory)
    port = free_port()
    spec = Path(__file__).resolve().parents[1] / "spec" / "openapi.yaml"
    log = (tmp_path_factory.mktemp("prism") / "prism.log").open("w")
    server = subprocess.Popen(
        [str(binary), "mock", "-h", "127.0.0.1", "-p", str(port), str(spec)], stdout=log, stderr=log
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(url + "/api/v1/snapshots/", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=2)
            break
        except httpx.HTTPError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                pytest.skip("prism did not start listening within 60 s")
            time.sleep(0.5)
    yield url
    server.terminate()
    try:
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.kill()
    log.close()


@pytest.mark.slow
def test_a_stateless_mock_is_judged_within_two_minutes(prism: str, tmp_path: Path) -> None:
    """Prism answers every request from the spec's examples and keeps nothing (and never answers some
    malformed bodies): nonconformant, with LIMIT and LIFECYCLE failed, in under 120 s (730 s before)."""
    args = ["--target", prism, "--token", TOKEN, "--server-id", "12345", "--time-scale", "0.005"]
    done, seconds = timed_run(*args, "--report-dir", str(tmp_path), "--seed", "5", timeout=400)
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    report = report_of(tmp_path)
    assert report["verdict"] == "nonconformant"
    failed = {r["area"] for r in report["requirements"] if r["verdict"] == "fail"}
    assert {"LIMIT", "LIFECYCLE"} <= failed, failed
    assert "never appeared in the list" in done.stdout  # recognised as stateless before the first test
    assert seconds < 120, seconds
