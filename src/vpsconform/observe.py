"""Watching asynchronous work on the target's (scaled) clock: snapshot lifecycles and restores.

Every documented duration is in production minutes; a :class:`Timing` turns them into seconds on the
target's clock (``time_scale``) with the run's tolerance, and paces polling on the same clock so a scaled
target is polled as politely, in relative terms, as production.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

from vpsconform.client import ApiClient, json_or_none, list_items
from vpsconform.contract import CREATE_MAX_MINUTES, POLL_SECONDS, RESTORE_MAX_MINUTES
from vpsconform.errors import NoAnswer, ObservationError
from vpsconform.ledger import same_id


@dataclasses.dataclass(frozen=True)
class Timing:
    """Documented maxima and the polling pace, in seconds on the target's clock."""

    time_scale: float
    tolerance: float

    @property
    def create_max(self) -> float:
        """Longest a snapshot may take to complete, tolerance included."""
        return CREATE_MAX_MINUTES * 60 * self.time_scale * (1 + self.tolerance)

    @property
    def restore_max(self) -> float:
        """Longest a restore may take to finish, tolerance included."""
        return RESTORE_MAX_MINUTES * 60 * self.time_scale * (1 + self.tolerance)

    @property
    def longest_chain(self) -> float:
        """The longest documented wait chain a scenario needs: two snapshots and a restore, plus polling."""
        return 2 * self.create_max + self.restore_max + 5 * self.poll_interval

    @property
    def poll_interval(self) -> float:
        """Seconds between two polls."""
        return max(0.01, POLL_SECONDS * self.time_scale)

    def minutes(self, seconds: float) -> float:
        """Seconds on the target's clock expressed as production minutes."""
        return seconds / 60 / self.time_scale


@dataclasses.dataclass
class Observation:
    """One poll of a snapshot: when (seconds since the watch began) and what the list said."""

    at: float
    status: str | None
    item: dict[str, Any] | None


@dataclasses.dataclass
class Timeline:
    """What a watch saw, in order; ``final`` is the last status seen (None when the snapshot vanished)."""

    observations: list[Observation]
    elapsed: float
    timed_out: bool

    @property
    def final(self) -> str | None:
        """The last status seen."""
        return self.observations[-1].status if self.observations else None

    @property
    def completed_at(self) -> float | None:
        """Seconds from the start of the watch to the first ``completed`` poll."""
        return next((o.at for o in self.observations if o.status == "completed"), None)


def poll_until(
    condition: Callable[[], Any], limit: float, interval: float, *, started: float | None = None
) -> tuple[Any, float]:
    """Call ``condition`` every ``interval`` seconds until it returns something truthy or ``limit`` passes.

    Returns (the last value, seconds since ``started``); the last value is falsy when the limit ran out.
    """
    start = time.monotonic() if started is None else started
    while True:
        value = condition()
        elapsed = time.monotonic() - start
        if value or elapsed > limit:
            return value, elapsed
        time.sleep(min(interval, max(0.0, limit - elapsed) + interval / 10))


def read_list(api: ApiClient, server_id: int | None = None) -> list[dict[str, Any]]:
    """The snapshots of one list call; ObservationError when the list cannot be read."""
    try:
        response = api.list_snapshots(server_id)
    except NoAnswer as exc:
        raise ObservationError(f"the snapshot list could not be read: {exc}") from None
    items = list_items(response)
    if items is None:
        raise ObservationError(f"the snapshot list could not be read: answered {response.status_code}")
    return items


def find_snapshot(api: ApiClient, snapshot_id: int, server_id: int | None) -> dict[str, Any] | None:
    """The list item of one snapshot (looked up through the server filter), or None when it is absent.

    Raises ObservationError when the list itself cannot be read, so "absent" is never a guess.
    """
    return next((item for item in read_list(api, server_id) if same_id(item.get("id"), snapshot_id)), None)


def watch_snapshot(
    api: ApiClient,
    snapshot_id: int,
    server_id: int | None,
    timing: Timing,
    *,
    limit: float | None = None,
    started: float | None = None,
    notify: Callable[[str], None] | None = None,
) -> Timeline:
    """Poll until the snapshot is ``completed`` or ``failed`` (or vanishes), or ``limit`` seconds pass."""
    limit = timing.create_max if limit is None else limit
    start = time.monotonic() if started is None else started
    if notify:
        notify(f"waiting up to {limit:.1f} s for snapshot {snapshot_id} to complete")
    observations: list[Observation] = []
    while True:
        item = find_snapshot(api, snapshot_id, server_id)
        now = time.monotonic() - start
        status = item.get("status") if item else None
        observations.append(Observation(now, status if isinstance(status, str) else repr(status), item))
        if item is None or status in ("completed", "failed"):
            return Timeline(observations, now, timed_out=False)
        if now > limit:
            return Timeline(observations, now, timed_out=True)
        time.sleep(timing.poll_interval)


def server_status(api: ApiClient, server_id: int) -> str | None:
    """The server's status from the provider's servers API, or None when the target has no such API.

    A 404/405/501 or a body without a status means "no servers API here"; anything else that is not a
    readable status (a transport error, 429 after the client's retries, another 5xx or 4xx) is an
    ObservationError: the API exists but could not be read this time.
    """
    try:
        response = api.get_server(server_id)
    except NoAnswer as exc:
        raise ObservationError(f"the servers API could not be read: {exc}") from None
    body = json_or_none(response)
    if response.status_code in (404, 405, 501):
        return None
    if response.status_code != 200:
        raise ObservationError(f"the servers API answered {response.status_code} for server {server_id}")
    status = body.get("status") if isinstance(body, dict) else None
    return status if isinstance(status, str) else None


def watch_restore(
    api: ApiClient,
    server_id: int,
    timing: Timing,
    *,
    limit: float | None = None,
    started: float | None = None,
    notify: Callable[[str], None] | None = None,
) -> tuple[float | None, list[str]]:
    """Poll the servers API until the server is no longer ``restoring``.

    Returns (seconds until it finished, or None if it did not within ``limit``; the statuses seen). An empty
    status list means the servers API is not available on this target. Raises ObservationError when the API
    cannot be read, or when the server never showed ``restoring`` (nothing tells when the restore ended).
    """
    limit = timing.restore_max if limit is None else limit
    start = time.monotonic() if started is None else started
    if notify:
        notify(f"waiting up to {limit:.1f} s for server {server_id} to finish restoring")
    seen: list[str] = []
    grace = 5 * timing.poll_interval  # a server may show `stopping` first (docs: stopped before restoring)
    while True:
        status = server_status(api, server_id)
        now = time.monotonic() - start
        if status is None:
            return None, seen
        if not seen or seen[-1] != status:
            seen.append(status)
        if status != "restoring" and "restoring" in seen:
            return now, seen
        if status != "restoring" and now > grace:
            raise ObservationError(
                f"server {server_id} never showed 'restoring' (saw {', '.join(seen)}): "
                "when its restore ended cannot be told"
            )
        if now > limit:
            return None, seen
        time.sleep(timing.poll_interval)
