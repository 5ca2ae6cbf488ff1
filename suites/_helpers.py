"""Helpers several suite modules share (not collected): new ids, removals, restores waited out, safe ids."""

from __future__ import annotations

import time
from typing import Any

import httpx

from vpsconform.client import ApiClient, json_or_none
from vpsconform.contract import ABSENT_ID
from vpsconform.observe import Timing, poll_until

#: Malformed path ids that a lenient parser (int(float(x)), leading digits, Unicode digits, surrounding
#: whitespace, percent-decoding) can only read as ABSENT_ID, or as nothing: never as another account's id.
MALFORMED_ABSENT_IDS = (
    f"{ABSENT_ID}.5",
    f"{ABSENT_ID}e0",
    f"{ABSENT_ID}abc",
    f"{ABSENT_ID}%00",
    f"%20{ABSENT_ID}",
    "".join(chr(0x0660 + int(d)) for d in str(ABSENT_ID)),  # Arabic-Indic digits
    "abc",
    "null",
    "%00",
    "%F0%9F%92%A5",
    "9" * 26,  # beyond 64 bits
)


def new_snapshot_id(response: httpx.Response) -> int | None:
    """The id of the snapshot a 201 answer announces, or None."""
    body = json_or_none(response)
    snapshot_id = body.get("id") if isinstance(body, dict) and response.status_code == 201 else None
    return snapshot_id if isinstance(snapshot_id, int) and not isinstance(snapshot_id, bool) else None


def remove(api: ApiClient, snapshot_id: Any, timing: Timing) -> bool:
    """Delete a snapshot this run created; a refusal (still in progress) is retried until it completes."""
    removed, _ = poll_until(
        lambda: api.delete_snapshot(snapshot_id).status_code in (204, 404),
        timing.create_max,
        timing.poll_interval,
    )
    return bool(removed)


def wait_out_restore(servers: Any, timing: Timing, server_id: int, *, started: float | None = None) -> None:
    """A restore was started (perhaps wrongly): wait until it ends, or out the documented maximum when the
    target has no servers API to show its end."""
    started = time.monotonic() if started is None else started
    _, seen = servers.watch_restore(server_id, started=started)
    if not seen:
        time.sleep(max(0.0, started + timing.restore_max - time.monotonic()))
