"""Fixtures that start reference targets on free loopback ports and give clients for their accounts."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import httpx
import pytest

from vpsconform.reference.options import TargetOptions
from vpsconform.reference.server import RunningTarget, start


@pytest.fixture
def start_reference_target() -> Iterator[Callable[..., RunningTarget]]:
    """Factory starting fresh targets (default time scale 0.01); all are stopped after the test."""
    started: list[RunningTarget] = []

    def _start(
        time_scale: float = 0.01, variants: Iterable[str] = (), faults: Iterable[str] = ()
    ) -> RunningTarget:
        target = start(TargetOptions(time_scale, frozenset(variants), frozenset(faults)))
        started.append(target)
        return target

    yield _start
    for target in started:
        target.stop()


@pytest.fixture
def reference_client() -> Iterator[Callable[..., httpx.Client]]:
    """Factory of httpx clients authenticated as an account ("main" by default); closed after the test."""
    clients: list[httpx.Client] = []

    def _client(target: RunningTarget, account: str = "main") -> httpx.Client:
        token = target.account(account).token
        client = httpx.Client(base_url=target.url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
        clients.append(client)
        return client

    yield _client
    for client in clients:
        client.close()


@pytest.fixture
def reference_target(start_reference_target: Callable[..., RunningTarget]) -> RunningTarget:
    """A fresh faithful target at time scale 0.01 (a documented minute lasts 0.6 s)."""
    return start_reference_target()


@pytest.fixture
def main_client(
    reference_target: RunningTarget, reference_client: Callable[..., httpx.Client]
) -> httpx.Client:
    """Client of the target's main account."""
    return reference_client(reference_target, "main")


@pytest.fixture
def foreign_client(
    reference_target: RunningTarget, reference_client: Callable[..., httpx.Client]
) -> httpx.Client:
    """Client of the target's second ("foreign") account."""
    return reference_client(reference_target, "foreign")
