"""NOTFOUND: objects that do not exist are answered 404, and ids that are not integers never succeed.

The absent ids are well-formed positive integers, so a 400 cannot pass for "not found"; before any restore
or delete is sent to one, the account's list is read to make sure it is not a real snapshot of the account
(the suite never touches what it did not create).

Defects these tests catch: 400/403/500 instead of 404 for an unknown server or snapshot; a restore or delete
of nothing answered 200/204; path ids parsed leniently (`int(float(x))`, `parseInt`, base prefixes), so that
`801.5`, `801abc`, `801e0` or `0x321` act on snapshot 801.
"""

from __future__ import annotations

import pytest

#: Well-formed positive ids that no account is expected to have (each is checked before use).
ABSENT_IDS = (2_000_000_001, 987_654_321)


def absent_snapshot_ids(api) -> list[int] | None:
    """The ABSENT_IDS that are not snapshots of the account (None when the list cannot be read)."""
    _, items = api.list_all()
    if items is None:
        return None
    taken = {item.get("id") for item in items}
    return [i for i in ABSENT_IDS if i not in taken]


@pytest.mark.requirement("NOTFOUND-01")
def test_create_on_a_server_that_does_not_exist(api, check, snapshots, names):
    """POST {server_id: <absent>, valid name} -> 404.

    Catches: 400 ("invalid server"), 403, 500 (a foreign-key error), or a snapshot created for a server that
    does not exist (201).
    """
    tried = 0
    for server_id in ABSENT_IDS:
        if api.get_server(server_id).status_code == 200 or api.list_all(server_id)[1]:
            continue  # a server of this account after all: not ours to use for this
        tried += 1
        response, _ = snapshots.create(server_id, name=names("ghost"))
        check.status("NOTFOUND-01", response, f"create on server {server_id}, which does not exist")
    if not tried:
        check.inconclusive("NOTFOUND-01", "every candidate absent server id turned out to exist")


@pytest.mark.requirement("NOTFOUND-02", "NOTFOUND-03")
def test_restore_and_delete_of_a_snapshot_that_never_existed(api, check):
    """POST /snapshots/<absent>/restore/ -> 404; DELETE /snapshots/<absent>/ -> 404.

    Catches: 400, 403 or 500 for an unknown id; a delete that answers 204 whatever the id; a restore that
    answers 200 without a snapshot.
    """
    ids = absent_snapshot_ids(api)
    if not ids:
        for rid in ("NOTFOUND-02", "NOTFOUND-03"):
            check.inconclusive(
                rid,
                "the account's list could not be read to make sure the ids are absent"
                if ids is None
                else "every candidate absent snapshot id exists",
            )
        return
    for snapshot_id in ids:
        check.status("NOTFOUND-02", api.restore_snapshot(snapshot_id), f"restore of snapshot {snapshot_id}")
        check.status("NOTFOUND-03", api.delete_snapshot(snapshot_id), f"delete of snapshot {snapshot_id}")


@pytest.mark.requirement("NOTFOUND-04")
def test_path_ids_that_are_not_integers(api, check, servers, snapshots, names):
    """Restore and delete on `abc`, `1.5`, `-1` and on non-integer spellings of an own snapshot -> 4xx.

    (`801.0` is left out: common frameworks read it as 801, and acting on 801 then is not clearly wrong.)

    The spellings are built from a snapshot this test created, so a lenient parser acts on it (and is caught)
    instead of on anything else. Catches: `int(float(x))` (`801.5`, `801e0`), `parseInt` (`801abc`), base
    prefixes (`0x321`), 2xx or 5xx on garbage ids, and the snapshot being deleted by such a request.
    """
    with servers.lease(room=1) as server_id:
        if server_id is None:
            check.inconclusive("NOTFOUND-04", "no configured server has a free snapshot slot")
            return
        response, own = snapshots.create(server_id, name=names("pathid"))
        if own is None:
            check.inconclusive(
                "NOTFOUND-04", f"the snapshot to build ids from answered {response.status_code}"
            )
            return
        base = own["id"]
        spellings = ["abc", "1.5", "-1", "null", f"{base}.5", f"{base}e0", f"{base}abc", f"0x{base:x}"]
        for operation, send in (("restore", api.restore_snapshot), ("delete", api.delete_snapshot)):
            for spelling in spellings:
                check.status("NOTFOUND-04", send(spelling), f"{operation} of snapshot id {spelling!r}")
            servers.wait_idle(server_id)  # in case a lenient restore did start
        _, items = api.list_all(server_id)
        if items is None:
            check.inconclusive("NOTFOUND-04", f"the list of server {server_id} could not be read")
        else:
            check.that(
                "NOTFOUND-04",
                any(item.get("id") == base for item in items),
                f"snapshot {base} survives deletes of ids spelled from it",
            )
