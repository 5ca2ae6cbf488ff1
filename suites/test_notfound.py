"""NOTFOUND: objects that do not exist are answered 404, and ids that are not integers never succeed.

The absent id (`contract.ABSENT_ID`) is a well-formed positive integer, so a 400 cannot pass for "not
found"; before a restore or delete is sent to it, the account's list is read to make sure it is not a real
snapshot of the account (the suite never touches what it did not create).

Defects these tests catch: 400/403/500 instead of 404 for an unknown server or snapshot; a restore or delete
of nothing answered 200/204; path ids parsed leniently (`int(float(x))`, `parseInt`, stripped blanks), so
that `801.5`, `801abc`, `801e0` or ` 801` act on snapshot 801.
"""

from __future__ import annotations

import pytest
from _helpers import MALFORMED_ABSENT_IDS

from vpsconform.contract import ABSENT_ID
from vpsconform.errors import ObservationError
from vpsconform.ledger import same_id
from vpsconform.observe import find_snapshot


def absent_id_is_free(api) -> bool:
    """Whether ABSENT_ID is not a snapshot of the account (ObservationError when the list cannot be read)."""
    _, items = api.list_all()
    if items is None:
        raise ObservationError("the account's list could not be read to make sure the id is absent")
    return not any(same_id(item.get("id"), ABSENT_ID) for item in items)


@pytest.mark.requirement("NOTFOUND-01")
def test_create_on_a_server_that_does_not_exist(api, check, snapshots, names):
    """POST {server_id: <absent>, valid name} -> 404.

    Catches: 400 ("invalid server"), 403, 500 (a foreign-key error), or a snapshot created for a server that
    does not exist (201).
    """
    if api.get_server(ABSENT_ID).status_code == 200 or api.list_all(ABSENT_ID)[1]:
        check.inconclusive("NOTFOUND-01", f"server {ABSENT_ID} turned out to be a server of the account")
        return
    response, _ = snapshots.create(ABSENT_ID, name=names("ghost"))
    check.status("NOTFOUND-01", response, f"create on server {ABSENT_ID}, which does not exist")


@pytest.mark.requirement("NOTFOUND-02", "NOTFOUND-03")
def test_restore_and_delete_of_a_snapshot_that_never_existed(api, check):
    """POST /snapshots/<absent>/restore/ -> 404; DELETE /snapshots/<absent>/ -> 404.

    Catches: 400, 403 or 500 for an unknown id; a delete that answers 204 whatever the id; a restore that
    answers 200 without a snapshot.
    """
    if not absent_id_is_free(api):
        check.undecidable(f"snapshot {ABSENT_ID} exists in the account")
    check.status("NOTFOUND-02", api.restore_snapshot(ABSENT_ID), f"restore of snapshot {ABSENT_ID}")
    check.status("NOTFOUND-03", api.delete_snapshot(ABSENT_ID), f"delete of snapshot {ABSENT_ID}")


@pytest.mark.requirement("NOTFOUND-04")
def test_path_ids_that_are_not_integers(api, check, servers, snapshots, names):
    """Restore and delete on malformed spellings of the absent id and of an own snapshot's id -> 4xx.

    (`801.0` is left out: common frameworks read it as 801, and acting on 801 then is not clearly wrong.)

    Every spelling is built from a snapshot this test created or from ABSENT_ID, so a lenient parser acts on
    it (and is caught) or on nothing, never on anyone else's snapshot. Catches: `int(float(x))` (`801.5`,
    `801e0`), `parseInt` (`801abc`), 2xx or 5xx on garbage ids, and the snapshot
    being deleted by such a request.
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
        from_own = [f"{base}.5", f"{base}e0", f"{base}abc", f"{base}%00", f" {base}"]
        spellings = [*MALFORMED_ABSENT_IDS, *from_own]
        for operation, send in (("restore", api.restore_snapshot), ("delete", api.delete_snapshot)):
            for spelling in spellings:
                check.status("NOTFOUND-04", send(spelling), f"{operation} of snapshot id {spelling!r}")
            servers.wait_idle(server_id)  # in case a lenient restore did start
        alive = find_snapshot(api, base, server_id) is not None
        check.that(
            "NOTFOUND-04",
            alive,
            f"snapshot {base} {'survives' if alive else 'is gone after'} deletes of ids spelled from it",
        )
