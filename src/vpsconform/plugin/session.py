"""The session's hooks: options, activation and scope before the tests; cleanup, verdicts, reports after.

The plugin activates only when the collected tests declare catalog requirements, so the project's own tests
(and any other pytest run) are left alone.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from vpsconform.catalog import FUZZES
from vpsconform.cleanup import SweepResult, deadline_for
from vpsconform.config import build_config, target_configured
from vpsconform.contract import ABSENT_ID
from vpsconform.errors import ConfigError, NoAnswer
from vpsconform.ledger import Ledger
from vpsconform.options import add_pytest_options, flags_from_pytest, reproduce_command
from vpsconform.plugin.outcomes import declared
from vpsconform.plugin.parallel import PAYLOAD, config_from_wire, longest_first
from vpsconform.plugin.scope import SELECTED_OUT, out_of_scope, reason_to_leave
from vpsconform.plugin.state import STATE, Preset, RunResult, RunState, listed_with_id, state_of
from vpsconform.reporting import build_report, write_all
from vpsconform.verdicts import Verdict, aggregate

LEFT_BEFORE = pytest.StashKey[dict[str, list[str]]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    """The run's options, from the one option table."""
    add_pytest_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    """Register the markers; the controller of parallel workers activates here (it collects no tests)."""
    config.addinivalue_line("markers", "requirement(*ids): catalog requirements the test checks")
    config.addinivalue_line(
        "markers", "profile(name): the smallest profile the test runs in (standard, deep)"
    )
    config.addinivalue_line(
        "markers", "needs(*what): configuration the test cannot run without (foreign-account, probes)"
    )
    config.addinivalue_line(
        "markers", "waits(minutes): the test's documented wait chain, so parallel runs start it first"
    )
    config.addinivalue_line(
        "markers", "servers(n): the most servers the test leases at once (1 unless marked), reserved first"
    )
    config.addinivalue_line(
        "markers", f"{FUZZES}: the test also judges every requirement with a `fuzz` key (generated requests)"
    )
    if _preset(config) is not None and getattr(config.option, "numprocesses", None):
        _activate(config)


def _preset(config: pytest.Config) -> Preset | None:
    return next((p for p in config.pluginmanager.get_plugins() if isinstance(p, Preset)), None)


def _activate(config: pytest.Config) -> RunState:
    preset = _preset(config)
    wired = getattr(config, "workerinput", {}).get(PAYLOAD)
    if wired is not None:
        worker = config.workerinput["workerid"]  # type: ignore[attr-defined]
        state = RunState(config_from_wire(wired["config"]), None, run_id=wired["run_id"], worker=worker)
    elif preset is not None:
        distributed = bool(getattr(config.option, "numprocesses", None))
        state = RunState(preset.config, preset, distributed=distributed)
    else:
        flags = flags_from_pytest(config)
        embedded = None
        try:
            if not target_configured(flags):
                from vpsconform.embedded import start_embedded

                target, embedded = start_embedded()
                config.add_cleanup(target.stop)
            state = RunState(build_config(flags, embedded=embedded), None)
        except ConfigError as exc:
            raise pytest.UsageError(str(exc)) from None
    config.stash[STATE] = state
    return state


def pytest_itemcollected(item: pytest.Item) -> None:
    """Let a selection (-k, --select) name what a test checks: ``-k "DELETE-"`` picks the DELETE area."""
    item.extra_keyword_matches.update(declared(item))


def pytest_deselected(items: list[pytest.Item]) -> None:
    """Remember tests a selection (-k, -m) took out, with their requirements, for the run's scope."""
    if items:
        left = items[0].config.stash.setdefault(LEFT_BEFORE, {})
        left.update({item.nodeid: declared(item) for item in items})


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    """Activate for conformance tests; take out tests the configuration leaves out; state the scope."""
    selected_out = config.stash.get(LEFT_BEFORE, {}).copy()
    if not any(declared(item) for item in items) and not any(selected_out.values()):
        return
    state = _activate(config)
    keep, drop, left = [], [], {nodeid: SELECTED_OUT for nodeid in selected_out}
    for item in items:
        reason = reason_to_leave(item, state.config)
        if reason is None:
            keep.append(item)
        else:
            drop.append(item)
            left[item.nodeid] = reason
    requirements = {item.nodeid: declared(item) for item in items} | selected_out
    state.out_of_scope = out_of_scope(state.catalog, keep, left, requirements)
    if drop:
        items[:] = keep
        config.hook.pytest_deselected(items=drop)
    if state.worker:
        longest_first(items)


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> None:
    """Before the first test: say the scope, and make sure the id the run calls absent really is."""
    state = state_of(session.config)
    if state is None:
        return
    musts = sum(r.binding for r in state.catalog.values())
    state.notify(f"scope: {musts - len(state.out_of_scope)} of {musts} MUST requirements")
    for client in state.clients_by_account().values():
        with contextlib.suppress(NoAnswer):
            if listed_with_id(client, ABSENT_ID):
                state.interlock.forget_absent()
                state.notify(f"snapshot {ABSENT_ID} exists on this target: the suite will not name it")


@contextlib.contextmanager
def _signals_deferred(state: RunState) -> Iterator[None]:
    """Let the cleanup finish whatever signals come (SIGKILL, then `vpsconform cleanup`, still ends it)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def hold(signum: int, frame: Any) -> None:
        state.notify("cleaning up; it finishes first (kill -9, then `vpsconform cleanup`, to abandon it)")

    previous = {sig: signal.signal(sig, hold) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def sweep(state: RunState) -> SweepResult:
    """Delete everything the run created (ledgered or run-prefixed), in rounds under one deadline."""
    return state.sweeper().run(deadline_for(state.timing))


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Sweep, judge, and write the reports — also after a failure or an interrupt."""
    state = state_of(session.config)
    if state is None:
        return
    if state.worker:  # the controller judges, cleans up and reports
        session.config.workeroutput[PAYLOAD] = {  # type: ignore[attr-defined]
            "out_of_scope": state.out_of_scope,
            "requests": state.requests,
            "findings": [f.to_dict() for f in state.findings.for_test("(session)")],
        }
        return
    if state.distributed and state.ledger.journal is not None:
        _, state.ledger = Ledger.replay(state.ledger.journal)  # what every worker journaled
    interrupted = state.preset.interrupted if state.preset else None
    if interrupted is None and exitstatus == pytest.ExitCode.INTERRUPTED:
        interrupted = "interrupted"
    state.checker = None
    state.notify("cleaning up what the run created")
    with _signals_deferred(state):
        swept = sweep(state)
    served = [f for f in state.findings if state.catalog[f.requirement].judges == "every-response"]
    if state.requests and not served:
        message = f"{state.requests} requests sent, none answered with a 5xx"
        state.record_observation("every-response", Verdict.PASS, message)
    results = aggregate(state.catalog, state.findings, "not checked in this run")
    cleanup: dict[str, Any] = state.ledger.counts() | {"left": swept.left, "left_ids": swept.left_ids}
    cleanup["left_unknown"] = swept.unknown
    report = build_report(
        results,
        scope={"out_of_scope": state.out_of_scope},
        target=state.config.public_dict(),
        started_at=state.started_at,
        duration_s=time.monotonic() - state.started,
        cleanup=cleanup,
        tests=state.tests,
        measurements=state.measurements,
        reproduce=state.preset.reproduce if state.preset else _pytest_reproduce(state),
        interrupted=interrupted,
    )
    write_all(report, state.report_dir, state.redactor)
    state.result = RunResult(report, state.report_dir)
    if state.preset:
        state.preset.result = state.result


def pytest_unconfigure(config: pytest.Config) -> None:
    """Release the HTTP clients once every fixture (an interrupted test's too) has been torn down."""
    state = state_of(config)
    if state is not None:
        state.close()


def _pytest_reproduce(state: RunState) -> Any:
    return lambda selection: reproduce_command(state.config, runner="pytest", selection=selection)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """Say where the report is, what it concluded and how much it judged."""
    state = state_of(config)
    if state is None or state.result is None:
        return
    report = state.result.report
    counts = ", ".join(f"{n} {v}" for v, n in report["summary"].items() if n)
    terminalreporter.write_sep("=", f"vpsconform: {report['verdict']} ({counts})")
    terminalreporter.write_line(report["scope"]["statement"])
    for entry in report["requirements"]:
        if entry["verdict"] in ("fail", "error"):
            terminalreporter.write_line(f"{entry['verdict'].upper():5} {entry['id']}: {entry['message']}")
    terminalreporter.write_line(f"report: {state.result.report_dir / 'report.json'}")
