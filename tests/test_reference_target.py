"""The reference target over loopback HTTP: auth, list, create, limit, delete, lifecycle, restore, data."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from vpsconform.reference.server import RunningTarget, start

StartTarget = Callable[..., RunningTarget]
ClientFactory = Callable[..., httpx.Client]

SNAPSHOTS = "/api/v1/snapshots/"
WEB, DB, APP, STORAGE, DEV = 12345, 12346, 12347, 12348, 12349  # main account (25, 50, 80, 160, 25 GB)
FOREIGN_WEB = 23456
CUSTOMER_SERVER = 12350  # the main account's server with pre-existing data, never handed to a run
CUSTOMER_IDS = [1000, 123, 1]  # its seeded snapshots, newest first
SCALE = 0.01
MINUTE = 60 * SCALE  # real seconds in a documented minute at SCALE
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def create(client: httpx.Client, server_id: int, name: str = "snap", **extra: Any) -> httpx.Response:
    """POST a create with a JSON body."""
    return client.post(SNAPSHOTS, json={"server_id": server_id, "name": name, **extra})


def created_id(client: httpx.Client, server_id: int, name: str = "snap") -> int:
    """Create a snapshot that must succeed and return its id."""
    response = create(client, server_id, name)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def listed(client: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    """The snapshot list (asserting its count)."""
    response = client.get(SNAPSHOTS, params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["count"] == len(body["results"])
    return body["results"]


def own(client: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    """The listed snapshots created through the API (the seeded customer snapshots left out)."""
    return [s for s in listed(client, **params) if s["id"] not in CUSTOMER_IDS]


def snapshot_of(client: httpx.Client, snapshot_id: int) -> dict[str, Any] | None:
    """One snapshot as listed, or None once it is gone."""
    return next((s for s in listed(client) if s["id"] == snapshot_id), None)


def server_status(client: httpx.Client, server_id: int) -> str:
    """A server's status from the servers read API."""
    response = client.get(f"/api/v1/servers/{server_id}/")
    assert response.status_code == 200, response.text
    return response.json()["status"]


def wait_for(condition: Callable[[], bool], timeout: float, interval: float = 0.01) -> float:
    """Poll until `condition` holds and return the monotonic instant it was seen; fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return time.monotonic()
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(interval)


def wait_completed(client: httpx.Client, snapshot_id: int, minute: float = MINUTE) -> float:
    """Wait until a snapshot is completed (at most 10 documented minutes and a bit)."""
    return wait_for(lambda: snapshot_of(client, snapshot_id)["status"] == "completed", 11 * minute)


def raw_http(target: RunningTarget, head: str, body: bytes = b"") -> tuple[int, dict[str, str], bytes]:
    """Send bytes no HTTP client would (a header value ending in a space); return status, headers, body."""
    host, port = target.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head.encode("latin-1") + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        sock.shutdown(socket.SHUT_WR)
        raw = b"".join(iter(lambda: sock.recv(65536), b""))
    header_block, _, payload = raw.partition(b"\r\n\r\n")
    status_line, *lines = header_block.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
    return int(status_line.split()[1]), headers, payload


def probe(target: RunningTarget, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the probe CLI as a subprocess against `target`."""
    command = [sys.executable, "-m", "vpsconform.reference.probe", "--url", target.url, *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)


@pytest.fixture(scope="module")
def shared_target() -> Iterator[RunningTarget]:
    """One target for tests that never change state (401, 404, 405, refused input)."""
    with start() as target:
        yield target


@pytest.fixture
def shared_client(shared_target: RunningTarget, reference_client: ClientFactory) -> httpx.Client:
    """Main-account client on the shared target."""
    return reference_client(shared_target)


# --- options, start, describe ---------------------------------------------------------------------------


def test_options_reject_unknown_names_and_bad_scales() -> None:
    from vpsconform.reference.faults import FAULTS
    from vpsconform.reference.options import TargetOptions
    from vpsconform.reference.variants import VARIANTS

    assert set(VARIANTS) == {
        "error-layout",
        "extra-fields",
        "empty-description",
        "pagination-keys",
        "bare-challenge",
        "stopped-after-restore",
        "slow-but-inside",
        "numeric-strings",
        "no-location",
        "delete-refused-in-progress",
        "servers-api-429",
        "flaky-network",
        "reused-ids",
    }
    assert len(FAULTS) >= 40 and all(fault.breaks for fault in FAULTS.values())
    assert TargetOptions(variants=frozenset(VARIANTS)).variant("no-location")
    with pytest.raises(ValueError, match="unknown variants: nope"):
        TargetOptions(variants=frozenset({"nope"}))
    with pytest.raises(ValueError, match="unknown faults: broken"):
        TargetOptions(faults=frozenset({"broken"}))
    for scale in (0, -1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="time_scale"):
            TargetOptions(time_scale=scale)


def test_running_target_exposes_accounts_without_leaking_tokens(reference_target: RunningTarget) -> None:
    from vpsconform.reference.server import describe

    main, foreign = reference_target.accounts
    assert (main.name, foreign.name) == ("main", "foreign")
    assert main.server_ids == [WEB, DB, APP, STORAGE, DEV]
    assert len(foreign.server_ids) >= 2
    assert not set(main.server_ids) & set(foreign.server_ids)
    assert main.token != foreign.token and len(main.token) >= 20
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", reference_target.url)
    shown = repr(reference_target) + repr(main)
    assert main.token not in shown and foreign.token not in shown
    text = describe(reference_target)
    assert main.token in text and foreign.token in text and "web-server-01" in text
    assert reference_target.probe_write_command in text
    assert reference_target.probe_write_command.endswith(" write {server_id} {marker}")
    assert reference_target.probe_read_command.endswith(" read {server_id}")


def test_each_start_has_new_tokens_and_stop_frees_the_port() -> None:
    with start() as first, start() as second:
        assert first.url != second.url
        assert first.account("main").token != second.account("main").token
    first.stop()  # a second stop is harmless
    with pytest.raises(httpx.TransportError):
        httpx.get(first.url + SNAPSHOTS, timeout=2)


# --- authentication -------------------------------------------------------------------------------------

AUTH_ROUTES = [
    ("GET", SNAPSHOTS, None),
    ("POST", SNAPSHOTS, b"not json"),
    ("POST", SNAPSHOTS, b'{"server_id": 99999, "name": "x"}'),
    ("POST", f"{SNAPSHOTS}999999/restore/", None),
    ("DELETE", f"{SNAPSHOTS}999999/", None),
    ("DELETE", f"{SNAPSHOTS}abc/", None),
    ("PUT", SNAPSHOTS, None),
    ("GET", f"{SNAPSHOTS}1/restore/", None),
    ("GET", "/api/v1/servers/", None),
    ("GET", "/api/v1/servers/99999/", None),
    ("GET", "/api/v1/unknown/", None),
]


@pytest.mark.parametrize(
    ("header", "invalid_token"),
    [
        (None, False),
        ("", False),
        ("Bearer", False),
        ("Bearer ", False),
        ("Token {token}", False),
        ("Basic dXNlcjpwYXNz", False),
        ("{token}", False),
        ("Bearer {token} extra", True),
        ("Bearer not-a-token", True),
        ("Bearer {token}x", True),
    ],
)
def test_bad_credentials_get_401_before_anything_else(
    shared_target: RunningTarget, header: str | None, invalid_token: bool
) -> None:
    token = shared_target.account("main").token
    line = "" if header is None else f"Authorization: {header.format(token=token)}\r\n"
    expected = 'Bearer realm="api", error="invalid_token"' if invalid_token else 'Bearer realm="api"'
    for method, path, body in AUTH_ROUTES:
        head = f"{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n{line}"
        status, headers, payload = raw_http(shared_target, head, body or b"")
        assert status == 401, (method, path, payload)
        assert isinstance(json.loads(payload)["detail"], str)
        assert headers["www-authenticate"] == expected


def test_scheme_is_case_insensitive_and_tokens_are_per_account(shared_target: RunningTarget) -> None:
    token = shared_target.account("main").token
    for header in (f"bearer {token}", f"BEARER {token}", f"BeArEr  {token}"):
        response = httpx.get(shared_target.url + SNAPSHOTS, headers={"Authorization": header})
        assert response.status_code == 200, header
    foreign = shared_target.account("foreign").token
    response = httpx.get(
        shared_target.url + "/api/v1/servers/", headers={"Authorization": f"Bearer {foreign}"}
    )
    assert [s["id"] for s in response.json()["results"]] == shared_target.account("foreign").server_ids


# --- list -----------------------------------------------------------------------------------------------


def test_list_is_newest_first_and_filters_by_own_server(main_client: httpx.Client) -> None:
    assert [s["id"] for s in listed(main_client)] == CUSTOMER_IDS
    ids = [created_id(main_client, server) for server in (WEB, DB, WEB)]
    assert [s["id"] for s in listed(main_client)] == sorted(ids + CUSTOMER_IDS, reverse=True)
    assert [s["id"] for s in listed(main_client, server_id=WEB)] == [ids[2], ids[0]]
    assert [s["id"] for s in listed(main_client, server_id=DB)] == [ids[1]]
    for other in (APP, FOREIGN_WEB, 99999, -1, 0, 10**30):
        assert listed(main_client, server_id=other) == []
    assert len(listed(main_client, server_id=WEB, page=7, ordering="x")) == 2
    repeated = main_client.get(f"{SNAPSHOTS}?server_id=abc&server_id={DB}")
    assert repeated.status_code == 200 and repeated.json()["count"] == 1


@pytest.mark.parametrize(
    "value", ["abc", "1e9999", "1.5", "", " 12345", "12345x", "NaN", "\u0661\u0662\u0663"]
)
def test_list_refuses_a_non_integer_filter(shared_client: httpx.Client, value: str) -> None:
    response = shared_client.get(SNAPSHOTS, params={"server_id": value})
    assert response.status_code == 400
    assert isinstance(response.json()["detail"], str)


# --- create ---------------------------------------------------------------------------------------------


def test_create_answers_201_with_the_documented_body(main_client: httpx.Client) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    response = create(main_client, WEB, "before-update-snapshot", description="Snapshot before system update")
    assert response.status_code == 201
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert response.headers["Location"] == f"/api/v1/snapshots/{body['id']}/"
    assert body == {
        "id": body["id"],
        "server": {"id": WEB, "name": "web-server-01"},
        "name": "before-update-snapshot",
        "status": "in_progress",
        "size_mb": None,
        "created_at": body["created_at"],
        "description": "Snapshot before system update",
        "message": "Snapshot is being created. This may take 3-10 minutes depending on server size.",
    }
    assert TIMESTAMP.fullmatch(body["created_at"])
    stamp = datetime.strptime(body["created_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert before <= stamp <= datetime.now(UTC)
    listed_body = snapshot_of(main_client, body["id"])
    assert listed_body == {k: v for k, v in body.items() if k != "message"}
    second = create(main_client, WEB, "before-update-snapshot", description="Snapshot before system update")
    assert second.json()["id"] > body["id"]


def test_create_description_is_optional_nullable_and_extras_are_ignored(main_client: httpx.Client) -> None:
    assert create(main_client, WEB, "a").json()["description"] is None
    assert create(main_client, WEB, "b", description=None).json()["description"] is None
    assert create(main_client, WEB, "c", description="").json()["description"] == ""
    body = create(main_client, WEB, "d", description="ünïcødé ✓", region="x", id=1, status="completed").json()
    assert body["description"] == "ünïcødé ✓" and body["status"] == "in_progress" and body["id"] != 1
    assert "region" not in body


def test_accepted_names(main_client: httpx.Client) -> None:
    names = ["a", "Z", "0", "-", "_", "123", "-leading", "A-b_C-9", "x" * 64, "y" * 255]
    servers = [WEB] * 5 + [DB] * 5
    for name, server in zip(names, servers, strict=True):
        response = create(main_client, server, name)
        assert response.status_code == 201, (name, response.text)
        assert response.json()["name"] == name


REFUSED_NAMES = [
    "",
    " ",
    "a b",
    "a.b",
    "a/b",
    "é",
    "\uff41",
    "\u0661",
    "a\n",
    "\na",
    "a\x00",
    "x" * 256,
    "x" * 10_000,
]


@pytest.mark.parametrize("name", [*REFUSED_NAMES, None, 5, True, [], {}, ["a"]], ids=repr)
def test_refused_names(shared_client: httpx.Client, name: Any) -> None:
    response = create(shared_client, WEB, name)
    assert response.status_code == 400, response.text
    assert "name" in response.json()["detail"]


@pytest.mark.parametrize(
    "server_id", ["12345", "abc", True, False, 12345.0, 1.5, None, [], {}, [12345]], ids=repr
)
def test_refused_server_ids(shared_client: httpx.Client, server_id: Any) -> None:
    response = shared_client.post(SNAPSHOTS, json={"server_id": server_id, "name": "ok"})
    assert response.status_code == 400, response.text
    assert "server_id" in response.json()["detail"]


@pytest.mark.parametrize(
    "body",
    [
        {"name": "ok"},
        {"server_id": WEB},
        {},
        {"server_id": WEB, "name": "ok", "description": 5},
        {"server_id": WEB, "name": "ok", "description": ["x"]},
        {"server_id": WEB, "name": "ok", "description": {"a": 1}},
        {"server_id": WEB, "name": "ok", "description": True},
        {"server_id": 99999, "name": "not valid"},  # validation comes before the lookup
    ],
    ids=repr,
)
def test_refused_bodies(shared_client: httpx.Client, body: dict[str, Any]) -> None:
    assert shared_client.post(SNAPSHOTS, json=body).status_code == 400


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"{",
        b"[]",
        b"1",
        b'"x"',
        b"null",
        b"\xff\xfe{",
        b'{"server_id": NaN, "name": "a"}',
        b"[" * 100_000,
    ],
    ids=repr,
)
def test_malformed_or_non_object_json_gets_400(shared_client: httpx.Client, raw: bytes) -> None:
    response = shared_client.post(SNAPSHOTS, content=raw, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert isinstance(response.json()["detail"], str)


# --- not found and tenancy ------------------------------------------------------------------------------


def test_absent_objects_and_odd_ids_get_404(shared_client: httpx.Client) -> None:
    assert create(shared_client, 99999, "ok").status_code == 404
    assert create(shared_client, 10**40, "ok").status_code == 404
    for snapshot_id in ("999999", "abc", "1.5", "-1", "0", "%20", "9" * 5000, "801x"):
        assert shared_client.post(f"{SNAPSHOTS}{snapshot_id}/restore/").status_code == 404, snapshot_id
        assert shared_client.delete(f"{SNAPSHOTS}{snapshot_id}/").status_code == 404, snapshot_id
    for path in ("/api/v1/servers/99999/", "/api/v1/servers/abc/", "/api/v2/snapshots/", "/nowhere", "/"):
        response = shared_client.get(path)
        assert response.status_code == 404, path
        assert isinstance(response.json()["detail"], str)


def test_another_accounts_objects_behave_as_absent(
    main_client: httpx.Client, foreign_client: httpx.Client
) -> None:
    theirs = created_id(foreign_client, FOREIGN_WEB, "theirs")
    ours = created_id(main_client, WEB, "ours")
    assert [s["id"] for s in own(main_client)] == [ours]
    assert [s["id"] for s in listed(foreign_client)] == [theirs]
    assert listed(main_client, server_id=FOREIGN_WEB) == []
    assert listed(foreign_client, server_id=WEB) == []
    assert create(main_client, FOREIGN_WEB, "x").status_code == 404
    assert main_client.post(f"{SNAPSHOTS}{theirs}/restore/").status_code == 404
    assert main_client.delete(f"{SNAPSHOTS}{theirs}/").status_code == 404
    assert foreign_client.delete(f"{SNAPSHOTS}{ours}/").status_code == 404
    assert main_client.get(f"/api/v1/servers/{FOREIGN_WEB}/").status_code == 404
    assert [s["id"] for s in listed(foreign_client)] == [theirs]
    assert [s["id"] for s in own(main_client)] == [ours]


# --- limit and delete -----------------------------------------------------------------------------------


def test_twenty_concurrent_creates_give_exactly_five(
    reference_client: ClientFactory, reference_target: RunningTarget
) -> None:
    barrier = threading.Barrier(20)
    statuses: list[int] = []

    def worker(index: int) -> None:
        with reference_client(reference_target) as client:
            barrier.wait()
            statuses.append(create(client, DB, f"burst-{index}").status_code)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(statuses) == [201] * 5 + [400] * 15
    with reference_client(reference_target) as client:
        assert len(listed(client, server_id=DB)) == 5
        assert create(client, WEB).status_code == 201  # the limit is per server


def test_limit_counts_every_state_and_delete_frees_a_slot(main_client: httpx.Client) -> None:
    ids = [created_id(main_client, WEB, f"s{i}") for i in range(5)]
    refused = create(main_client, WEB, "sixth")
    assert refused.status_code == 400 and "limit" in refused.json()["detail"].lower()
    assert len(listed(main_client, server_id=WEB)) == 5
    deleted = main_client.delete(f"{SNAPSHOTS}{ids[2]}/")  # still in progress
    assert deleted.status_code == 204
    assert created_id(main_client, WEB, "again") > ids[-1]  # ids are never reused
    assert create(main_client, WEB, "seventh").status_code == 400


def test_delete_answers_204_empty_and_the_snapshot_is_gone(main_client: httpx.Client) -> None:
    keep, gone = created_id(main_client, WEB, "keep"), created_id(main_client, WEB, "gone")
    response = main_client.delete(f"{SNAPSHOTS}{gone}/")
    assert response.status_code == 204
    assert response.content == b"" and "content-type" not in response.headers
    assert [s["id"] for s in own(main_client)] == [keep]
    assert [s["id"] for s in listed(main_client, server_id=WEB)] == [keep]
    assert main_client.delete(f"{SNAPSHOTS}{gone}/").status_code == 404
    assert main_client.post(f"{SNAPSHOTS}{gone}/restore/").status_code == 404


# --- methods and paths ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PUT", SNAPSHOTS, "GET, POST, HEAD, OPTIONS"),
        ("PATCH", SNAPSHOTS, "GET, POST, HEAD, OPTIONS"),
        ("DELETE", SNAPSHOTS, "GET, POST, HEAD, OPTIONS"),
        ("GET", f"{SNAPSHOTS}801/restore/", "POST, OPTIONS"),
        ("DELETE", f"{SNAPSHOTS}801/restore/", "POST, OPTIONS"),
        ("GET", f"{SNAPSHOTS}801/", "DELETE, OPTIONS"),
        ("PUT", f"{SNAPSHOTS}abc/", "DELETE, OPTIONS"),
        ("POST", "/api/v1/servers/", "GET, HEAD, OPTIONS"),
        ("BREW", SNAPSHOTS, "GET, POST, HEAD, OPTIONS"),
    ],
)
def test_undocumented_methods_get_405_with_allow(
    shared_client: httpx.Client, method: str, path: str, allow: str
) -> None:
    response = shared_client.request(method, path)
    assert response.status_code == 405
    assert response.headers["Allow"] == allow
    assert method in response.json()["detail"]


def test_head_options_and_slash_redirect(shared_target: RunningTarget, shared_client: httpx.Client) -> None:
    head = shared_client.head(SNAPSHOTS)
    assert head.status_code == 200 and head.content == b""
    options = shared_client.options(SNAPSHOTS)
    assert options.status_code == 200 and options.headers["Allow"] == "GET, POST, HEAD, OPTIONS"
    redirect = httpx.get(shared_target.url + "/api/v1/snapshots?server_id=1")  # like Django's APPEND_SLASH
    assert redirect.status_code == 301
    assert redirect.headers["Location"] == "/api/v1/snapshots/?server_id=1"


# --- lifecycle, restore, data ---------------------------------------------------------------------------


@pytest.mark.slow  # waits out the scaled create windows: about 5 s
def test_snapshots_complete_within_3_to_10_scaled_minutes(main_client: httpx.Client) -> None:
    expected = {WEB: 3.0, DB: 5.0, APP: 7.5, STORAGE: 9.0}
    started = time.monotonic()
    ids = {created_id(main_client, server, "life"): server for server in expected}
    first = {s["id"]: s for s in listed(main_client)}
    assert all(first[i]["status"] == "in_progress" and first[i]["size_mb"] is None for i in ids)
    done: dict[int, float] = {}

    def all_done() -> bool:
        for snapshot in own(main_client):
            if snapshot["status"] == "completed" and snapshot["id"] not in done:
                done[snapshot["id"]] = (time.monotonic() - started) / MINUTE
                assert isinstance(snapshot["size_mb"], int) and snapshot["size_mb"] > 0
                assert snapshot["created_at"] == first[snapshot["id"]]["created_at"]
        return len(done) == len(ids)

    wait_for(all_done, 11 * MINUTE, interval=0.02)
    for snapshot_id, server in ids.items():
        assert expected[server] <= done[snapshot_id] < min(expected[server] + 0.5, 10), (server, done)
    assert all(s["status"] == "completed" for s in listed(main_client))  # completed is final


@pytest.mark.slow  # waits out the scaled restore windows: about 5 s
def test_restore_runs_5_to_15_scaled_minutes_and_restores_the_power_state(main_client: httpx.Client) -> None:
    snapshots = {WEB: created_id(main_client, WEB), DEV: created_id(main_client, DEV)}  # active, stopped
    early = main_client.post(f"{SNAPSHOTS}{snapshots[WEB]}/restore/")
    assert early.status_code == 400  # still in progress
    for snapshot_id in snapshots.values():
        wait_completed(main_client, snapshot_id)
    started = time.monotonic()
    for server, snapshot_id in snapshots.items():
        response = main_client.post(f"{SNAPSHOTS}{snapshot_id}/restore/")
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["status"] == "success"
        assert body["message"] == "Server is being restored from snapshot. This may take 5-15 minutes."
        assert body["snapshot"] == {
            "id": snapshot_id,
            "name": "snap",
            "created_at": body["snapshot"]["created_at"],
        }
        assert body["server"]["id"] == server and body["server"]["status"] == "restoring"
        assert server_status(main_client, server) == "restoring"
        again = main_client.post(f"{SNAPSHOTS}{snapshot_id}/restore/")
        assert again.status_code == 400 and "valid state" in again.json()["detail"]
        assert create(main_client, server, "during").status_code == 400
    finished = {
        server: wait_for(lambda s=server: server_status(main_client, s) != "restoring", 16 * MINUTE)
        for server in snapshots
    }
    for server in snapshots:
        assert 5 <= (finished[server] - started) / MINUTE < 5.5
    assert server_status(main_client, WEB) == "active"
    assert server_status(main_client, DEV) == "stopped"
    assert main_client.post(f"{SNAPSHOTS}{snapshots[WEB]}/restore/").status_code == 200  # restorable again
    assert {s["id"] for s in own(main_client)} == set(snapshots.values())  # a restore keeps its snapshot


@pytest.mark.slow  # a snapshot and restores on the scaled clock: about 5 s
def test_restore_brings_back_the_point_in_time_data(
    reference_target: RunningTarget, main_client: httpx.Client
) -> None:
    data = f"{reference_target.url}/_probe/servers/{WEB}/data"
    assert httpx.get(data).json() == {"marker": f"initial-{WEB}"}
    written = probe(reference_target, "write", str(WEB), "A")
    assert written.returncode == 0, written.stderr
    first = created_id(main_client, WEB, "s1")
    assert httpx.put(data, json={"marker": "B"}).status_code == 204
    second = created_id(main_client, WEB, "s2")
    assert httpx.put(data, json={"marker": "C"}).status_code == 204
    wait_completed(main_client, second)
    assert main_client.post(f"{SNAPSHOTS}{first}/restore/").status_code == 200
    assert main_client.delete(f"{SNAPSHOTS}{first}/").status_code == 204  # the restore still finishes
    assert httpx.get(data).json() == {"marker": "C"}
    wait_for(lambda: server_status(main_client, WEB) != "restoring", 16 * MINUTE)
    read = probe(reference_target, "read", str(WEB))
    assert (read.returncode, read.stdout) == (0, "A\n")
    assert httpx.get(f"{reference_target.url}/_probe/servers/{DB}/data").json() == {"marker": f"initial-{DB}"}


# --- probe CLI ------------------------------------------------------------------------------------------


def test_probe_cli_reports_failures_in_one_line(reference_target: RunningTarget) -> None:
    command = reference_target.probe_write_command.format(server_id=DEV, marker="from-template")
    assert subprocess.run(command, shell=True, timeout=30, check=False).returncode == 0
    assert probe(reference_target, "read", str(DEV)).stdout == "from-template\n"
    missing = probe(reference_target, "read", "99999")
    assert missing.returncode == 1 and missing.stdout == ""
    assert (
        missing.stderr.startswith("probe: error:")
        and missing.stderr.count("\n") == 1
        and "404" in missing.stderr
    )
    with start() as gone:
        url = gone.url
    unreachable = subprocess.run(
        [sys.executable, "-m", "vpsconform.reference.probe", "--url", url, "write", "1", "x"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert unreachable.returncode == 1 and unreachable.stderr.startswith("probe: error:")
    assert probe(reference_target, "read", "not-a-number").returncode == 2
    assert (
        httpx.put(f"{reference_target.url}/_probe/servers/{DEV}/data", json={"marker": 5}).status_code == 400
    )


# --- variants -------------------------------------------------------------------------------------------


def test_variant_error_layout(reference_client: ClientFactory, start_reference_target: StartTarget) -> None:
    target = start_reference_target(variants={"error-layout"})
    unauthenticated = httpx.get(target.url + SNAPSHOTS)
    assert unauthenticated.status_code == 401
    assert set(unauthenticated.json()["error"]) == {"code", "message"}
    with reference_client(target) as client:
        for response in (create(client, WEB, "a b"), create(client, 99999), client.put(SNAPSHOTS)):
            assert set(response.json()) == {"error"} and isinstance(response.json()["error"]["message"], str)


def test_variant_extra_fields(reference_client: ClientFactory, start_reference_target: StartTarget) -> None:
    target = start_reference_target(time_scale=0.001, variants={"extra-fields"})
    with reference_client(target) as client:
        body = create(client, WEB).json()
        assert {"region", "updated_at"} <= set(body)
        assert "generated_at" in client.get(SNAPSHOTS).json()
        wait_completed(client, body["id"], minute=0.06)
        restore = client.post(f"{SNAPSHOTS}{body['id']}/restore/").json()
        assert {"started_at"} <= set(restore) and {"region"} <= set(restore["server"])


def test_variant_empty_description(
    reference_client: ClientFactory, start_reference_target: StartTarget
) -> None:
    with reference_client(start_reference_target(variants={"empty-description"})) as client:
        assert create(client, WEB).json()["description"] == ""
        assert create(client, WEB, description="kept").json()["description"] == "kept"


def test_variant_pagination_keys(
    reference_client: ClientFactory, start_reference_target: StartTarget
) -> None:
    with reference_client(start_reference_target(variants={"pagination-keys"})) as client:
        created_id(client, WEB)
        body = client.get(SNAPSHOTS, params={"server_id": WEB}).json()
        assert (
            body["next"] is None and body["previous"] is None and body["count"] == len(body["results"]) == 1
        )


def test_variant_bare_challenge(start_reference_target: StartTarget) -> None:
    target = start_reference_target(variants={"bare-challenge"})
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        assert httpx.get(target.url + SNAPSHOTS, headers=headers).headers["WWW-Authenticate"] == "Bearer"


def test_variant_stopped_after_restore(
    reference_client: ClientFactory, start_reference_target: StartTarget
) -> None:
    with reference_client(
        start_reference_target(time_scale=0.001, variants={"stopped-after-restore"})
    ) as client:
        snapshot_id = created_id(client, WEB)
        wait_completed(client, snapshot_id, minute=0.06)
        assert client.post(f"{SNAPSHOTS}{snapshot_id}/restore/").status_code == 200
        wait_for(lambda: server_status(client, WEB) != "restoring", 16 * 0.06)
        assert server_status(client, WEB) == "stopped"


def test_variant_slow_but_inside(
    reference_client: ClientFactory, start_reference_target: StartTarget
) -> None:
    minute = 60 * 0.002
    with reference_client(start_reference_target(time_scale=0.002, variants={"slow-but-inside"})) as client:
        started = time.monotonic()
        snapshot_id = created_id(client, WEB)
        completed = wait_completed(client, snapshot_id, minute=minute)
        assert 9.5 <= (completed - started) / minute < 10 + 0.2 / minute
        started = time.monotonic()
        assert client.post(f"{SNAPSHOTS}{snapshot_id}/restore/").status_code == 200
        finished = wait_for(lambda: server_status(client, WEB) != "restoring", 16 * minute)
        assert 14 <= (finished - started) / minute < 15


def test_variant_numeric_strings(
    reference_client: ClientFactory, start_reference_target: StartTarget
) -> None:
    with reference_client(start_reference_target(variants={"numeric-strings"})) as client:
        response = client.post(SNAPSHOTS, json={"server_id": str(WEB), "name": "n"})
        assert response.status_code == 201 and response.json()["server"]["id"] == WEB
        assert client.post(SNAPSHOTS, json={"server_id": "99999", "name": "n"}).status_code == 404
        assert client.post(SNAPSHOTS, json={"server_id": "12x", "name": "n"}).status_code == 400


def test_variant_delete_refused_in_progress(
    reference_client: ClientFactory, start_reference_target: StartTarget
) -> None:
    target = start_reference_target(time_scale=0.002, variants={"delete-refused-in-progress"})
    with reference_client(target) as client:
        snapshot_id = create(client, WEB).json()["id"]
        assert client.delete(f"{SNAPSHOTS}{snapshot_id}/").status_code == 400
        deadline = time.monotonic() + 5
        while (snapshot_of(client, snapshot_id) or {}).get(
            "status"
        ) != "completed" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert client.delete(f"{SNAPSHOTS}{snapshot_id}/").status_code == 204


def test_variant_no_location(reference_client: ClientFactory, start_reference_target: StartTarget) -> None:
    with reference_client(start_reference_target(variants={"no-location"})) as client:
        response = create(client, WEB)
        assert response.status_code == 201 and "Location" not in response.headers


def test_all_variants_together(reference_client: ClientFactory, start_reference_target: StartTarget) -> None:
    from vpsconform.reference.variants import VARIANTS

    faithful = {name for name, variant in VARIANTS.items() if not variant.chaos}  # chaos drops answers
    with reference_client(start_reference_target(variants=faithful)) as client:
        assert create(client, WEB).status_code == 201
        assert client.get(SNAPSHOTS, params={"server_id": WEB}).json()["count"] == 1


# --- robustness and throughput --------------------------------------------------------------------------


def test_hostile_input_never_gets_a_5xx(reference_target: RunningTarget, main_client: httpx.Client) -> None:
    snapshot_id = created_id(main_client, WEB)
    json_type = {"Content-Type": "application/json"}
    requests: list[tuple[str, str, dict[str, str], bytes | None]] = [
        ("POST", SNAPSHOTS, json_type, b'{"server_id": 1' + b"0" * 5000 + b', "name": "a"}'),
        ("POST", SNAPSHOTS, json_type, b'{"server_id": -12345, "name": "a"}'),
        ("POST", SNAPSHOTS, json_type, b'{"server_id": 1e400, "name": "a"}'),
        ("POST", SNAPSHOTS, json_type, b'{"server_id": 12345, "name": "' + b"a" * 2_000_000 + b'"}'),
        (
            "POST",
            SNAPSHOTS,
            json_type,
            b'{"server_id": 12345, "name": "a", "description": "\\ud800\\udfff\\u0000"}',
        ),
        ("POST", SNAPSHOTS, json_type, b'{"a":' * 50_000 + b"1" + b"}" * 50_000),
        ("POST", SNAPSHOTS, json_type, bytes(range(256))),
        ("POST", SNAPSHOTS, json_type, '{"server_id": 12345, "name": "\u00e9"}'.encode("utf-16")),
        ("POST", SNAPSHOTS, {"Content-Type": "text/plain"}, b'{"server_id": 12345, "name": "a"}'),
        ("POST", SNAPSHOTS, {"Content-Type": "application/x-www-form-urlencoded"}, b"server_id=12345&name=a"),
        ("POST", SNAPSHOTS, {"Content-Type": "multipart/form-data; boundary=x"}, b"--x--"),
        ("POST", SNAPSHOTS, {"Content-Type": "application/json; charset=latin-1"}, b'{"name": "\xe9"}'),
        ("POST", f"{SNAPSHOTS}{snapshot_id}/restore/", json_type, b"\xff" * 1000),
        ("DELETE", f"{SNAPSHOTS}{'9' * 10_000}/", {}, None),
        ("DELETE", f"{SNAPSHOTS}-{snapshot_id}/", {}, None),
        ("POST", f"{SNAPSHOTS}%F0%9F%92%A9/restore/", {}, None),
        ("POST", f"{SNAPSHOTS}%00/restore/", {}, None),
        ("GET", f"{SNAPSHOTS}?server_id=1e9999", {}, None),
        ("GET", f"{SNAPSHOTS}?server_id={'9' * 10_000}", {}, None),
        ("GET", f"{SNAPSHOTS}?server_id=%FF%FE", {}, None),
        ("GET", f"{SNAPSHOTS}?server_id=1&server_id=2&server_id=x", {}, None),
        ("GET", f"{SNAPSHOTS}?server_id", {}, None),
        ("GET", f"{SNAPSHOTS}?%00=%00&&&==", {}, None),
        ("GET", "/api/v1/snapshots%2F", {}, None),
        ("GET", "/api/v1/servers/%FF/", {}, None),
        ("PUT", f"/_probe/servers/{WEB}/data", json_type, b"[" * 100_000),
        ("PUT", f"/_probe/servers/{'9' * 5000}/data", json_type, b'{"marker": "x"}'),
    ]
    for method, path, headers, body in requests:
        response = main_client.request(method, path, headers=headers, content=body)
        assert response.status_code < 500, (method, path[:80], response.status_code)
        assert isinstance(response.json(), dict), (method, path[:80])
    for header in ("Bearer \x80\xff", "Bearer " + "a" * 8000, "\tBearer\t", "Bearer\x00x", "Bearer \t"):
        status, _, _ = raw_http(reference_target, f"GET {SNAPSHOTS} HTTP/1.1\r\nAuthorization: {header}\r\n")
        assert status in (400, 401, 431), header[:20]


def test_throughput_of_one_client(main_client: httpx.Client) -> None:
    created_id(main_client, WEB)
    count = 400
    started = time.perf_counter()
    for _ in range(count):
        assert main_client.get(SNAPSHOTS).status_code == 200
    rate = count / (time.perf_counter() - started)
    print(f"\nreference target: {rate:.0f} requests/s (GET list, one httpx client, loopback)")
    assert rate > 100


# --- customer data and the target's counters ------------------------------------------------------------


def test_the_main_account_holds_customer_data_no_run_is_given(
    reference_target: RunningTarget, main_client: httpx.Client
) -> None:
    main = reference_target.account("main")
    assert CUSTOMER_SERVER not in main.server_ids and main.customer_server_ids == [CUSTOMER_SERVER]
    customer = listed(main_client, server_id=CUSTOMER_SERVER)
    assert [s["id"] for s in customer] == CUSTOMER_IDS
    assert all(s["status"] == "completed" and s["server"]["id"] == CUSTOMER_SERVER for s in customer)
    assert reference_target.stats() == {
        "foreign_restores": 0,
        "foreign_deletes": 0,
        "held_by_api": 0,
        "held_by_api_by_account": {"main": 0, "foreign": 0},
        "customer_snapshots": sorted(CUSTOMER_IDS),
        "throttled": 0,
        "dropped_before": 0,
        "dropped_after": 0,
        "busiest_second": 1,
    }


def test_id_allocation_skips_the_seeded_ids() -> None:
    from vpsconform.reference.options import TargetOptions
    from vpsconform.reference.seed import make_accounts
    from vpsconform.reference.store import Store

    store = Store(TargetOptions(), make_accounts())
    main = store.primary_account()
    ids = []
    for _ in range(250):  # from 801 past 1000, one create and delete at a time (the limit is per server)
        snapshot_id = store.create_snapshot(main, WEB, "snap", None).id
        ids.append(snapshot_id)
        store.delete_snapshot(main, snapshot_id)
    assert 1000 not in ids and len(set(ids)) == len(ids)
    assert ids[ids.index(999) + 1] == 1001
    assert store.stats()["customer_snapshots"] == sorted(CUSTOMER_IDS)  # untouched


def test_counters_of_foreign_touches_and_of_snapshots_held(
    reference_target: RunningTarget, main_client: httpx.Client, foreign_client: httpx.Client
) -> None:
    assert main_client.post(f"{SNAPSHOTS}1/restore/").status_code == 200  # the account may: it is its data
    assert main_client.post(f"{SNAPSHOTS}1000/restore/").status_code == 400  # same server, busy: still a hit
    assert main_client.delete(f"{SNAPSHOTS}123/").status_code == 204
    assert foreign_client.delete(f"{SNAPSHOTS}1000/").status_code == 404  # not theirs: no hit
    kept = [created_id(main_client, WEB, "a"), created_id(main_client, DB, "b")]
    created_id(foreign_client, FOREIGN_WEB, "c")
    assert main_client.delete(f"{SNAPSHOTS}{kept[0]}/").status_code == 204
    stats = reference_target.stats()
    assert (stats["foreign_restores"], stats["foreign_deletes"]) == (2, 1)
    assert stats["held_by_api"] == 2 and stats["held_by_api_by_account"] == {"main": 1, "foreign": 1}
    assert stats["customer_snapshots"] == [1, 1000]
    assert httpx.get(reference_target.stats_url).json() == stats  # unauthenticated, on loopback


def test_stats_are_written_on_stop_and_refused_off_loopback(
    tmp_path: Any, reference_client: ClientFactory
) -> None:
    from vpsconform.reference.app import create_app
    from vpsconform.reference.chaos import Chaos
    from vpsconform.reference.options import TargetOptions
    from vpsconform.reference.seed import make_accounts
    from vpsconform.reference.store import Store

    path = tmp_path / "cell" / "stats.json"
    target = start(TargetOptions(SCALE), stats_path=path)
    client = reference_client(target)
    assert client.delete(f"{SNAPSHOTS}1/").status_code == 204
    assert create(client, WEB).status_code == 201
    target.stop()
    written = json.loads(path.read_text())
    assert (written["foreign_deletes"], written["held_by_api"]) == (1, 1)

    options = TargetOptions(SCALE)
    app = create_app(Store(options, make_accounts()), Chaos(options))

    async def from_afar() -> int:
        transport = httpx.ASGITransport(app, client=("203.0.113.5", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://target") as remote:
            return (await remote.get("/_probe/stats")).status_code

    assert asyncio.run(from_afar()) == 404


# --- observation failures (faithful behaviour the suite must tolerate) -------------------------------------


def _server_calls(client: httpx.Client, count: int) -> list[int]:
    """Statuses of `count` reads of a server (checking the Retry-After of each 429)."""
    outcomes = []
    for _ in range(count):
        response = client.get(f"/api/v1/servers/{WEB}/")
        outcomes.append(response.status_code)
        if response.status_code == 429:
            assert response.headers["Retry-After"] == "0"  # 1 s at production time, scaled by 0.01
    return outcomes


def test_variant_servers_api_429(
    start_reference_target: StartTarget, reference_client: ClientFactory
) -> None:
    throttled = [reference_client(start_reference_target(variants={"servers-api-429"})) for _ in range(2)]
    first, again = (_server_calls(client, 200) for client in throttled)
    assert first == again  # seeded: the same sequence every time
    assert 0.12 <= first.count(429) / len(first) <= 0.3
    assert all(not (a == b == 429) for a, b in itertools.pairwise(first))  # one retry always gets through
    assert set(_server_calls(reference_client(start_reference_target()), 50)) == {200}
    with httpx.Client(base_url=start_reference_target(variants={"servers-api-429"}).url) as anonymous:
        assert {anonymous.get(f"/api/v1/servers/{WEB}/").status_code for _ in range(20)} == {401}


def test_variant_reused_ids(start_reference_target: StartTarget, reference_client: ClientFactory) -> None:
    target = start_reference_target(variants={"reused-ids"})
    client = reference_client(target)
    snapshot_id = created_id(client, WEB, "soon-gone")
    assert client.delete(f"{SNAPSHOTS}{snapshot_id}/").status_code == 204
    holder = [s for s in own(client) if s["id"] == snapshot_id]
    assert [(s["server"]["id"], s["name"]) for s in holder] == [
        (CUSTOMER_SERVER, f"customer-reused-{snapshot_id}")
    ]
    second_delete = client.delete(f"{SNAPSHOTS}{snapshot_id}/")  # what a careless second delete hits
    assert second_delete.status_code == 204
    assert target.stats()["foreign_deletes"] == 1
    foreign = reference_client(target, "foreign")
    gone = created_id(foreign, target.account("foreign").server_ids[0], "no-customer-server")
    assert foreign.delete(f"{SNAPSHOTS}{gone}/").status_code == 204
    assert all(s["id"] != gone for s in own(client) + own(foreign))  # an account without one: no reuse


def test_the_target_meters_its_busiest_second(
    start_reference_target: StartTarget, reference_client: ClientFactory
) -> None:
    target = start_reference_target()
    client = reference_client(target)
    for _ in range(5):
        assert client.get(SNAPSHOTS).status_code == 200
    client.get("/_probe/stats")  # the control plane is not the run's traffic
    assert target.stats()["busiest_second"] == 5


def test_variant_flaky_network(
    start_reference_target: StartTarget, reference_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    target = start_reference_target(variants={"flaky-network"})
    client = reference_client(target)
    lost_unacted = lost_acted = 0
    for i in range(150):  # a create, then whatever the list shows is deleted (until it is really gone)
        name = f"flaky-{i}"
        try:
            create(client, WEB, name)
        except httpx.TransportError:
            listed_names = [s["name"] for s in _retrying(lambda: own(client, server_id=WEB))]
            lost_acted += name in listed_names
            lost_unacted += name not in listed_names
        for snapshot in _retrying(lambda: own(client, server_id=WEB)):
            _retrying(lambda sid=snapshot["id"]: client.delete(f"{SNAPSHOTS}{sid}/"))
    stats = target.stats()
    assert lost_unacted >= 1 and lost_acted >= 1, stats
    drops = stats["dropped_before"] + stats["dropped_after"]
    assert 0.01 <= drops / 600 <= 0.06, stats  # about 600 API requests
    assert stats["held_by_api"] == 0
    with httpx.Client(base_url=target.url) as plane:  # the data plane and the stats endpoint never drop
        for _ in range(100):
            assert plane.get(f"/_probe/servers/{WEB}/data").status_code == 200
            assert plane.get("/_probe/stats").status_code == 200
    assert not [r for r in caplog.records if "Exception in ASGI application" in r.getMessage()]


def _retrying(call: Callable[[], Any]) -> Any:
    """`call()`, once more after a lost connection (the flaky network never drops twice in a row)."""
    try:
        return call()
    except httpx.TransportError:
        return call()
