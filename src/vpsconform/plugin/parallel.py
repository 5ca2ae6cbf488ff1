"""Scenarios in parallel (``vpsconform run --jobs N``) with pytest-xdist: one report, one rate budget.

The controller (the `vpsconform run` process) hands each worker the run's configuration in memory, deals the
tests longest wait first, and gathers every finding, measurement and test outcome from the workers' reports
into its own run state, so judging, cleanup and reporting happen once, as in a serial run. Workers journal to
the run's one ledger file and lease servers through lock files, so no two scenarios share a server.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from xdist.scheduler import LoadScheduling

from vpsconform.config import RunConfig
from vpsconform.plugin.scope import read_scope, scope_statement
from vpsconform.plugin.state import RunState, state_of
from vpsconform.verdicts import Finding

PAYLOAD = "vpsconform"


def config_to_wire(config: RunConfig) -> dict[str, Any]:
    """The configuration as plain data for a worker (sent over xdist's channel, never written to disk)."""
    data = dataclasses.asdict(config)
    return {key: str(value) if isinstance(value, Path) else value for key, value in data.items()}


def config_from_wire(data: dict[str, Any]) -> RunConfig:
    """The configuration a worker received."""
    fields = dict(data)
    for key in ("report_dir", "config_file"):
        fields[key] = Path(fields[key]) if fields.get(key) else None
    for key in ("server_ids", "foreign_server_ids", "notes"):
        fields[key] = tuple(fields[key])
    return RunConfig(**fields)


def waits(item: pytest.Item) -> float:
    """The documented wait chain of a test in production minutes (``@pytest.mark.waits(minutes)``)."""
    marker = item.get_closest_marker("waits")
    return float(marker.args[0]) if marker else 0.0


def longest_first(items: list[pytest.Item]) -> None:
    """Order tests by their documented wait chain, longest first (stable, so every worker agrees)."""
    items.sort(key=lambda item: -waits(item))


class LongestFirst(LoadScheduling):
    """Deal tests in collection order (longest wait first), one at a time, two queued per worker.

    xdist's default sends consecutive chunks, which would hand one worker the two longest scenarios; a worker
    needs its next test queued before it finishes one, so each holds at most two.
    """

    collection: list[str] | None

    def schedule(self) -> None:
        """The first deal: worker k gets tests k and k + N."""
        assert self.collection_is_completed
        if self.collection is not None:
            for node in self.nodes:
                self.check_schedule(node)
            return
        if not self._check_nodes_have_same_collection():
            self.log("**Different tests collected, aborting run**")
            return
        self.collection = collection = next(iter(self.node2collection.values()))
        self.pending[:] = range(len(collection))
        for _ in range(2):
            for node in self.nodes:
                self._send_tests(node, 1)
        if not self.pending:
            for node in self.nodes:
                node.shutdown()

    def check_schedule(self, node: Any, duration: float = 0) -> None:
        """Top a worker up to two queued tests; shut it down when nothing is left to deal."""
        if node.shutting_down:
            return
        if not self.pending:
            node.shutdown()
        elif len(self.node2pending[node]) < 2:
            self._send_tests(node, 1)


def finished_test(state: RunState, nodeid: str, outcome: dict[str, Any], measured: int) -> dict[str, Any]:
    """What a worker sends about one finished test: its findings, measurements and outcome."""
    return {
        "findings": [f.to_dict() for f in state.findings.for_test(nodeid)],
        "measurements": state.measurements[measured:],
        "test": outcome,
    }


def merge_test(state: RunState, payload: dict[str, Any]) -> None:
    """Take one worker test's payload into the controller's run state."""
    for data in payload["findings"]:
        state.findings.add(Finding.from_dict(data))
    state.measurements.extend(payload["measurements"])
    test = payload["test"]
    state.tests.append(test)
    if state.preset:
        state.preset.on_test(test["test"], test["outcome"], test["requirements"])


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """Hand a new worker the run's configuration and identity."""
    state = state_of(node.config)
    if state is not None:
        node.workerinput[PAYLOAD] = {"config": config_to_wire(state.config), "run_id": state.run_id}


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node: Any, ids: list[str]) -> None:
    """On the controller: state the scope the first worker collected, before any test is sent."""
    state = state_of(node.config)
    if state is None or state.scope_stated:
        return
    left_out = read_scope(state.shared)
    if left_out is not None:
        state.scope_stated = True
        state.out_of_scope = left_out
        state.announce(scope_statement(state.catalog, left_out))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> LongestFirst | None:
    """Longest documented wait first, for conformance runs."""
    return LongestFirst(config, log) if state_of(config) is not None else None


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """On the controller: gather a worker's findings as each of its tests ends."""
    if report.when != "teardown" or not hasattr(report, "node"):
        return
    payload = dict(report.user_properties).get(PAYLOAD)
    state = state_of(report.node.config)
    if isinstance(payload, dict) and state is not None:
        merge_test(state, payload)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """On the controller: a worker's scope, request count and findings made between tests."""
    state = state_of(node.config)
    output = getattr(node, "workeroutput", {}).get(PAYLOAD)
    if state is None or output is None:
        return
    state.out_of_scope = state.out_of_scope or output["out_of_scope"]
    state.requests += output["requests"]
    state.stopped = state.stopped or output.get("stopped")
    for data in output["findings"]:
        state.findings.add(Finding.from_dict(data))
