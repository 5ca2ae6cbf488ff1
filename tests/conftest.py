"""Fixtures: the documentation page, reference targets on free loopback ports, and clients for their accounts.

The page (`vpsorg-snapshots-api.en.md`) is found from $VPSCONFORM_DOCS (the file itself, or a directory
holding it) or else in `../shared/seed/` next to the repository. Tests needing it skip with a reason when it
is absent, and fail instead when VPSCONFORM_REQUIRE_DOCS=1 (as CI sets) or when $VPSCONFORM_DOCS names a
place where it is not.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import httpx
import pytest

from vpsconform.reference.options import TargetOptions
from vpsconform.reference.server import RunningTarget, start

REPO_ROOT = Path(__file__).resolve().parents[1]
DOCS_PAGE = "vpsorg-snapshots-api.en.md"
DEFAULT_DOCS_DIR = REPO_ROOT.parent / "shared" / "seed"


@pytest.fixture(scope="session")
def docs_page() -> Path:
    """The documentation page (see the module docstring for where it is looked for)."""
    configured = os.environ.get("VPSCONFORM_DOCS")
    candidate = Path(configured) if configured else DEFAULT_DOCS_DIR / DOCS_PAGE
    if candidate.is_dir():
        candidate = candidate / DOCS_PAGE
    if candidate.is_file():
        return candidate
    if configured:
        pytest.fail(f"VPSCONFORM_DOCS={configured} is neither {DOCS_PAGE} nor a directory holding it")
    reason = f"documentation page not found at {candidate}; set VPSCONFORM_DOCS to it or to its directory"
    if os.environ.get("VPSCONFORM_REQUIRE_DOCS") == "1":
        pytest.fail(f"{reason} (VPSCONFORM_REQUIRE_DOCS=1)")
    pytest.skip(reason)


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
        target.stop(wait=False)  # it winds down while the next test runs (a fresh target on its own port)


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
