"""Helpers of the LIMIT scenarios (not collected): creates retried past 429, a server's holdings, refusals."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import httpx
from _helpers import remove

from vpsconform.client import ApiClient, server_of
from vpsconform.errors import ObservationError
from vpsconform.observe import Timing
from vpsconform.plugin.resources import Snapshots
from vpsconform.plugin.state import Names
from vpsconform.verdicts import Checker

RETRIES_ON_429 = 3


def create(
    snapshots: Snapshots, server_id: int, name: str, timing: Timing, asked: dict[int, set[str]]
) -> tuple[httpx.Response, dict | None]:
    """``snapshots.create``, retried a few times, politely, while the target answers 429 Too Many Requests
    (rate limiting says nothing about the snapshot limit)."""
    asked.setdefault(server_id, set()).add(name)
    for _ in range(RETRIES_ON_429):
        response, body = snapshots.create(server_id, name=name)
        if response.status_code != 429:
            break
        try:
            pause = float(response.headers.get("Retry-After", ""))
        except ValueError:
            pause = timing.poll_interval
        time.sleep(min(max(pause, timing.poll_interval), 60.0))
    return response, body


def same_id(a: Any, b: Any) -> bool:
    """Ids compared as the API might render them (an integer, or its decimal string)."""
    return not isinstance(a, bool) and a is not None and str(a) == str(b)


def holdings(api: ApiClient, server_id: int) -> list[dict[str, Any]] | None:
    """Every snapshot the account's lists show on one server (None when neither list can be read).

    The server filter is read first, then the unfiltered list; an item keeps its first observation, so an item
    seen ``in_progress`` was in progress when the lists were requested.
    """
    seen: dict[Any, dict[str, Any]] = {}
    readable = False
    for scope in (server_id, None):
        _, items = api.list_all(scope)
        if items is None:
            continue
        readable = True
        for item in items:
            if same_id(server_of(item), server_id):
                key = (
                    item.get("id")
                    if item.get("id") is not None
                    else (item.get("name"), item.get("created_at"))
                )
                seen.setdefault(key, item)
    return list(seen.values()) if readable else None


def describe(items: list[dict[str, Any]]) -> str:
    """``5 snapshots (5 in_progress)`` for messages."""
    states: dict[str, int] = {}
    for item in items:
        states[str(item.get("status"))] = states.get(str(item.get("status")), 0) + 1
    return f"{len(items)} snapshot(s) ({', '.join(f'{n} {s}' for s, n in sorted(states.items()))})"


def full_requirement(items: list[dict[str, Any]]) -> str:
    """Which facet of the every-state limit a create on this full server exercises.

    All completed: LIMIT-03. Otherwise at least one snapshot is still unfinished, so reaching five requires
    counting unfinished snapshots: LIMIT-02 (the message names the exact mix).
    """
    return "LIMIT-03" if items and all(item.get("status") == "completed" for item in items) else "LIMIT-02"


@dataclasses.dataclass
class Bench:
    """A LIMIT scenario on its leased server: what its steps share (the names it sends are kept in ``asked``,
    for the ``asked`` fixture's teardown)."""

    check: Checker
    api: ApiClient
    snapshots: Snapshots
    names: Names
    timing: Timing
    asked: dict[int, set[str]]
    server_id: int

    def create(self, name: str, server_id: int | None = None) -> tuple[httpx.Response, dict | None]:
        """A create on this server (or ``server_id``), retried past 429."""
        target = self.server_id if server_id is None else server_id
        return create(self.snapshots, target, name, self.timing, self.asked)

    def holdings(self) -> list[dict[str, Any]] | None:
        """Every snapshot the lists show on this server (None when neither list can be read)."""
        return holdings(self.api, self.server_id)

    def remove(self, snapshot_id: Any) -> None:
        """Delete a snapshot this run created, retried while refused."""
        remove(self.api, snapshot_id, self.timing)


def refused_create_created_nothing(
    bench: Bench, before: list[dict[str, Any]], refused_name: str, what: str
) -> list[dict[str, Any]] | None:
    """LIMIT-07 after a refused create: nothing new on the server, nothing with the refused name, all kept."""
    after = bench.holdings()
    if after is None:
        bench.check.inconclusive(
            "LIMIT-07", f"{what}: the list could not be read to see what the refusal left"
        )
        return None
    before_ids = {str(item.get("id")) for item in before}
    after_ids = {str(item.get("id")) for item in after}
    appeared = sorted(after_ids - before_ids)
    vanished = sorted(before_ids - after_ids)
    named = [item.get("id") for item in after if item.get("name") == refused_name]
    bench.check.that(
        "LIMIT-07",
        not appeared and not named and not vanished and len(after) == len(before),
        f"{what}: before it the server held {len(before)}, afterwards {describe(after)}; new ids {appeared}, "
        f"ids gone {vanished}, items named {refused_name!r}: {named}",
    )
    # Created by this run's refused request: ours to clean up, and unknown to the registry.
    for snapshot_id in named:
        bench.remove(snapshot_id)
    return after


def after_refusal(
    bench: Bench,
    before: list[dict[str, Any]],
    refused_name: str,
    response: httpx.Response,
    extra: dict[str, Any] | None,
) -> None:
    """After a create beyond the limit: take a wrongly accepted one back out, or judge what a refusal left."""
    if extra is not None:
        bench.remove(extra["id"])  # wrongly accepted: take it back out so the server holds 5 again
    elif 400 <= response.status_code < 500:
        what = f"create refused with {response.status_code}"
        refused_create_created_nothing(bench, before, refused_name, what)


def fill(bench: Bench, room: int, rid: str | None) -> list[dict]:
    """Fill the server's free slots with our snapshots; with ``rid``, every create is judged (201 expected).

    Without ``rid`` a refused create ends the test with the requirement(s) the caller left undecided.
    """
    ours: list[dict[str, Any]] = []
    for index in range(max(room, 0)):
        response, body = bench.create(bench.names("lim-fill"))
        what = f"create {index + 1} of {room} on server {bench.server_id}"
        if rid is not None:
            bench.check.status(rid, response, what, stop=True)
        elif body is None:
            raise ObservationError(f"setup: {what} answered {response.status_code}")
        if body is not None:
            ours.append(body)
    if rid is not None and room > 0:
        bench.check.that(
            rid,
            len(ours) == room,
            f"{len(ours)} of {room} accepted creates on server {bench.server_id} returned a snapshot id",
            stop=True,
        )
    return ours


def refuse_on_full(bench: Bench, before: list[dict[str, Any]], rid: str, label: str) -> None:
    """A create on the full server (holding ``before``) is refused (``rid``) and leaves nothing (LIMIT-07)."""
    refused_name = bench.names(label)
    response, extra = bench.create(refused_name)
    bench.check.status(rid, response, f"create on server {bench.server_id} holding {describe(before)}")
    after_refusal(bench, before, refused_name, response, extra)
