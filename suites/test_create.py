"""CREATE: a create answers 201 with the new snapshot, always makes a new one, and is refused while restoring.

Defects these tests catch: 200/202 instead of 201; an answer that describes another server or changes the name
or description; a snapshot born `failed`, `pending` or without status; creates deduplicated by name (the
second identical request returns the first snapshot, overwrites it or is refused); a `Location` that points at
the collection or another snapshot; snapshots started on a server in the middle of a restore; an omitted
description that comes back as "None", "null" or some default text; a numeric string server id that crashes
the target or lands on another server.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from _helpers import wait_out_restore

from vpsconform.client import SNAPSHOTS, server_of
from vpsconform.contract import CREATE_MAX_MINUTES, RESTORE_MAX_MINUTES, RESTORE_MIN_MINUTES
from vpsconform.ledger import same_id
from vpsconform.observe import server_status

_MISSING = object()


def listed_ids(api, server_id: int) -> tuple[httpx.Response, dict[Any, dict[str, Any]]]:
    """The server's filtered list answer and its items by id (every page, should the provider paginate)."""
    first, items = api.list_all(server_id)
    return first, {item.get("id"): item for item in items or []}


def description_is_empty(check, where: str, item: dict[str, Any], evidence: httpx.Response) -> None:
    """CREATE-07: a snapshot created without a description shows it as null or "" (or omits it)."""
    given = item.get("description", _MISSING)
    shown = "(absent)" if given is _MISSING else repr(given)
    check.that("CREATE-07", given in (None, ""), f"{where} description is {shown}", evidence=evidence)


#: Why a test that got no server cannot decide anything.
NO_ROOM = "no configured server has enough free snapshot slots"


@pytest.mark.requirement("CREATE-01", "CREATE-02", "CREATE-03", "CREATE-05")
def test_create_answers_201_with_the_new_snapshot(check, servers, snapshots, names):
    """POST {server_id, name, description} -> 201 with that server, name, description and a starting status.

    Catches: 200/202 instead of 201; a body for another server or with the name/description altered; a body
    without an id; status `failed`, `pending`, `queued` or missing; a Location to the collection or another
    id.
    """
    with servers.lease(room=1) as server_id:
        if server_id is None:
            check.undecidable(NO_ROOM)
        name, description = names("create"), "vpsconform create check"
        response, body = snapshots.create(server_id, name=name, description=description)
        check.status("CREATE-01", response, f"create on own server {server_id}", stop=True)
        check.that(
            "CREATE-02",
            body is not None,
            "the 201 body is a JSON object with an integer id",
            evidence=response,
            stop=True,
        )
        check.that(
            "CREATE-02",
            server_of(body) == server_id,
            f"201 body server.id is {server_of(body)!r}, requested {server_id}",
            evidence=response,
        )
        check.that(
            "CREATE-02",
            body.get("name") == name,
            f"201 body name is {body.get('name')!r}, sent {name!r}",
            evidence=response,
        )
        check.that(
            "CREATE-02",
            body.get("description") == description,
            f"201 body description is {body.get('description')!r}, sent {description!r}",
            evidence=response,
        )
        status = body.get("status", "(absent)")
        check.that(
            "CREATE-03",
            status in ("in_progress", "completed"),
            f"new snapshot starts with status {status!r}",
            evidence=response,
        )
        location = response.headers.get("Location")
        if location is None:
            check.that("CREATE-05", True, "no Location header on the 201 (it is optional)")
        else:
            path = response.request.url.join(location).path
            expected = f"{SNAPSHOTS}{body['id']}/"
            check.that(
                "CREATE-05",
                path.rstrip("/").endswith(expected.rstrip("/")),
                f"Location is {location!r}; it must end with {expected}",
                evidence=response,
            )


@pytest.mark.requirement("CREATE-04")
def test_identical_creates_make_two_snapshots(api, check, servers, snapshots, names):
    """The same request twice -> two 201s with two different ids, both listed on the server.

    Catches: creates deduplicated by name (same id again, 200, 409 or 400 "already exists"), the second
    snapshot replacing the first (the first id is gone from the list), ids reused.
    """
    with servers.lease(room=2) as server_id:
        if server_id is None:
            check.undecidable(NO_ROOM)
        request = {"name": names("twin"), "description": "vpsconform identical twin"}
        first, one = snapshots.create(server_id, **request)
        if one is None:  # a plain create failing is CREATE-01's finding; nothing to compare here
            check.inconclusive("CREATE-04", f"the first create answered {first.status_code} without a new id")
            return None
        second, two = snapshots.create(server_id, **request)
        check.status("CREATE-04", second, "second, identical create", expected=(201,))
        ids = [one["id"]] + ([two["id"]] if two is not None else [])
        if two is not None:
            check.that(
                "CREATE-04",
                not same_id(two["id"], one["id"]),
                f"identical creates gave ids {one['id']} and {two['id']}",
                evidence=second,
            )
        response, items = listed_ids(api, server_id)
        for snapshot_id in ids:
            check.that(
                "CREATE-04",
                snapshot_id in items,
                f"snapshot {snapshot_id} is listed on server {server_id} after both creates",
                evidence=response,
            )


@pytest.mark.requirement("CREATE-07")
def test_omitted_description_comes_back_empty(api, check, servers, snapshots, names):
    """A create without `description` -> description null or "" in the answer and in the list; the same for
    an explicit `"description": null` when it is accepted (a 4xx refusal of it is fine).

    Catches: the text "None"/"null", a default description invented by the provider, the name copied into it,
    a crash on an explicit null.
    """
    with servers.lease(room=1) as server_id:
        if server_id is None:
            check.undecidable(NO_ROOM)
        response, body = snapshots.create(server_id, name=names("nodesc"))
        if body is None:
            check.inconclusive("CREATE-07", f"the create without description answered {response.status_code}")
            return
        description_is_empty(check, "201 body", body, response)
        listing, items = listed_ids(api, server_id)
        item = items.get(body["id"])
        if item is None:
            check.inconclusive("CREATE-07", f"snapshot {body['id']} is not in its server's list")
            return
        description_is_empty(check, "listed", item, listing)
        # An explicit null is "no description" too: taken (and rendered empty) or refused, never a crash.
        if api.delete_snapshot(body["id"]).status_code != 204:
            check.inconclusive("CREATE-07", "no slot freed for the create with description null")
            return
        response, body = snapshots.create(server_id, name=names("nulldesc"), description=None)
        code = response.status_code
        if body is None:
            check.that(
                "CREATE-07", 400 <= code < 500, f"create with description null: got {code}", evidence=response
            )
            return
        description_is_empty(check, "description null accepted: 201 body", body, response)


@pytest.mark.requirement("CREATE-08", "CREATE-02")
def test_numeric_string_server_id(check, servers, snapshots, names):
    """server_id "12345" (own server, as a string) -> 201 for that very server, or a 4xx refusal.

    Catches: a 5xx from a string reaching the database layer; a string id accepted but the snapshot put on
    another server or answered with server.id as a string.
    """
    with servers.lease(room=1) as server_id:
        if server_id is None:
            check.undecidable(NO_ROOM)
        response, body = snapshots.create(str(server_id), name=names("strid"))
        accepted = check.status("CREATE-08", response, f"create with server_id {str(server_id)!r}")
        if not accepted or body is None:
            check.inconclusive("CREATE-02", "the numeric string server id was not accepted")
            return None
        # Accepting "12345" must mean server 12345 (a MUST of the create), whatever the type it is echoed as.
        check.that(
            "CREATE-02",
            str(server_of(body)) == str(server_id),
            f"server_id {str(server_id)!r} accepted: 201 body server.id is {server_of(body)!r}",
            evidence=response,
        )
        check.that(
            "CREATE-08",
            server_of(body) == server_id,
            f"accepted: 201 body server.id is {server_of(body)!r}, expected the integer {server_id}",
            evidence=response,
        )


@pytest.mark.requirement("CREATE-06")
@pytest.mark.profile("standard")
@pytest.mark.waits(CREATE_MAX_MINUTES + RESTORE_MAX_MINUTES)  # waits for a snapshot and a restore
def test_create_on_a_server_being_restored(api, check, servers, snapshots, names, timing):
    """Complete a snapshot, start its restore, then create on the same server -> 400 (201/409 tolerated).

    Catches: a snapshot started while the server's disk is being overwritten (an inconsistent capture) or a
    crash on that path. The test waits (bounded by the documented restore maximum) until the restore is over.
    """
    with servers.lease(room=2) as server_id:
        if server_id is None:
            check.undecidable(NO_ROOM)
        response, source = snapshots.create(server_id, name=names("restore-src"))
        if source is None:
            check.inconclusive(
                "CREATE-06", f"the snapshot to restore could not be created ({response.status_code})"
            )
            return
        timeline = snapshots.wait(source)
        if timeline.final != "completed":
            check.inconclusive(
                "CREATE-06", f"snapshot {source['id']} did not complete (last {timeline.final!r})"
            )
            return
        restore = api.restore_snapshot(source["id"])
        started = time.monotonic()
        if restore.status_code != 200:
            check.inconclusive(
                "CREATE-06", f"the restore of snapshot {source['id']} answered {restore.status_code}"
            )
            return
        try:
            before = server_status(api, server_id)
            during, _ = snapshots.create(server_id, name=names("during-restore"))
            elapsed = time.monotonic() - started
            shortest = RESTORE_MIN_MINUTES * 60 * timing.time_scale
            if before not in (None, "restoring"):
                check.inconclusive(
                    "CREATE-06", f"the server reported {before!r} right after the restore started"
                )
            elif (
                during.status_code != 400
                and elapsed >= shortest
                and server_status(api, server_id) != "restoring"
            ):
                check.inconclusive(
                    "CREATE-06",
                    f"the create answered {during.status_code} {elapsed:.2f} s after the restore started, "
                    "when the restore may already have finished",
                )
            else:
                check.status("CREATE-06", during, f"create on server {server_id} while it is being restored")
        finally:
            wait_out_restore(servers, timing, server_id, started=started)
