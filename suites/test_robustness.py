"""ROBUST: hostile input never produces a server error; undocumented methods are refused cleanly.

Catches: `int()` on a query string without a guard (500 on `server_id=abc`), integer overflow in a path id,
a crash on deeply nested or non-UTF-8 bodies, a parser that chokes on odd content types.
"""

from __future__ import annotations

import pytest
from _helpers import MALFORMED_ABSENT_IDS, new_snapshot_id

from vpsconform.client import SNAPSHOTS
from vpsconform.contract import ABSENT_ID

QUERY_VALUES = [
    "abc",
    "-1",
    "0",
    "1.5",
    "99999999999999999999999999",
    "1e9999",
    "",
    "١٢٣",
    "%00",
    "x" * 5000,
    "null",
]
#: Hostile path ids, each built only from ABSENT_ID or from no digits at all (see MALFORMED_ABSENT_IDS), so
#: that a provider parsing ids leniently can never be led to someone else's snapshot.
PATH_IDS = [*MALFORMED_ABSENT_IDS, "-" + "9" * 26, "x" * 2000]


def hostile_bodies(server_id: int, prefix: str) -> dict[str, bytes]:
    """Create bodies that stress a parser; the valid server id makes an accidental success possible, and
    every string name starts with the run's prefix, so anything created is recognisably the run's."""
    nested = b"[" * 5000 + b"]" * 5000
    tag = prefix.encode()

    def create(server: bytes, name: bytes, extra: bytes = b"") -> bytes:
        return b'{"server_id": %s, "name": "%s%s"%s}' % (server, tag, name, extra)

    own = str(server_id).encode()
    return {
        "100k-char name": create(own, b"a" * 100_000),
        "deeply nested body": nested,
        "deeply nested name": b'{"server_id": %s, "name": %s}' % (own, nested),
        "non-UTF-8 bytes": create(own, b"\xff\xfe\xfa"),
        "NUL in name": create(own, b"a\\u0000b"),
        "lone surrogate": create(own, b"\\ud800"),
        "huge server_id": create(b"100000000000000000000000000000000", b"huge"),
        "negative server_id": create(b"-%d" % ABSENT_ID, b"neg"),
        "float overflow": create(b"1e400", b"float"),
        "NaN literal": create(b"NaN", b"nan"),
        "duplicate keys": b'{"server_id": "x", "server_id": %s, "name": "%sdup"}' % (own, tag),
        "huge extra field": create(own, b"extra", b', "x": "%s"' % (b"y" * 200_000)),
    }


@pytest.mark.requirement("ROBUST-03")
def test_hostile_input_gets_no_server_error(api, check, servers, names):
    """Odd query strings, path ids, bodies and content types are answered without a 5xx."""
    for value in QUERY_VALUES:
        response = api.request("GET", SNAPSHOTS, params={"server_id": value})
        check.that(
            "ROBUST-03", response.status_code < 500, f"list?server_id={value[:20]!r}: {response.status_code}"
        )
    repeated = api.request("GET", SNAPSHOTS, params=[("server_id", "1"), ("server_id", "abc")])
    check.that("ROBUST-03", repeated.status_code < 500, f"repeated server_id: {repeated.status_code}")
    for value in PATH_IDS:
        for method, path in (("POST", f"{SNAPSHOTS}{value}/restore/"), ("DELETE", f"{SNAPSHOTS}{value}/")):
            response = api.request(method, path)
            check.that(
                "ROBUST-03", response.status_code < 500, f"{method} id {value[:20]!r}: {response.status_code}"
            )
    content_types = [
        "text/plain",
        "application/xml",
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ]
    with servers.lease() as server_id:  # a hostile create that succeeds lands on a server no one else uses
        for what, body in hostile_bodies(server_id or ABSENT_ID, names.prefix).items():
            response = api.request("POST", SNAPSHOTS, content=body)
            check.that("ROBUST-03", response.status_code < 500, f"create with {what}: {response.status_code}")
            delete_if_created(api, response)
    for media in content_types:
        body = b'{"server_id": %d, "name": "%s"}' % (ABSENT_ID, names("media").encode())
        response = api.request("POST", SNAPSHOTS, content=body, headers={"Content-Type": media})
        check.that("ROBUST-03", response.status_code < 500, f"create as {media}: {response.status_code}")
        delete_if_created(api, response)


def delete_if_created(api, response) -> None:
    """Remove a snapshot a hostile create happened to make, at once (the ledger would sweep it anyway)."""
    snapshot_id = new_snapshot_id(response)
    if snapshot_id is not None:
        api.delete_snapshot(snapshot_id)


@pytest.mark.requirement("ROBUST-04")
def test_undocumented_methods_get_405_with_allow(api, check):
    """PUT/PATCH on the collection and on a snapshot, GET/PUT on restore: 405 with an Allow header."""
    requests = [
        ("PUT", SNAPSHOTS),
        ("PATCH", SNAPSHOTS),
        ("PUT", f"{SNAPSHOTS}{ABSENT_ID}/"),
        ("PATCH", f"{SNAPSHOTS}{ABSENT_ID}/"),
        ("GET", f"{SNAPSHOTS}{ABSENT_ID}/restore/"),
        ("PUT", f"{SNAPSHOTS}{ABSENT_ID}/restore/"),
    ]
    for method, path in requests:
        response = api.request(method, path, json_body={})
        if check.status("ROBUST-04", response, f"{method} {path}"):
            allow = response.headers.get("Allow")
            check.that(
                "ROBUST-04", bool(allow), f"{method} {path}: 405 with Allow={allow!r}", evidence=response
            )
