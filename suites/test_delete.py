"""DELETE: 204 with no body, the snapshot is gone from every view at once, and only that snapshot is gone."""

from __future__ import annotations

import dataclasses
from typing import Any

import httpx
import pytest
from _helpers import wait_out_restore

from vpsconform.client import ApiClient, list_items, server_of
from vpsconform.contract import CREATE_MAX_MINUTES
from vpsconform.ledger import same_id
from vpsconform.observe import Timing
from vpsconform.plugin.resources import Servers, Snapshots
from vpsconform.plugin.state import Names
from vpsconform.verdicts import Checker


# Helpers --
def listed_ids(api: ApiClient, server_id: int, *, filtered: bool = True) -> set[str] | None:
    """Ids of the server's snapshots in one list answer (sent with the server filter or without), or None
    when the answer is not a readable list. Items of other servers are left out: a provider may give a
    deleted id to a new snapshot elsewhere, and that one is not the deleted snapshot still listed."""
    items = list_items(api.list_snapshots(server_id if filtered else None))
    if items is None:
        return None
    return {str(item.get("id")) for item in items if str(server_of(item)) in (str(server_id), "None")}


def views(api: ApiClient, server_id: int) -> dict[str, set[str] | None]:
    """The ids of the server's snapshots the list shows with and without the server filter."""
    return {
        "with the server filter": listed_ids(api, server_id),
        "without a filter": listed_ids(api, server_id, filtered=False),
    }


def empty_body(response: httpx.Response) -> tuple[bool, str]:
    """Whether a response carries no content: nothing read, and no Content-Length announcing any."""
    length = response.headers.get("Content-Length")
    ok = response.content == b"" and length in (None, "0")
    return ok, f"{len(response.content)} body byte(s), Content-Length {length!r}"


def delete_once(api: ApiClient, snapshot_id: Any) -> httpx.Response:
    """DELETE on a connection that closes after the answer, so a body wrongly sent after a 204 cannot leak
    into the next exchange; a body is then only visible through its Content-Length."""
    return api.delete_snapshot(snapshot_id, headers={"Connection": "close"})


# DELETE-01..06 --
@pytest.mark.requirement("DELETE-01", "DELETE-02", "DELETE-03", "DELETE-04", "DELETE-05", "DELETE-06")
@pytest.mark.profile("standard")
@pytest.mark.waits(CREATE_MAX_MINUTES)  # waits for snapshots to complete
def test_delete_removes_exactly_that_snapshot(
    api: ApiClient, servers: Servers, snapshots: Snapshots, names: Names, timing: Timing, check: Checker
) -> None:
    """Two completed snapshots; delete one: 204, empty, gone from both lists, restore and delete again 404.

    Defects caught:
    - DELETE-01: the delete answers 200 (`{"deleted": true}`), 202 (queued) or refuses a completed snapshot.
    - DELETE-02: a success that carries content: 200 with a JSON body, or a 204 announcing one
      (`Response({"detail": ...}, status=204)` sends a Content-Length).
    - DELETE-03: a soft delete that the list does not exclude (`deleted_at` set, queryset unfiltered), in
      either the filtered or the unfiltered list; or an asynchronous delete still listed after its 204.
    - DELETE-04: restore looks snapshots up without excluding soft-deleted rows, so a deleted snapshot is
      restored (200) or refused for its state (400) instead of 404.
    - DELETE-05: a second delete answers 204 (idempotent status) or 400 instead of 404.
    - DELETE-06: the delete removes the server's snapshots (`filter(server=...)`) or the wrong id, so the
      other snapshot disappears. The other snapshot is a second one of ours, or, when the server has room
      for only one, a pre-existing snapshot of the server (only read, never touched).
    """
    with servers.lease(room=(2, 1)) as server_id:
        existing = listed_ids(api, server_id) if server_id is not None else None
        if existing is None:
            check.undecidable("no configured server had a free snapshot slot")
        labels = ["del-tgt"] + (["del-keep"] if len(existing) <= 3 else [])
        created = create_completed(check, api, snapshots, server_id, [names(label) for label in labels])
        target = str(created[0]["id"])
        keeper = str(created[1]["id"]) if len(created) > 1 else min(existing, default=None)
        before = views(api, server_id)
        delete_completed(check, api, target)
        gone_from_the_lists(check, before, views(api, server_id), target, keeper)
        restore = api.restore_snapshot(target)
        check.status("DELETE-04", restore, f"restore of deleted snapshot {target}")
        if 200 <= restore.status_code < 300:
            wait_out_restore(servers, timing, server_id)  # a faulty target restored it: leave the server idle
        again = delete_once(api, target)
        check.status("DELETE-05", again, f"second delete of snapshot {target}")


def create_completed(
    check: Checker, api: ApiClient, snapshots: Snapshots, server_id: int, names: list[str]
) -> list[dict]:
    """Our snapshots on the server, each completed: a restore of the deleted one can then only be refused
    because it is gone, and the delete is of a snapshot in its ordinary, final state."""
    created = []
    for name in names:
        response, body = snapshots.create(server_id, name=name, client=api)
        if body is None:
            check.undecidable(f"setup: create on server {server_id} answered {response.status_code}")
        created.append(body)
    for body in created:
        timeline = snapshots.wait(body)
        if timeline.final != "completed":
            check.undecidable(f"setup: snapshot {body['id']} ended {timeline.final!r}, not completed")
    return created


def delete_completed(check: Checker, api: ApiClient, target: str) -> None:
    """DELETE-01: deleting a completed snapshot answers 204; DELETE-02: any success carries no content."""
    response = delete_once(api, target)
    if 200 <= response.status_code < 300:
        ok, detail = empty_body(response)
        check.that(
            "DELETE-02",
            ok,
            f"{response.status_code} to the delete of snapshot {target}: {detail}",
            evidence=response,
        )
    check.status("DELETE-01", response, f"delete of completed snapshot {target}", stop=True)


def gone_from_the_lists(
    check: Checker,
    before: dict[str, set[str] | None],
    after: dict[str, set[str] | None],
    target: str,
    keeper: str | None,
) -> None:
    """DELETE-03: the deleted snapshot is gone from every list that showed it; DELETE-06: the other stays."""
    for view, ids in after.items():
        shown = before[view]
        if shown is None or ids is None or target not in shown:
            check.inconclusive(
                "DELETE-03",
                f"the list {view} did not show snapshot {target} before the "
                "delete (or could not be read), so its absence proves nothing",
            )
            continue
        check.that(
            "DELETE-03",
            target not in ids,
            f"the list {view} after the 204: snapshot {target} "
            f"{'still present' if target in ids else 'absent'}",
        )
        if keeper is None or keeper not in shown:
            check.inconclusive("DELETE-06", f"the list {view} showed no other snapshot on the server")
        else:
            check.that(
                "DELETE-06",
                keeper in ids,
                f"the list {view} after deleting {target}: the other "
                f"snapshot {keeper} {'remains' if keeper in ids else 'is gone'}",
            )


# DELETE-07 --
IN_PROGRESS = ("DELETE-07", "DELETE-01", "DELETE-02", "DELETE-03")


@dataclasses.dataclass(frozen=True)
class Tried:
    """A delete of a snapshot in progress: the snapshot, its server, and whether the delete was refused."""

    body: dict[str, Any]
    server_id: int
    refused: bool


def delete_in_progress(
    api: ApiClient, servers: Servers, snapshots: Snapshots, names: Names, check: Checker
) -> Tried:
    """On a leased server, create a snapshot and delete it while in progress; judge DELETE-07 and, if the
    delete was accepted, DELETE-01..03. Ends the test (undecidable) when it could not be tried."""
    with servers.lease(room=1) as server_id:
        if server_id is None:
            check.undecidable("no configured server had a free snapshot slot")
        response, body = snapshots.create(server_id, name=names("del-run"), client=api)
        if body is None:
            check.undecidable(f"setup: create on server {server_id} answered {response.status_code}")
        snapshot_id = str(body["id"])
        before = views(api, server_id)
        status_now = _status_of(api, server_id, snapshot_id)
        if status_now != "in_progress":
            check.undecidable(
                f"snapshot {snapshot_id} was {status_now!r} before it could be deleted while in progress"
            )
        response = delete_once(api, snapshot_id)
        check.status("DELETE-07", response, f"delete of snapshot {snapshot_id} while in progress")
        after = views(api, server_id)
        readable = {
            view: ids
            for view, ids in after.items()
            if ids is not None and before[view] is not None and snapshot_id in before[view]
        }
        if not 200 <= response.status_code < 300:
            item_listed = any(ids is not None and snapshot_id in ids for ids in before.values())
            refusal_kept_it(check, response, snapshot_id, readable, item_listed)
            return Tried(body, server_id, refused=True)
        accepted_delete_removed_it(check, response, snapshot_id, readable)
        return Tried(body, server_id, refused=False)


def refusal_kept_it(
    check: Checker,
    response: httpx.Response,
    snapshot_id: str,
    readable: dict[str, set[str]],
    item_listed: bool,
) -> None:
    """DELETE-07: a refused delete (tolerated or not) leaves the snapshot there."""
    if readable:
        survived = all(snapshot_id in ids for ids in readable.values())
        check.that(
            "DELETE-07",
            survived,
            f"delete refused with {response.status_code}, yet snapshot "
            f"{snapshot_id} {'is still listed' if survived else 'is gone from the list'}",
        )
    elif not item_listed:
        check.inconclusive("DELETE-07", f"snapshot {snapshot_id} was not listed before the delete")


def accepted_delete_removed_it(
    check: Checker, response: httpx.Response, snapshot_id: str, readable: dict[str, set[str]]
) -> None:
    """DELETE-01..03 on an accepted in-progress delete: an own snapshot's delete answers 204 (200/202 fail
    DELETE-01), empty, and it is gone."""
    check.status("DELETE-01", response, f"delete of in-progress snapshot {snapshot_id}")
    ok, detail = empty_body(response)
    check.that(
        "DELETE-02",
        ok,
        f"{response.status_code} to the delete of in-progress snapshot {snapshot_id}: {detail}",
        evidence=response,
    )
    if response.status_code != 204:
        check.inconclusive("DELETE-03", f"the delete answered {response.status_code}, not 204")
        return
    if not readable:
        check.inconclusive("DELETE-03", f"snapshot {snapshot_id} was not listed before the delete")
    for view, ids in readable.items():
        check.that(
            "DELETE-03",
            snapshot_id not in ids,
            f"the list {view} after the 204 to an in-progress "
            f"delete: snapshot {snapshot_id} {'still present' if snapshot_id in ids else 'absent'}",
        )


@pytest.mark.requirement(*IN_PROGRESS)
def test_delete_of_a_snapshot_in_progress(
    api: ApiClient, servers: Servers, snapshots: Snapshots, names: Names, check: Checker
) -> None:
    """Delete a snapshot still in progress: 204 expected (400/409 tolerated, then it must survive).

    Defects caught:
    - DELETE-07 (interpretation): an in-progress delete answered with something other than 204/400/409
      (200, 404, 423) warns; a refusal (400/409) that deleted it anyway, or a 204 that left it listed, fails.
    - DELETE-03: a delete of an unfinished snapshot that only cancels the job and leaves the row listed.
    - DELETE-01/02: an accepted delete answered 200/202 or with content.
    """
    if delete_in_progress(api, servers, snapshots, names, check).refused:
        check.undecidable(
            "the in-progress delete was refused; deleting the snapshot once completed is judged by "
            "test_refused_delete_leaves_it_deletable (profile standard)"
        )


@pytest.mark.requirement(*IN_PROGRESS)
@pytest.mark.profile("standard")  # after a refusal, waits for the snapshot to complete: up to 10 minutes
def test_refused_delete_leaves_it_deletable(
    api: ApiClient, servers: Servers, snapshots: Snapshots, names: Names, check: Checker
) -> None:
    """After a refused in-progress delete, the snapshot completes and is deleted with an empty 204.

    Defects caught:
    - DELETE-01/02/03: a refusal that leaves a lock behind (the completed snapshot cannot be deleted), or a
      later delete answered with content or leaving it listed.
    """
    tried = delete_in_progress(api, servers, snapshots, names, check)
    if not tried.refused:
        return
    snapshot_id = str(tried.body["id"])
    timeline = snapshots.wait(tried.body)
    if timeline.final != "completed":
        check.undecidable(
            f"after the refused delete, snapshot {snapshot_id} ended {timeline.final!r}, not completed"
        )
    response = delete_once(api, snapshot_id)
    check.status("DELETE-01", response, f"delete of snapshot {snapshot_id} once completed")
    if not 200 <= response.status_code < 300:
        check.undecidable(f"the delete answered {response.status_code}, not 204")
    ok, detail = empty_body(response)
    check.that(
        "DELETE-02",
        ok,
        f"{response.status_code} to the delete of snapshot {snapshot_id}: {detail}",
        evidence=response,
    )
    ids = listed_ids(api, tried.server_id)
    if response.status_code != 204 or ids is None:
        check.inconclusive(
            "DELETE-03", f"the delete answered {response.status_code}; list readable: {ids is not None}"
        )
    else:
        check.that(
            "DELETE-03",
            snapshot_id not in ids,
            f"the filtered list after the 204: snapshot "
            f"{snapshot_id} {'still present' if snapshot_id in ids else 'absent'}",
        )


def _status_of(api: ApiClient, server_id: int, snapshot_id: str) -> Any:
    """The status the filtered (else the unfiltered) list gives a snapshot, or None when it is not listed."""
    for scope in (server_id, None):
        for item in list_items(api.list_snapshots(scope)) or []:
            if same_id(item.get("id"), snapshot_id):
                return item.get("status")
    return None
