"""The session's hooks: options, activation and scope before the tests; cleanup, verdicts, reports after.

The plugin activates only when the collected tests declare catalog requirements, so the project's own tests
(and any other pytest run) are left alone.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from typing import Any

import pytest

from vpsconform.catalog import FUZZES
from vpsconform.cleanup import SweepResult, deadline_for
from vpsconform.config import build_config, check_options
from vpsconform.contract import ABSENT_ID
from vpsconform.errors import ConfigError, NoAnswer, TargetProblem, TargetSilent
from vpsconform.interrupts import INTERRUPTS
from vpsconform.ledger import Ledger
from vpsconform.options import add_pytest_options, flags_from_pytest, reproduce_command
from vpsconform.plugin.model import annotate, judge_history
from vpsconform.plugin.outcomes import declared
from vpsconform.plugin.parallel import PAYLOAD, config_from_wire, longest_first
from vpsconform.plugin.scope import SELECTED_OUT, out_of_scope, reason_to_leave, scope_statement, write_scope
from vpsconform.plugin.state import STATE, Preset, RunResult, RunState, listed_with_id, state_of
from vpsconform.preflight import check_target
from vpsconform.reporting import build_report, write_all
from vpsconform.verdicts import RequirementResult, Verdict, aggregate

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
        try:  # every value is checked, and the report folder made, before the embedded target starts
            configured, report_dir = check_options(flags)
            if not configured:
                from vpsconform.embedded import start_embedded

                target, embedded = start_embedded()
                config.add_cleanup(target.stop)
            run_config = build_config(flags, embedded=embedded)
        except ConfigError as exc:
            raise pytest.UsageError(f"vpsconform: {exc}") from None
        state = RunState(dataclasses.replace(run_config, report_dir=report_dir), None)
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
    if state.worker:  # the controller states it before the first test (see parallel.py)
        write_scope(state.shared, state.out_of_scope)
    if drop:
        items[:] = keep
        config.hook.pytest_deselected(items=drop)
    if state.worker:
        longest_first(items)


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> None:
    """Before the first test: say the scope, check the target is the API, and make sure the id the run calls
    absent really is. A target that is not the API (or stops answering) ends the run here, with a report."""
    state = state_of(session.config)
    if state is None:
        return
    if not state.worker:  # the controller of parallel workers, or a serial run
        if not state.distributed:  # parallel workers collect the tests: see parallel.py for their scope
            state.announce(scope_statement(state.catalog, state.out_of_scope))
        try:
            check_target(state)
        except (TargetProblem, TargetSilent) as problem:
            state.stopped = str(problem)
            raise session.Interrupted(state.stopped) from None
        except NoAnswer as exc:  # one lost request: the tests meet the target as it is
            state.announce(f"preflight: {state.redactor.text(str(exc))}")
        with contextlib.suppress(NoAnswer):  # the model's evidence: the servers API knows ours, not that one
            for server_id in (*state.config.server_ids[:1], ABSENT_ID):
                state.client("main").get_server(server_id)
    for client in state.clients_by_account().values():  # every process has its own interlock
        with contextlib.suppress(NoAnswer):
            if listed_with_id(client, ABSENT_ID):
                state.interlock.forget_absent()
                state.notify(f"snapshot {ABSENT_ID} exists on this target: the suite will not name it")


def sweep(state: RunState) -> SweepResult:
    """Delete everything the run created (ledgered or run-prefixed), in rounds under one deadline.

    A run stopped early with nothing of its own alive makes one round: a target that is not the API (or
    answers only 5xx) would otherwise be listed in vain until the deadline.
    """
    deadline = deadline_for(state.timing)
    return state.sweeper().run(0.0 if state.stopped and not state.ledger.alive() else deadline)


def cut_short(state: RunState, results: list[RequirementResult], exitstatus: int) -> str | None:
    """Why the run's verdict is ``error`` though it ended: a signal, or a stop before anything failed.

    A run stopped early (the target stopped answering, or is not the API) keeps the MUST failures its tests
    found: then it is nonconformant, and ``stopped`` in the report says why it ended early.
    """
    interrupted = state.preset.interrupted if state.preset else None
    if interrupted is None and state.stopped:
        failed = any(r.verdict is Verdict.FAIL and r.requirement.binding for r in results)
        interrupted = None if failed and state.tests else state.stopped
    elif interrupted is None and exitstatus == pytest.ExitCode.INTERRUPTED:
        interrupted = "interrupted"
    return interrupted


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
            "stopped": state.stopped,
            "findings": [f.to_dict() for f in state.findings.for_test("(session)")],
        }
        return
    if state.distributed and state.ledger.journal is not None:
        _, state.ledger = Ledger.replay(state.ledger.journal)  # what every worker journaled
    state.checker = None
    state.notify(f"cleaning up what the run created (up to {deadline_for(state.timing):.0f} s)")
    state.liveness.retry_once()  # a target that stopped answering gets one more chance to be cleaned up
    with INTERRUPTS.held() as interrupts:  # cleanup and reports finish whatever signals come
        _finish(state, sweep(state), interrupts.reason, exitstatus)


def _finish(state: RunState, swept: SweepResult, signalled: str | None, exitstatus: int) -> None:
    """Judge the run and write its reports."""
    served = [f for f in state.findings if state.catalog[f.requirement].judges == "every-response"]
    if state.requests and not served:
        message = f"{state.requests} requests sent, none answered with a 5xx"
        state.record_observation("every-response", Verdict.PASS, message)
    judged = judge_history(state)
    unrun = (
        f"not checked: the run stopped early ({state.stopped})"
        if state.stopped
        else "not checked in this run"
    )
    results = aggregate(state.catalog, state.findings, unrun)
    interrupted = signalled or cut_short(state, results, exitstatus)
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
    annotate(report, state, judged)
    report["stopped"] = state.stopped
    write_all(report, state.report_dir, state.redactor, sign_key=state.config.sign_key)
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
