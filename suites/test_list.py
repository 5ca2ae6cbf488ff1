"""LIST: the list answers 200 with `count` and `results`, holds every own snapshot, and filters by server.

Defects these tests catch: a list that is a bare array or lacks `count`/`results`; a list without a filter
that only shows one server (or the first configured one); a `server_id` filter that is ignored, inverted or
applied to another field; a `count` that is the page size, a constant, or counts other servers/accounts;
fields that are renamed, truncated, re-cased, HTML-escaped or mis-encoded between create and list; a crash (or
another account's data) on a filter that matches nothing; a crash on a non-integer filter.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import httpx
import pytest

from vpsconform.client import SNAPSHOTS, ApiClient, json_or_none, server_of
from vpsconform.contract import ABSENT_ID
from vpsconform.plugin.resources import Servers, Snapshots
from vpsconform.plugin.state import Names
from vpsconform.verdicts import Checker


def check_page(check: Checker, response: httpx.Response, what: str) -> dict[str, Any] | None:
    """LIST-01 (200, `count` integer, `results` array) and LIST-04 (count vs. results) on one list answer."""
    if not check.status("LIST-01", response, what):
        return None
    body = json_or_none(response)
    count = body.get("count") if isinstance(body, dict) else None
    results = body.get("results") if isinstance(body, dict) else None
    shaped = isinstance(count, int) and not isinstance(count, bool) and isinstance(results, list)
    check.that(
        "LIST-01", shaped, f"{what}: body has an integer `count` and a `results` array", evidence=response
    )
    if not shaped:
        return None
    more = body.get("next") not in (None, "")
    if more:
        check.that(
            "LIST-04",
            count >= len(results),
            f"{what}: count {count} with {len(results)} results on a page that has a next page",
            evidence=response,
        )
    else:
        check.that(
            "LIST-04",
            count == len(results),
            f"{what}: count {count} with {len(results)} results and no next page",
            evidence=response,
        )
    return body


@pytest.mark.requirement("LIST-01", "LIST-04")
def test_list_answers_count_and_results(api, check):
    """GET /snapshots/ -> 200 {count, results}; count matches results when there is no next page.

    Catches: a bare JSON array, a missing or string `count`, a non-200 success code, a `count` that counts
    something else (all accounts, deleted snapshots) than the results it comes with.
    """
    check_page(check, api.list_snapshots(), "list without a filter")


@dataclasses.dataclass(frozen=True)
class Sent:
    """What a create of the test sent: the server, and the name and description the list must show."""

    server: int
    name: str
    description: str


@pytest.mark.requirement("LIST-01", "LIST-02", "LIST-03", "LIST-04", "LIST-05", "CREATE-01")
@pytest.mark.servers(2)
def test_list_shows_all_servers_and_filters_by_server(
    api: ApiClient, check: Checker, servers: Servers, snapshots: Snapshots, names: Names
) -> None:
    """Snapshots on two servers: both in the plain list, each only in its own server's filtered list.

    Catches: a plain list limited to one server; a filter that is ignored (the other server's snapshot shows
    up, or items of other servers); a filter that drops the server's own snapshot; count off by the other
    server's snapshots; name/description/server changed between create, create answer and list (re-cased,
    trimmed, HTML-escaped, mis-encoded, stored on the wrong server).
    """
    with servers.lease(room=1) as first:
        if first is None:
            check.undecidable("no configured server has a free snapshot slot")
        with servers.lease(room=1, exclude=(first,)) as second:
            chosen = [first] + ([second] if second is not None else [])
            descriptions = {first: 'naïve café: "quotes" & <tags> — as sent', second: "vpsconform list check"}
            sent = dict(
                create_listed(check, snapshots, server_id, names("list"), descriptions[server_id])
                for server_id in chosen
            )
            unfiltered_list_holds_them(check, api, sent, across_servers=second is not None)
            for server_id in chosen:
                filtered_list_holds_its_own(check, api, server_id, sent)


def create_listed(
    check: Checker, snapshots: Snapshots, server_id: int, name: str, description: str
) -> tuple[int, Sent]:
    """CREATE-01 and LIST-05 (the create answer echoes what was sent) for one snapshot the lists must show."""
    response, body = snapshots.create(server_id, name=name, description=description)
    check.status("CREATE-01", response, f"create on server {server_id}", stop=True)
    check.that(
        "LIST-05", body is not None, "the 201 body carries an integer id", evidence=response, stop=True
    )
    echoed = (server_of(body), body.get("name"), body.get("description"))
    check.that(
        "LIST-05",
        echoed == (server_id, name, description),
        f"create answer has (server.id, name, description) {echoed!r}, "
        f"sent {(server_id, name, description)!r}",
        evidence=response,
    )
    return body["id"], Sent(server_id, name, description)


def unfiltered_list_holds_them(
    check: Checker, api: ApiClient, sent: dict[int, Sent], across_servers: bool
) -> None:
    """LIST-01/04 on the plain list; LIST-02: it holds every snapshot of every server; LIST-05: as sent."""
    response, items = api.list_all()
    items = items or []
    check_page(check, response, "list without a filter")
    listed = {item.get("id"): item for item in items}
    for snapshot_id, request in sent.items():
        check.that(
            "LIST-02",
            snapshot_id in listed,
            f"snapshot {snapshot_id} of server {request.server} is in the unfiltered list "
            f"({len(items)} items)",
            evidence=response,
        )
        item = listed.get(snapshot_id)
        if item is not None:
            got = (server_of(item), item.get("name"), item.get("description"))
            want = (request.server, request.name, request.description)
            check.that(
                "LIST-05",
                got == want,
                f"listed (server.id, name, description) {got!r}, created with {want!r}",
                evidence=response,
            )
    if not across_servers:
        check.inconclusive(
            "LIST-02", "only one configured server had a free slot: not checked across servers"
        )


def filtered_list_holds_its_own(
    check: Checker, api: ApiClient, server_id: int, sent: dict[int, Sent]
) -> None:
    """LIST-01/04 on the filtered list; LIST-03: it holds the server's snapshots and only those."""
    what = f"list with server_id={server_id}"
    response, items = api.list_all(server_id)
    items = items or []
    check_page(check, response, what)
    only_that_server(check, what, items, server_id, response)
    ids = {item.get("id") for item in items}
    for snapshot_id, request in sent.items():
        if request.server == server_id:
            check.that(
                "LIST-03",
                snapshot_id in ids,
                f"{what}: holds snapshot {snapshot_id} created on it",
                evidence=response,
            )
        else:
            check.that(
                "LIST-03",
                snapshot_id not in ids,
                f"{what}: does not hold snapshot {snapshot_id} of server {request.server}",
                evidence=response,
            )


def only_that_server(
    check: Checker, what: str, items: list, server_id: int, response: httpx.Response
) -> None:
    """LIST-03: every item of a list filtered by ``server_id`` belongs to that server."""
    strangers = sorted({repr(server_of(i)) for i in items if server_of(i) != server_id})
    check.that(
        "LIST-03",
        not strangers,
        f"{what}: every item's server.id is {server_id}"
        + (f" (others seen: {', '.join(strangers)})" if strangers else ""),
        evidence=response,
    )


@pytest.mark.requirement("LIST-06", "LIST-03", "LIST-04")
def test_filter_on_a_server_nobody_has(api, check):
    """?server_id=<absent> -> 200 with nothing in it.

    Catches: a filter that is ignored when nothing matches (the account's or everybody's snapshots come back),
    a crash or a 404/400 on an unknown server.
    """
    what = f"list with server_id={ABSENT_ID} (no such server)"
    response = api.list_snapshots(ABSENT_ID)
    if not check.status("LIST-06", response, what):
        check.undecidable(f"{what}: answered {response.status_code}, no list")
    body = json_or_none(response)
    results = body.get("results") if isinstance(body, dict) else None
    count = body.get("count") if isinstance(body, dict) else None
    if not isinstance(results, list):
        check.that("LIST-06", False, f"{what}: 200 without a `results` array", evidence=response)
        check.undecidable(f"{what}: no `results` array to inspect")
    only_that_server(check, what, results, ABSENT_ID, response)
    check.that(
        "LIST-06",
        not results and count == 0,
        f"{what}: empty list, got count {count!r} and {len(results)} results",
        evidence=response,
    )
    if isinstance(count, int) and body.get("next") in (None, ""):
        check.that(
            "LIST-04",
            count == len(results),
            f"{what}: count {count} with {len(results)} results",
            evidence=response,
        )
    else:
        check.inconclusive("LIST-04", f"{what}: count {count!r} is not an integer or a next page exists")


@pytest.mark.requirement("LIST-07")
@pytest.mark.parametrize("value", ["abc", "1.5"])
def test_non_integer_filter(api, check, value):
    """?server_id=abc / 1.5 -> 400 (or ignored with 200), never a crash.

    Catches: a 5xx from an unchecked int() or a database cast, an undocumented redirect or success code.
    """
    response = api.request("GET", SNAPSHOTS, params={"server_id": value})
    check.status("LIST-07", response, f"list with server_id={value!r}")
