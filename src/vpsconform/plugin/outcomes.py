"""From a test's outcome to findings: its checker, its failures, and a verdict for what it left undecided.

A declared requirement that a test did not decide gets a finding that says why: ``skip`` (skipped),
``inconclusive`` (our own observation failed — network, a probe, a helper API — or an earlier check
stopped the test), or ``error`` (the test itself broke, or the interlock refused an unsafe request).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest

from vpsconform.errors import ObservationFailed, Undecidable, UnsafeRequest
from vpsconform.plugin.parallel import PAYLOAD, finished_test, waits
from vpsconform.plugin.state import RunState, state_of
from vpsconform.verdicts import Checker, Finding, Verdict

ITEM_NOTES = pytest.StashKey[dict[str, Any]]()


def declared(item: pytest.Item) -> list[str]:
    """The requirement IDs a test declares with ``@pytest.mark.requirement``."""
    return [rid for marker in item.iter_markers("requirement") for rid in marker.args]


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Give the test its own checker before its fixtures run."""
    state = state_of(item.config)
    if state is None or not declared(item):
        return
    state.budget.expect(max((m.args[0] for m in item.iter_markers("servers")), default=1))
    state.recent = []
    state.checker = Checker(state.catalog, item.nodeid, state.findings, state.recent, declared=declared(item))
    item.stash[ITEM_NOTES] = {
        "skip": None,
        "error": None,
        "unobserved": None,
        "failed": False,
        "measured": len(state.measurements),
        "seconds": 0.0,
    }
    state.notify(f"running {item.nodeid.split('::', 1)[-1]} ({', '.join(declared(item))})")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    """Fail the test when it recorded a failed MUST, even if its code went on to the end; a test that
    ended at ``check.undecidable`` ended normally."""
    try:
        result = yield
    except Undecidable:
        result = None
    state = state_of(item.config)
    if state is not None and state.checker is not None and state.checker.test == item.nodeid:
        failures = state.checker.failures()
        if failures:
            lines = [f"{f.requirement}: {f.message}" for f in failures]
            raise AssertionError(state.redactor.text("\n".join(lines)))
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Any:
    """Once the test's fixtures are torn down (its snapshots deleted), let its leased servers go."""
    try:
        return (yield)
    finally:
        state = state_of(item.config)
        if state is not None:
            state.locks.release_parked()
            state.budget.release()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Redact the report, and turn the test's outcome into findings for what it did not evaluate itself."""
    report: pytest.TestReport = yield
    state = state_of(item.config)
    if state is None:
        return report
    if report.longrepr is not None:
        report.longrepr = state.redactor.text(str(report.longrepr))
    report.sections = [(name, state.redactor.text(text)) for name, text in report.sections]
    notes = item.stash.get(ITEM_NOTES, None)
    if notes is None:
        return report
    notes["seconds"] += report.duration  # setup, call and teardown: what the run waited on for this test
    excinfo = call.excinfo
    if report.skipped and notes["skip"] is None:
        notes["skip"] = str(getattr(excinfo.value, "msg", "skipped")) if excinfo else "skipped"
    elif report.failed and excinfo is not None:
        notes["failed"] = True
        first_line = state.redactor.text(f"{excinfo.value}".splitlines()[0] if str(excinfo.value) else "")
        # The exception tree classifies (vpsconform.errors): our observation failed -> inconclusive; a refused
        # request -> error; a failed check (StopCheck or assert) during the call was judged where it failed.
        if isinstance(excinfo.value, ObservationFailed):
            notes["unobserved"] = notes["unobserved"] or first_line
        elif isinstance(excinfo.value, UnsafeRequest):
            notes["error"] = f"the interlock refused a request: {first_line}"
        elif not isinstance(excinfo.value, AssertionError) or report.when != "call":
            notes["error"] = f"{excinfo.typename}: {first_line}"
    if report.when == "teardown":
        settle(state, item, notes, report)
    return report


def _undecided(notes: dict[str, Any]) -> tuple[Verdict, str]:
    if notes["skip"] is not None:
        return Verdict.SKIP, notes["skip"]
    if notes["unobserved"] is not None:
        return Verdict.INCONCLUSIVE, f"could not be observed: {notes['unobserved']}"
    if notes["error"] is not None:
        return Verdict.ERROR, f"the test could not complete: {notes['error']}"
    if notes["failed"]:
        return Verdict.INCONCLUSIVE, "not evaluated: an earlier check in the same test failed"
    return Verdict.INCONCLUSIVE, "the test ended without evaluating it"


def settle(state: RunState, item: pytest.Item, notes: dict[str, Any], report: pytest.TestReport) -> None:
    """Give every declared requirement the test left open a finding, and log the test's outcome.

    On a parallel worker, the test's findings travel to the controller with its teardown report.
    """
    found = {f.requirement for f in state.findings.for_test(item.nodeid)}
    verdict, message = _undecided(notes)
    for rid in declared(item):
        # A test that broke judged none of its requirements fully, whatever passed before it broke.
        if (rid in found and verdict is not Verdict.ERROR) or rid not in state.catalog:
            continue
        evidence = list(state.recent[-3:]) if verdict is not Verdict.SKIP else []
        state.findings.add(Finding(rid, verdict, message, item.nodeid, evidence))
    outcome = _outcome(notes, state.findings.for_test(item.nodeid))
    record = {
        "test": item.nodeid,
        "outcome": outcome,
        "requirements": declared(item),
        "duration_s": round(notes["seconds"], 3),
        "waits_minutes": waits(item),
    }
    state.tests.append(record)
    if state.worker:
        payload = finished_test(state, item.nodeid, record, notes["measured"])
        report.user_properties.append((PAYLOAD, payload))
    if state.preset:
        state.preset.on_test(item.nodeid, outcome, declared(item))
    if isinstance(state.checker, Checker) and state.checker.test == item.nodeid:
        state.checker = None
    if state.liveness.gone:  # the target stopped answering: no later test could judge anything
        state.stopped = state.stopped or state.liveness.gone
        item.session.shouldstop = state.stopped


def _outcome(notes: dict[str, Any], findings: list[Finding]) -> str:
    """The test's outcome; ``inconclusive`` when it ran to the end but judged none of its requirements."""
    if notes["skip"] is not None:
        return "skipped"
    if notes["error"] or notes["unobserved"]:
        return "error"
    if notes["failed"]:
        return "failed"
    judged = any(f.verdict in (Verdict.PASS, Verdict.WARN, Verdict.FAIL) for f in findings)
    return "passed" if judged else "inconclusive"
