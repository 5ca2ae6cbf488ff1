"""The fixtures conformance tests use: clients, the checker, snapshots, servers, probes, names, timing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from vpsconform.client import ApiClient
from vpsconform.config import RunConfig
from vpsconform.observe import Timing
from vpsconform.plugin.resources import Servers, Snapshots
from vpsconform.plugin.state import Names, RunState, state_of
from vpsconform.probes import Probes
from vpsconform.verdicts import Checker


@pytest.fixture(scope="session")
def run_state(request: pytest.FixtureRequest) -> RunState:
    """The session's shared state (only for conformance tests)."""
    state = state_of(request.config)
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


@pytest.fixture
def snapshots(run_state: RunState) -> Iterator[Snapshots]:
    """A per-test snapshot factory with guaranteed cleanup."""
    factory = Snapshots(run_state)
    yield factory
    factory.cleanup()


@pytest.fixture(scope="session")
def servers(run_state: RunState) -> Servers:
    """The server pool of the account under test."""
    return Servers(run_state)


@pytest.fixture(scope="session")
def names(run_state: RunState) -> Names:
    """Unique, valid snapshot names for this run: ``names("label")``; ``names.prefix`` starts every one."""
    return run_state.names
