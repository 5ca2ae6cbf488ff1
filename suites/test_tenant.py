"""TENANT: accounts are isolated; another account's snapshots and servers behave as if they did not exist.

Each test needs the second account (`foreign_api`, skipped with a reason when none is configured) and first
checks that its token is accepted, so a misconfigured token is reported as inconclusive, not as a finding.
A leak is recognised by what cannot be coincidence: an item of a server that belongs to the other account, or
one carrying this run's unique snapshot name (ids alone are not used: a provider may number per account).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from _helpers import wait_out_restore

from vpsconform.client import ApiClient, list_items, server_of
from vpsconform.config import RunConfig
from vpsconform.contract import CREATE_MAX_MINUTES, SNAPSHOT_LIMIT
from vpsconform.ledger import same_id
from vpsconform.plugin.resources import Servers, Snapshots
from vpsconform.plugin.state import Names
from vpsconform.verdicts import Checker

#: Answers to a filter on another account's server that show nothing by construction (LIST-06 judges them).
REFUSALS = (400, 403, 404)
FOREIGN = pytest.mark.needs("foreign-account")


# Helpers --
def leaks(items: list[dict[str, Any]], server_id: int, name: str) -> list[Any]:
    """Ids of items that belong to the other account: on its server, or carrying its snapshot's name."""
    return [
        item.get("id") for item in items if same_id(server_of(item), server_id) or item.get("name") == name
    ]


def account_works(client: ApiClient) -> httpx.Response | None:
    """None when the account's token is accepted (its list answers 200), else the answer saying otherwise."""
    response = client.list_snapshots()
    return None if list_items(response) is not None else response


def check_not_listed(
    check: Any, rid: str, viewer: ApiClient, who: str, server_id: int, name: str, moment: str
) -> None:
    """``viewer``'s list, unfiltered and filtered by ``server_id``, shows nothing of that server or name."""
    unfiltered = viewer.list_snapshots()
    items = list_items(unfiltered)
    if items is None:
        check.inconclusive(
            rid, f"{who}'s list {moment} answered {unfiltered.status_code}, not a readable list"
        )
    else:
        found = leaks(items, server_id, name)
        check.that(
            rid,
            not found,
            f"{who}'s list {moment} ({len(items)} item(s)) shows {found or 'nothing'} of server {server_id} "
            f"or named {name!r}",
            evidence=unfiltered,
        )
    filtered = viewer.list_snapshots(server_id)
    items = [] if filtered.status_code in REFUSALS else list_items(filtered)
    if items is None:
        check.inconclusive(
            rid, f"{who}'s list filtered by server {server_id} {moment} answered {filtered.status_code}"
        )
        return
    found = leaks(items, server_id, name)
    check.that(
        rid,
        not found,
        f"{who}'s list filtered by server {server_id} {moment}: {filtered.status_code} showing "
        f"{found or 'nothing'} of that server",
        evidence=filtered,
    )


def theirs_while_new(
    api: ApiClient,
    foreign_api: ApiClient,
    run_config: RunConfig,
    snapshots: Snapshots,
    names: Names,
    check: Checker,
) -> tuple[int, str, dict]:
    """The other account snapshots one of its servers; judge TENANT-05 while it is new.

    Returns (their server, name, snapshot); ends the test (undecidable) when the setup failed.
    """
    refused = account_works(foreign_api)
    if refused is not None:
        check.undecidable(f"the foreign account's list answered {refused.status_code}")
    if not run_config.foreign_server_ids:
        check.undecidable("no server of the foreign account is configured (--foreign-server-id)")
    foreign_server = None
    for candidate in run_config.foreign_server_ids:
        held = list_items(foreign_api.list_snapshots(candidate))
        if held is not None and len(held) < SNAPSHOT_LIMIT:
            foreign_server = candidate
            break
    if foreign_server is None:
        check.undecidable("no configured foreign server had a free snapshot slot")
    name = names("ten-thrs")
    response, body = snapshots.create(foreign_server, name=name, client=foreign_api)
    if body is None:
        check.undecidable(
            f"the foreign account's create on its server {foreign_server} answered {response.status_code}"
        )
    check_not_listed(check, "TENANT-05", api, "our account", foreign_server, name, "while theirs is new")
    return foreign_server, name, body


@contextmanager
def our_new_snapshot(
    api: ApiClient,
    foreign_api: ApiClient,
    servers: Servers,
    snapshots: Snapshots,
    names: Names,
    check: Checker,
) -> Iterator[tuple[int, str, dict]]:
    """Lease a server, create our snapshot there and judge TENANT-01 while it is new.

    Yields (server, name, snapshot); ends the test (undecidable) when the setup failed.
    """
    refused = account_works(foreign_api)
    if refused is not None:
        check.undecidable(
            f"the foreign account's list answered {refused.status_code}: its token is not usable"
        )
    with servers.lease(room=1) as server_id:
        if server_id is None:
            check.undecidable("no configured server had a free snapshot slot")
        name = names("ten-ours")
        response, body = snapshots.create(server_id, name=name, client=api)
        if body is None:
            check.undecidable(f"setup: create on server {server_id} answered {response.status_code}")
        check_not_listed(
            check, "TENANT-01", foreign_api, "the foreign account", server_id, name, "while ours is new"
        )
        yield server_id, name, body


# TENANT-01..03: another account can neither see nor touch our snapshot --
@pytest.mark.requirement("TENANT-01")
@FOREIGN
def test_foreign_account_cannot_see_our_new_snapshot(api, foreign_api, servers, snapshots, names, check):
    """Our snapshot, just created, is invisible to the other account (unfiltered and filtered by our server).

    Defects caught:
    - TENANT-01: a list queryset not scoped to the caller (`Snapshot.objects.all()`), or a `server_id` filter
      applied without the ownership join, shows our snapshot to the other account.
    """
    with our_new_snapshot(api, foreign_api, servers, snapshots, names, check):
        pass


@pytest.mark.requirement("TENANT-01", "TENANT-02", "TENANT-03")
@pytest.mark.profile("standard")
@pytest.mark.waits(CREATE_MAX_MINUTES)  # waits for snapshots to complete
@FOREIGN
def test_foreign_account_cannot_see_restore_or_delete_our_snapshot(
    api, foreign_api, servers, snapshots, names, timing, check
):
    """Our completed snapshot is invisible to the other account, and its restore and delete get 404.

    Defects caught:
    - TENANT-01: as above, once the snapshot has completed.
    - TENANT-02: restore looks the snapshot up by id alone (`get_object_or_404(Snapshot, pk=id)`): the other
      account restores our server (200), or learns it exists (403 tolerated with a warning; 400 for a state
      check before the ownership check fails).
    - TENANT-03: delete without an ownership check removes our snapshot (204), or answers 403/400; after the
      attempt our snapshot must still be in our list.
    """
    with our_new_snapshot(api, foreign_api, servers, snapshots, names, check) as ours:
        server_id, name, body = ours
        snapshot_id = body["id"]

        # Completed, so a target without an ownership check would accept the restore, not refuse its state.
        timeline = snapshots.wait(body)
        if timeline.final != "completed":
            check.undecidable(f"setup: snapshot {snapshot_id} ended {timeline.final!r}, not completed")
        check_not_listed(
            check, "TENANT-01", foreign_api, "the foreign account", server_id, name, "once completed"
        )

        restore = foreign_api.restore_snapshot(snapshot_id)
        check.status("TENANT-02", restore, f"foreign account's restore of our snapshot {snapshot_id}")
        if 200 <= restore.status_code < 300:
            wait_out_restore(servers, timing, server_id)  # a faulty target restored it: leave the server idle

        delete = foreign_api.delete_snapshot(snapshot_id)
        check.status("TENANT-03", delete, f"foreign account's delete of our snapshot {snapshot_id}")
        listed = list_items(api.list_snapshots(server_id))
        if listed is None:
            check.inconclusive("TENANT-03", "our filtered list could not be read after the foreign delete")
        else:
            survived = any(same_id(item.get("id"), snapshot_id) for item in listed)
            check.that(
                "TENANT-03",
                survived,
                f"after the foreign delete ({delete.status_code}) our snapshot {snapshot_id} "
                f"{'is still listed' if survived else 'is gone from our list'}",
            )


# TENANT-04: another account cannot snapshot our server --
@pytest.mark.requirement("TENANT-04")
@FOREIGN
def test_foreign_account_cannot_create_on_our_server(
    api, foreign_api, servers, snapshots, names, timing, check
):
    """The other account's create on our server (which has room) gets 404, and nothing appears on it.

    Defects caught:
    - TENANT-04: create looks the server up by id alone (`Server.objects.get(pk=server_id)`), so the other
      account snapshots our server (201; cleaned up with its client) or is told it exists (403 warns; 400 from
      a state or limit check made before the ownership check fails); or a refused create still leaves a
      snapshot with its name on our server. Our server has a free slot, so a target without an ownership
      check would accept rather than refuse for the limit; when no server has one, a full server is used
      and a 400 (limit or ownership, indistinguishable) is inconclusive.
    """
    refused = account_works(foreign_api)
    if refused is not None:
        check.undecidable(f"the foreign account's list answered {refused.status_code}")
    with servers.lease(room=(1, 0)) as server_id:
        if server_id is None:
            check.undecidable("no configured server is idle with a readable snapshot list")
        full = servers.room(server_id) < 1
        name = names("ten-intr")
        response, _ = snapshots.create(server_id, name=name, client=foreign_api)
        if full and response.status_code == 400:
            check.inconclusive(
                "TENANT-04", f"our server {server_id} is full: the foreign create's 400 may be the limit's"
            )
        else:
            check.status("TENANT-04", response, f"foreign account's create on our server {server_id}")
        ours = list_items(api.list_snapshots(server_id))
        if ours is None:
            check.inconclusive("TENANT-04", "our filtered list could not be read after the foreign create")
            return
        planted = [item.get("id") for item in ours if item.get("name") == name]
        check.that(
            "TENANT-04",
            not planted,
            f"after the foreign create ({response.status_code}) our server {server_id} holds "
            f"{planted or 'nothing'} named {name!r}",
        )
        # Planted on our server by this run's request: we delete it ourselves, since the other account's
        # cleanup may well be refused (404) for a snapshot that sits on a server it does not own.
        for snapshot_id in planted:
            api.delete_snapshot(snapshot_id)


# TENANT-05: our list never shows another account's snapshots --
@pytest.mark.requirement("TENANT-05")
@FOREIGN
def test_our_list_never_shows_a_new_foreign_snapshot(api, foreign_api, run_config, snapshots, names, check):
    """The other account snapshots one of its own servers; our list does not show it while it is new.

    Defects caught:
    - TENANT-05: an unscoped list queryset, or a `server_id` filter that bypasses the account scope, shows the
      other account's snapshot to us (unfiltered, or filtered by its server id).
    """
    theirs_while_new(api, foreign_api, run_config, snapshots, names, check)


@pytest.mark.requirement("TENANT-05")
@pytest.mark.profile("standard")
@pytest.mark.waits(CREATE_MAX_MINUTES)  # waits for snapshots to complete
@FOREIGN
def test_our_list_never_shows_foreign_snapshots(api, foreign_api, run_config, snapshots, names, check):
    """The other account's snapshot stays out of our list once it has completed, too.

    Defects caught:
    - TENANT-05: a list that scopes in-progress jobs to their account but not completed snapshots.
    """
    foreign_server, name, body = theirs_while_new(api, foreign_api, run_config, snapshots, names, check)
    timeline = snapshots.wait(body, client=foreign_api)
    if timeline.final == "completed":
        check_not_listed(
            check, "TENANT-05", api, "our account", foreign_server, name, "once theirs completed"
        )
