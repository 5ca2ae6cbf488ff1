"""Before the tests: tell a wrong target from a nonconformant one, in seconds, with one line naming the cause.

`vpsconform run` first asks, before a run starts: does the documented list answer as the API would? A
redirect, a 403, a 404 or a body that is not JSON means --target (or --token) points elsewhere. Then, inside
the session, through the run's own client (rate cap, interlock, ledger, evidence): a list that answers only
5xx stops the run (the 5xx is reported); one snapshot is created to see whether the target keeps state (a
created snapshot that never appears in the list: a stateless mock, judged without waiting out windows) and,
on a scaled clock, whether its clock is the one --time-scale names.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

import httpx

from vpsconform.client import SNAPSHOTS, ApiClient, json_or_none, list_items
from vpsconform.contract import SNAPSHOT_LIMIT
from vpsconform.errors import NoAnswer, ObservationError, TargetProblem, TargetSilent
from vpsconform.ledger import snapshot_id_of
from vpsconform.observe import Timing, find_snapshot, watch_snapshot

if TYPE_CHECKING:
    from vpsconform.plugin.state import RunState

#: Lists sent before a target answering only 5xx is given up on, and the longest pause between two.
LIST_TRIES = 3
LIST_PAUSE = 2.0
#: Reads of the list that must all miss a created snapshot before the target is called stateless.
STATE_READS = 3
#: The clock check waits for the first snapshot this many times its scaled window (tolerance included)...
CLOCK_FACTOR = 10
#: ...but no longer than this many real seconds, and never less than three windows.
CLOCK_REAL_SECONDS = 45.0
#: A first snapshot that took this many windows or more names a clock mismatch.
MISMATCH_FACTOR = 3


def api_base(target: str) -> str:
    """The base URL of a --target given with the documented path (``…/api/v1/snapshots/``, as `serve`
    prints it): requests append that path themselves."""
    parts = urlsplit(target)
    path = parts.path.rstrip("/")
    documented = SNAPSHOTS.rstrip("/")
    if not path.endswith(documented):
        return target
    return urlunsplit(parts._replace(path=path[: -len(documented)])).rstrip("/")


def wrong_target(response: httpx.Response) -> str | None:
    """Why an answer to the documented list shows --target is not the API (None: it may well be)."""
    what, status = f"GET {SNAPSHOTS}", response.status_code
    if 300 <= status < 400:
        where = response.headers.get("Location", "elsewhere")
        return f"{what} answered {status} (a redirect to {where}): is --target the API's base URL?"
    if status == 403:
        return (
            f"{what} answered 403 to the configured --token: the account may not use the snapshots API "
            "(or --target is not the API)"
        )
    if status == 404:
        return f"{what} answered 404: is --target the API's base URL?"
    if 200 <= status < 300 and json_or_none(response) is None:
        kind = response.headers.get("Content-Type", "no content type").split(";")[0].strip()
        return f"{what} answered {kind}, not JSON: is --target the API's base URL?"
    return None


def check_list(api: ApiClient, timing: Timing) -> None:
    """The documented list, asked up to LIST_TRIES times while it answers 5xx; TargetProblem when it never
    answers otherwise, or answers as something other than the API."""
    statuses: list[int] = []
    for attempt in range(LIST_TRIES):
        if attempt:
            time.sleep(min(timing.poll_interval, LIST_PAUSE))
        response = api.list_snapshots()
        statuses.append(response.status_code)
        if response.status_code < 500:
            cause = wrong_target(response)
            if cause:
                raise TargetProblem(cause)
            return
    raise TargetProblem(
        f"GET {SNAPSHOTS} answered {', '.join(map(str, statuses))}: the target cannot list snapshots "
        "(reported as server errors; the run stops)"
    )


def clock_limit(timing: Timing) -> float:
    """How long the clock check waits for the first snapshot to complete, in real seconds."""
    window = timing.create_max
    return max(MISMATCH_FACTOR * window, min(CLOCK_FACTOR * window, CLOCK_REAL_SECONDS))


def _room(api: ApiClient, server_id: int) -> int:
    body = json_or_none(api.list_snapshots(server_id))
    results = body.get("results") if isinstance(body, dict) else None
    return SNAPSHOT_LIMIT - len(results) if isinstance(results, list) else 0


def _first_snapshot(state: RunState) -> tuple[int, int] | None:
    """Create one snapshot on the first server with room; (its id, the server) or None when none could be."""
    api = state.client("main")
    server_id = next((sid for sid in state.config.server_ids if _room(api, sid) > 0), None)
    if server_id is None:
        return None
    response = api.create_snapshot(server_id, state.names("preflight"))
    body = json_or_none(response)
    snapshot_id = snapshot_id_of(body.get("id")) if isinstance(body, dict) else None
    if not 200 <= response.status_code < 300 or snapshot_id is None:
        return None
    return snapshot_id, server_id


def stateless(api: ApiClient, snapshot_id: int, server_id: int, timing: Timing) -> str | None:
    """Why the target looks stateless (a snapshot it created never appears in its lists), or None."""
    started = time.monotonic()
    for attempt in range(STATE_READS):
        if attempt:
            time.sleep(max(timing.poll_interval, 0.2))
        listed = [item.get("id") for item in list_items(api.list_snapshots()) or []]
        found = find_snapshot(api, snapshot_id, server_id)
        if found is not None or any(snapshot_id_of(value) == snapshot_id for value in listed):
            return None
    return (
        f"snapshot {snapshot_id}, created on server {server_id}, never appeared in the list "
        f"({STATE_READS} reads over {time.monotonic() - started:.1f} s): the target keeps no state"
    )


def check_clock(api: ApiClient, snapshot_id: int, server_id: int, timing: Timing) -> None:
    """TargetProblem when the first snapshot overran its scaled window many times: a clock mismatch."""
    window = timing.create_max
    watched = watch_snapshot(api, snapshot_id, server_id, timing, limit=clock_limit(timing))
    times = watched.elapsed / window
    scale = f"its window of {window:.1f} s at --time-scale {timing.time_scale:g}: is --time-scale right?"
    if watched.timed_out and watched.final == "in_progress":
        raise TargetProblem(f"the first snapshot was still in_progress after {times:.0f} x {scale}")
    done = watched.completed_at
    if done is not None and done / window >= MISMATCH_FACTOR:
        raise TargetProblem(f"the first snapshot took {done / window:.0f} x {scale}")


def check_target(state: RunState) -> None:
    """The session's preflight (see the module docstring); TargetProblem ends the run with its line.

    The embedded target keeps state on the clock it was given, so it is only asked for its list.
    """
    api = state.client("main")
    check_list(api, state.timing)
    if state.config.embedded:
        return
    first = _first_snapshot(state)
    if first is None:
        return
    try:
        keeps_nothing = stateless(api, *first, state.timing)
        if keeps_nothing:
            state.announce(f"{keeps_nothing}: waits for its snapshots end as soon as they are not listed")
        elif state.config.time_scale < 1 and state.config.profile != "smoke":
            check_clock(api, *first, state.timing)
    except TargetSilent:
        raise
    except (ObservationError, NoAnswer) as exc:  # not observed: the tests will meet it too
        state.announce(f"preflight: {exc}")
    finally:
        _forget(state, first[0])


def _forget(state: RunState, snapshot_id: int) -> None:
    """Delete the preflight's snapshot (deferred like a test's when the target refuses for now)."""
    entries = [entry for entry in state.ledger.alive() if entry.snapshot_id == snapshot_id]
    if entries:
        state.sweeper().run(0.0, only=entries)
        state.deferred.extend(entry for entry in entries if entry.alive)
