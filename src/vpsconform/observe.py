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

CREATE_MAX_MINUTES = 10
RESTORE_MAX_MINUTES = 15
POLL_SECONDS = 10  # production polling interval


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
    def statuses(self) -> list[str | None]:
        """Distinct statuses in the order they were first seen."""
        seen: list[str | None] = []
        for obs in self.observations:
            if not seen or seen[-1] != obs.status:
                seen.append(obs.status)
        return seen

    @property
    def completed_at(self) -> float | None:
        """Seconds from the start of the watch to the first ``completed`` poll."""
        return next((o.at for o in self.observations if o.status == "completed"), None)


def find_snapshot(api: ApiClient, snapshot_id: int, server_id: int | None) -> dict[str, Any] | None:
    """The list item of one snapshot (looked up through the server filter), or None when it is absent."""
    items = list_items(api.list_snapshots(server_id)) or []
    return next((item for item in items if item.get("id") == snapshot_id), None)


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
    """The server's status from the provider's servers API, or None when that API is not available."""
    response = api.get_server(server_id)
    body = json_or_none(response)
    if response.status_code != 200 or not isinstance(body, dict):
        return None
    status = body.get("status")
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

    Returns (seconds until it finished, or None if it did not within ``limit`` or cannot be watched; the
    statuses seen). An empty status list means the servers API is not available on this target.
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
        if status != "restoring" and ("restoring" in seen or now > grace):
            return now, seen
        if now > limit:
            return None, seen
        time.sleep(timing.poll_interval)
