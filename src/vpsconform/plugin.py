"""The pytest plugin behind `pytest suites/` and `vpsconform run`: fixtures, markers, cleanup, verdicts.

A conformance test declares what it checks with ``@pytest.mark.requirement("LIMIT-02", ...)`` and records
findings through the ``check`` fixture. The plugin turns the findings of the whole session into one verdict
per catalog requirement, sweeps up every snapshot the run created, and writes report.json and junit.xml.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from vpsconform.catalog import Requirement, judged_by, load_requirements
from vpsconform.client import (
    SNAPSHOTS,
    ApiClient,
    Exchange,
    RateLimiter,
    TransportError,
    json_or_none,
    list_items,
)
from vpsconform.config import PROFILES, ConfigError, RunConfig, build_config, default_report_dir
from vpsconform.contract import SNAPSHOT_LIMIT
from vpsconform.ledger import Entry, Ledger
from vpsconform.observe import Timeline, Timing, find_snapshot, server_status, watch_restore, watch_snapshot
from vpsconform.probes import Probes
from vpsconform.redaction import Redactor
from vpsconform.report import build_report, write_json, write_junit
from vpsconform.verdicts import Checker, Finding, Findings, StopCheck, Verdict, aggregate


@dataclasses.dataclass
class RunResult:
    """The outcome of a session, for the CLI."""

    report: dict[str, Any]
    report_dir: Path


@dataclasses.dataclass(eq=False)
class Preset:
    """What `vpsconform run` hands the plugin: a ready configuration and where to report progress."""

    config: RunConfig
    rerun: str
    notify: Callable[[str], None] = lambda message: None
    on_test: Callable[[str, str, list[str]], None] = lambda nodeid, outcome, requirements: None
    result: RunResult | None = None


class Names:
    """Valid, run-unique snapshot names; every name the run sends starts with ``prefix``."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self._counter = itertools.count(1)

    def __call__(self, label: str = "snap") -> str:
        return f"{self.prefix}{label}-{next(self._counter)}"


class RunState:
    """Everything one conformance session shares: configuration, clients, findings, ledger."""

    def __init__(self, config: RunConfig, preset: Preset | None) -> None:
        self.config = config
        self.preset = preset
        self.catalog: dict[str, Requirement] = load_requirements()
        self.findings = Findings()
        self.redactor = Redactor(config.secrets)
        self.report_dir = config.report_dir or default_report_dir()
        self.ledger = Ledger(self.report_dir / "ledger.jsonl")
        self.limiter = RateLimiter(config.max_rps)
        self.timing = Timing(config.time_scale, config.timing_tolerance)
        self.recent: list[Exchange] = []
        self.checker: Checker | None = None
        self.tests: list[dict[str, Any]] = []
        self.measurements: list[dict[str, Any]] = []
        self.started_at = datetime.now(UTC).isoformat(timespec="seconds")
        self.started = time.monotonic()
        self.run_id = f"{config.seed:x}{int(time.time()) % 100000:05d}"
        self.names = Names(f"vpsc-{self.run_id}-")
        self._clients: dict[str, ApiClient] = {}
        self.result: RunResult | None = None
        self.requests = 0

    # Clients and evidence ------------------------------------------------------------------------------
    def client(self, account: str) -> ApiClient:
        """The client of ``main``, ``foreign`` or ``anonymous`` (created on first use)."""
        if account not in self._clients:
            token = {"main": self.config.token, "foreign": self.config.foreign_token, "anonymous": None}[
                account
            ]
            self._clients[account] = ApiClient(
                self.config.target,
                token,
                redactor=self.redactor,
                limiter=self.limiter,
                timeout=self.config.request_timeout,
                observers=[self.observe],
                label=account,
            )
        return self._clients[account]

    def observe(self, exchange: Exchange, response: httpx.Response | None) -> None:
        """Every exchange: evidence for the running test, the 5xx watch, and the cleanup ledger."""
        self.recent.append(exchange)
        del self.recent[:-50]
        self.requests += 1
        if exchange.status >= 500:
            finding = Finding(
                "ROBUST-01",
                Verdict.FAIL,
                f"{exchange.summary()}: a server error",
                self.current_test,
                [exchange],
            )
            self.findings.add(finding)
        if response is None or exchange.label == "anonymous":
            return
        path = response.request.url.path
        if response.request.method == "POST" and path == SNAPSHOTS and 200 <= response.status_code < 300:
            body = json_or_none(response)
            if isinstance(body, dict) and isinstance(body.get("id"), int):
                server = body.get("server") if isinstance(body.get("server"), dict) else {}
                self.ledger.created(exchange.label, body["id"], server.get("id"))
        elif response.request.method == "DELETE" and response.status_code in (204, 404):
            tail = path[len(SNAPSHOTS) :].strip("/")
            if path.startswith(SNAPSHOTS) and tail.isdigit():
                self.ledger.gone(exchange.label, int(tail))

    @property
    def current_test(self) -> str:
        """The node id of the running test ("(session)" between tests)."""
        return self.checker.test if self.checker else "(session)"

    def notify(self, message: str) -> None:
        """Progress for the person watching (the CLI shows it; plain pytest ignores it)."""
        if self.preset:
            self.preset.notify(message)

    def unique_name(self, label: str = "snap") -> str:
        """A snapshot name that is valid, unique in this run, and says who made it."""
        return self.names(label)

    def measure(self, name: str, seconds: float, **details: Any) -> None:
        """Record a measured duration (seconds on the target's clock, and production minutes)."""
        self.measurements.append(
            {
                "name": name,
                "seconds": round(seconds, 3),
                "minutes": round(self.timing.minutes(seconds), 2),
                **details,
            }
        )

    def window_overrun(self, window: str, message: str) -> None:
        """Fail the requirement that judges a documented window (catalog key ``judges``), with evidence."""
        requirement = judged_by(self.catalog, window)
        if requirement is not None:
            evidence = list(self.recent[-2:])
            self.findings.add(Finding(requirement, Verdict.FAIL, message, self.current_test, evidence))

    # Cleanup --------------------------------------------------------------------------------------------
    def delete_owned(self, entry: Entry) -> None:
        """Delete a snapshot the run created; a refusal (say, still in progress) is retried until it ends."""
        api = self.client(entry.account)
        response = api.delete_snapshot(entry.snapshot_id)
        deadline = time.monotonic() + self.timing.create_max + self.timing.restore_max
        while response.status_code not in (204, 404) and time.monotonic() < deadline:
            time.sleep(self.timing.poll_interval)
            if find_snapshot(api, entry.snapshot_id, entry.server_id) is None:
                self.ledger.gone(entry.account, entry.snapshot_id)
                return
            response = api.delete_snapshot(entry.snapshot_id)

    def sweep(self) -> None:
        """Delete every snapshot the run created and still has; what cannot be deleted is reported as left.

        Besides the ledger, the configured servers are searched for this run's names, so a snapshot whose
        create was answered oddly (or refused, yet saved) is found and removed too.
        """
        with contextlib.suppress(TransportError):
            self._adopt_by_name()
        for entry in self.ledger.alive():
            with contextlib.suppress(TransportError):
                self.delete_owned(entry)

    def _adopt_by_name(self) -> None:
        accounts = [("main", self.config.server_ids)]
        if self.config.has_foreign_account:
            accounts.append(("foreign", self.config.foreign_server_ids))
        prefix = self.names.prefix
        for account, server_ids in accounts:
            for server_id in server_ids:
                items = list_items(self.client(account).list_snapshots(server_id)) or []
                alive = {e.snapshot_id for e in self.ledger.alive(account)}
                for item in items:
                    if str(item.get("name", "")).startswith(prefix):
                        snapshot_id = item.get("id")
                        if isinstance(snapshot_id, int) and snapshot_id not in alive:
                            self.ledger.created(account, snapshot_id, server_id)  # ours, still there

    def close(self) -> None:
        """Release the HTTP clients."""
        for api in self._clients.values():
            api.close()


STATE = pytest.StashKey[RunState]()
ITEM_FINDINGS = pytest.StashKey[dict[str, Any]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    """The run's options; each also reads its VPSCONFORM_* environment variable."""
    group = parser.getgroup("vpsconform", "VPS.org Snapshots API conformance")
    group.addoption("--target", help="base URL of the target (default: start the embedded reference target)")
    group.addoption("--token", help="bearer token of the account under test")
    group.addoption(
        "--server-id", dest="server_ids", action="append", help="server the suite may use (repeat)"
    )
    group.addoption("--foreign-token", help="token of a second account, for the isolation checks")
    group.addoption(
        "--foreign-server-id", dest="foreign_server_ids", action="append", help="server of that account"
    )
    group.addoption("--time-scale", help="the target's clock relative to production (default 1)")
    group.addoption("--timing-tolerance", help="slack on documented maxima (default 0.1)")
    group.addoption("--probe-write", help="command that writes {marker} on {server_id}")
    group.addoption("--probe-read", help="command that prints the marker of {server_id}")
    group.addoption("--profile", help=f"one of {', '.join(PROFILES)} (default standard)")
    group.addoption("--seed", help="seed for generated data")
    group.addoption("--report-dir", help="where report.json and junit.xml go (default reports/<UTC time>/)")
    group.addoption("--max-rps", help="request rate cap (default 20/s for remote targets)")
    group.addoption("--request-timeout", help="seconds before a request is abandoned (default 30)")


def pytest_configure(config: pytest.Config) -> None:
    """Register the markers."""
    config.addinivalue_line("markers", "requirement(*ids): catalog requirements the test checks")
    config.addinivalue_line(
        "markers", "profile(name): the smallest profile the test runs in (standard, deep)"
    )


def _activate(config: pytest.Config) -> RunState:
    preset = next((p for p in config.pluginmanager.get_plugins() if isinstance(p, Preset)), None)
    if preset is not None:
        state = RunState(preset.config, preset)
    else:
        flags = {
            name: config.getoption(name)
            for name in (
                "target",
                "token",
                "server_ids",
                "foreign_token",
                "foreign_server_ids",
                "time_scale",
                "timing_tolerance",
                "probe_write",
                "probe_read",
                "profile",
                "seed",
                "report_dir",
                "max_rps",
                "request_timeout",
            )
        }
        embedded = None
        if not flags["target"] and not os.environ.get("VPSCONFORM_TARGET"):
            from vpsconform.embedded import start_embedded

            target, embedded = start_embedded()
            config.add_cleanup(target.stop)
        try:
            run_config = build_config(flags, embedded=embedded)
        except ConfigError as exc:
            raise pytest.UsageError(str(exc)) from None
        state = RunState(run_config, None)
    config.stash[STATE] = state
    return state


def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    """Activate for conformance tests only, and leave out tests above the configured profile."""
    if not any(item.get_closest_marker("requirement") for item in items):
        return
    state = _activate(config)
    rank = PROFILES.index(state.config.profile)
    keep, drop = [], []
    for item in items:
        marker = item.get_closest_marker("profile")
        (drop if marker and PROFILES.index(marker.args[0]) > rank else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def _state(config: pytest.Config) -> RunState | None:
    return config.stash.get(STATE, None)


def _declared(item: pytest.Item) -> list[str]:
    return [rid for marker in item.iter_markers("requirement") for rid in marker.args]


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Give the test its own checker before its fixtures run."""
    state = _state(item.config)
    if state is None or not _declared(item):
        return
    state.recent = []
    state.checker = Checker(state.catalog, item.nodeid, state.findings, state.recent)
    item.stash[ITEM_FINDINGS] = {"skip": None, "error": None, "failed": False}
    state.notify(f"running {item.nodeid.split('::', 1)[-1]} ({', '.join(_declared(item))})")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    """Fail the test when it recorded a failed MUST, even if its code went on to the end."""
    result = yield
    state = _state(item.config)
    if state is not None and state.checker is not None and state.checker.test == item.nodeid:
        failures = state.checker.failures()
        if failures:
            lines = [f"{f.requirement}: {f.message}" for f in failures]
            raise AssertionError(state.redactor.text("\n".join(lines)))
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> pytest.TestReport:
    """Redact the report, and turn the test's outcome into findings for what it did not evaluate itself."""
    report: pytest.TestReport = yield
    state = _state(item.config)
    if state is None:
        return report
    if report.longrepr is not None:
        report.longrepr = state.redactor.text(str(report.longrepr))
    report.sections = [(name, state.redactor.text(text)) for name, text in report.sections]
    notes = item.stash.get(ITEM_FINDINGS, None)
    if notes is None:
        return report
    if report.skipped and notes["skip"] is None:
        reason = call.excinfo.value.msg if call.excinfo and hasattr(call.excinfo.value, "msg") else "skipped"
        notes["skip"] = str(reason)
    elif report.failed and call.excinfo is not None:
        notes["failed"] = True
        if not isinstance(call.excinfo.value, (StopCheck, AssertionError)) or report.when != "call":
            notes["error"] = state.redactor.text(
                f"{call.excinfo.typename}: {call.excinfo.value}".splitlines()[0]
            )
    if report.when == "teardown":
        _settle(state, item, notes)
    return report


def _settle(state: RunState, item: pytest.Item, notes: dict[str, Any]) -> None:
    checker = state.checker
    found = {f.requirement for f in state.findings.for_test(item.nodeid)}
    for rid in _declared(item):
        if rid in found or rid not in state.catalog:
            continue
        if notes["skip"] is not None:
            verdict, message = Verdict.SKIP, notes["skip"]
        elif notes["error"] is not None:
            verdict, message = Verdict.ERROR, f"the test could not complete: {notes['error']}"
        elif notes["failed"]:
            verdict, message = Verdict.INCONCLUSIVE, "not evaluated: an earlier check in the same test failed"
        else:
            verdict, message = Verdict.INCONCLUSIVE, "the test ended without evaluating it"
        state.findings.add(
            Finding(
                rid,
                verdict,
                message,
                item.nodeid,
                list(state.recent[-3:]) if verdict is Verdict.ERROR else [],
            )
        )
    outcome = (
        "skipped"
        if notes["skip"] is not None
        else "error"
        if notes["error"]
        else "failed"
        if notes["failed"]
        else "passed"
    )
    state.tests.append({"test": item.nodeid, "outcome": outcome, "requirements": _declared(item)})
    if state.preset:
        state.preset.on_test(item.nodeid, outcome, _declared(item))
    if checker is not None and checker.test == item.nodeid:
        state.checker = None


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Sweep, judge, and write the reports."""
    state = _state(session.config)
    if state is None:
        return
    state.notify("cleaning up what the run created")
    state.sweep()
    if state.requests and not any(f.requirement == "ROBUST-01" for f in state.findings):
        message = f"{state.requests} requests sent, none answered with a 5xx"
        state.findings.add(Finding("ROBUST-01", Verdict.PASS, message, "(session)"))
    reason = f"not checked in this run (profile {state.config.profile} or test selection)"
    results = aggregate(state.catalog, state.findings, reason)
    cleanup = state.ledger.counts()
    cleanup["left_ids"] = [e.snapshot_id for e in state.ledger.alive()]
    rerun = state.preset.rerun if state.preset else "pytest suites/"
    report = build_report(
        results,
        target=state.config.public_dict(),
        started_at=state.started_at,
        duration_s=time.monotonic() - state.started,
        cleanup=cleanup,
        tests=state.tests,
        measurements=state.measurements,
        rerun=rerun,
    )
    write_json(report, state.report_dir / "report.json", state.redactor)
    write_junit(report, state.report_dir / "junit.xml", state.redactor)
    state.result = RunResult(report, state.report_dir)
    if state.preset:
        state.preset.result = state.result
    state.close()


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """Say where the report is and what it concluded."""
    state = _state(config)
    if state is None or state.result is None:
        return
    report = state.result.report
    counts = ", ".join(f"{n} {v}" for v, n in report["summary"].items() if n)
    terminalreporter.write_sep("=", f"vpsconform: {report['verdict']} ({counts})")
    for entry in report["requirements"]:
        if entry["verdict"] in ("fail", "error"):
            terminalreporter.write_line(f"{entry['verdict'].upper():5} {entry['id']}: {entry['message']}")
    terminalreporter.write_line(f"report: {state.result.report_dir / 'report.json'}")


# Fixtures ---------------------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def run_state(request: pytest.FixtureRequest) -> RunState:
    """The session's shared state (only for conformance tests)."""
    state = _state(request.config)
    if state is None:
        pytest.skip("not a conformance session")
    return state


@pytest.fixture(scope="session")
def run_config(run_state: RunState) -> RunConfig:
    """The validated run configuration."""
    return run_state.config


@pytest.fixture(scope="session")
def timing(run_state: RunState) -> Timing:
    """Documented durations on the target's clock."""
    return run_state.timing


@pytest.fixture(scope="session")
def api(run_state: RunState) -> ApiClient:
    """The client of the account under test."""
    return run_state.client("main")


@pytest.fixture(scope="session")
def anon_api(run_state: RunState) -> ApiClient:
    """A client that sends no token unless told to."""
    return run_state.client("anonymous")


@pytest.fixture(scope="session")
def foreign_api(run_state: RunState) -> ApiClient:
    """The client of the second account; the test is skipped when none is configured."""
    if not run_state.config.has_foreign_account:
        pytest.skip("no foreign account configured (--foreign-token)")
    return run_state.client("foreign")


@pytest.fixture
def check(run_state: RunState) -> Checker:
    """The running test's checker: record findings against requirement IDs."""
    if run_state.checker is None:
        raise RuntimeError("the check fixture needs a test marked with @pytest.mark.requirement")
    return run_state.checker


@pytest.fixture(scope="session")
def probes(run_state: RunState) -> Probes:
    """The data probes; the test is skipped when none are configured."""
    if not run_state.config.has_probes:
        pytest.skip("no data probes configured (--probe-write/--probe-read)")
    return Probes(run_state.config.probe_write or "", run_state.config.probe_read or "")


class Snapshots:
    """Creates snapshots for one test and deletes them when the test ends, whatever its outcome."""

    def __init__(self, state: RunState) -> None:
        self._state = state
        self.created: list[tuple[str, int]] = []
        self.asked: list[tuple[ApiClient, int, str]] = []  # every create sent: (client, server, name)

    def create(
        self, server_id: int, *, name: str | None = None, client: ApiClient | None = None, **fields: Any
    ) -> tuple[httpx.Response, dict[str, Any] | None]:
        """POST a create; returns the response and, on 201 with an id, its body (registered for cleanup)."""
        api = client or self._state.client("main")
        name = name or self._state.unique_name()
        self.asked.append((api, server_id, name))
        response = api.create_snapshot(server_id, name, **fields)
        body = json_or_none(response)
        if response.status_code == 201 and isinstance(body, dict) and isinstance(body.get("id"), int):
            self.created.append((api.label, body["id"]))
            return response, body
        return response, None

    def _adopt_by_name(self) -> None:
        known = {snapshot_id for _, snapshot_id in self.created}
        for api, server_id, name in self.asked:
            for scope in (server_id, None):
                for item in list_items(api.list_snapshots(scope)) or []:
                    snapshot_id = item.get("id")
                    if item.get("name") == name and isinstance(snapshot_id, int) and snapshot_id not in known:
                        known.add(snapshot_id)
                        self._state.ledger.created(api.label, snapshot_id, server_id)
                        self.created.append((api.label, snapshot_id))

    def wait(
        self, snapshot: dict[str, Any], *, client: ApiClient | None = None, limit: float | None = None
    ) -> Timeline:
        """Poll a created snapshot until it leaves ``in_progress`` (bounded by the documented maximum)."""
        server = snapshot.get("server") if isinstance(snapshot.get("server"), dict) else {}
        timeline = watch_snapshot(
            client or self._state.client("main"),
            snapshot["id"],
            server.get("id"),
            self._state.timing,
            limit=limit,
            notify=self._state.notify,
        )
        if limit is None and timeline.timed_out and timeline.final == "in_progress":
            self._state.window_overrun(
                "create-window",
                f"snapshot {snapshot['id']} still in_progress after the documented 10 minutes "
                f"({self._state.timing.create_max:.1f} s on the target's clock)",
            )
        return timeline

    def cleanup(self) -> None:
        """Delete what this test created and is still alive, including snapshots only found by their name.

        A create answered with another success than 201, or refused yet saved, leaves a snapshot the test
        never learned the id of; its run-unique name finds it (on the asked server and account-wide).
        """
        with contextlib.suppress(TransportError):
            self._adopt_by_name()
        for account, snapshot_id in self.created:
            for entry in self._state.ledger.alive(account):
                if entry.snapshot_id == snapshot_id:
                    with contextlib.suppress(TransportError):  # the session sweep retries and reports it
                        self._state.delete_owned(entry)


@pytest.fixture
def snapshots(run_state: RunState) -> Iterator[Snapshots]:
    """A per-test snapshot factory with guaranteed cleanup."""
    factory = Snapshots(run_state)
    yield factory
    factory.cleanup()


class Servers:
    """The configured servers, handed to tests with the room they need and idle (not restoring)."""

    def __init__(self, state: RunState) -> None:
        self._state = state
        self._turn = 0
        self._stuck: set[int] = set()

    @property
    def ids(self) -> tuple[int, ...]:
        """All configured servers of the account under test."""
        return self._state.config.server_ids

    def room(self, server_id: int) -> int:
        """Free snapshot slots on a server (pre-existing snapshots count and are never touched)."""
        body = json_or_none(self._state.client("main").list_snapshots(server_id))
        if not isinstance(body, dict) or not isinstance(body.get("results"), list):
            return 0
        count = body.get("count")
        held = count if isinstance(count, int) and not isinstance(count, bool) else len(body["results"])
        return SNAPSHOT_LIMIT - max(held, len(body["results"]))

    def wait_idle(self, server_id: int) -> bool:
        """Wait (bounded by the restore window) until the server is not restoring; False if it still is.

        A server still restoring after the documented window is set aside for the rest of the run, so one
        restore that never ends cannot make every later test fail for want of an idle server.
        """
        if server_id in self._stuck:
            return False
        if server_status(self._state.client("main"), server_id) == "restoring":
            finished, _ = self.watch_restore(server_id)
            if finished is None and server_status(self._state.client("main"), server_id) == "restoring":
                self._stuck.add(server_id)
                return False
        return True

    def watch_restore(
        self,
        server_id: int,
        *,
        client: ApiClient | None = None,
        limit: float | None = None,
        started: float | None = None,
    ) -> tuple[float | None, list[str]]:
        """Watch a restore on ``server_id`` (see observe.watch_restore); an overrun of the documented window
        is recorded at once against the requirement that judges it, whichever test made the observation."""
        api = client or self._state.client("main")
        finished, seen = watch_restore(
            api, server_id, self._state.timing, limit=limit, started=started, notify=self._state.notify
        )
        if limit is None and finished is None and seen:
            self._state.window_overrun(
                "restore-window",
                f"server {server_id} still {seen[-1]!r} after the documented 15 minutes "
                f"({self._state.timing.restore_max:.1f} s on the target's clock)",
            )
        return finished, seen

    @contextmanager
    def lease(
        self, room: int | tuple[int, ...] = 1, *, exclude: tuple[int, ...] = ()
    ) -> Iterator[int | None]:
        """An idle server with ``room`` free slots, or None; servers are taken in turn and left idle.

        ``room`` may list acceptable amounts in order of preference, e.g. ``(5, 1)``: a server with all five
        slots free if there is one, else one with any room.
        """
        wanted = (room,) if isinstance(room, int) else room
        self._state.notify(f"looking for a server with {' or '.join(map(str, wanted))} free snapshot slot(s)")
        order = [*self.ids[self._turn % len(self.ids) :], *self.ids[: self._turn % len(self.ids)]]
        self._turn += 1
        free = {sid: self.room(sid) for sid in order if sid not in exclude and self.wait_idle(sid)}
        chosen = next((sid for need in wanted for sid, has in free.items() if has >= need), None)
        if chosen is None:
            yield None
            return
        try:
            yield chosen
        finally:
            self.wait_idle(chosen)


@pytest.fixture(scope="session")
def servers(run_state: RunState) -> Servers:
    """The server pool of the account under test."""
    return Servers(run_state)


@pytest.fixture(scope="session")
def names(run_state: RunState) -> Names:
    """Unique, valid snapshot names for this run: ``names("label")``; ``names.prefix`` starts every one."""
    return run_state.names
