"""The reference target's injected faults: the registry is sound, and every fault shows over real HTTP.

Each fault has a probe: a short scenario over loopback HTTP that returns what a client observes. The probe
runs on a faithful target and on one with only that fault injected (both fresh, in parallel); the faithful
answer must be the correct one and the faulty answer must show the defect.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from vpsconform.catalog import load_requirements
from vpsconform.reference.faults import FAULTS, Fault
from vpsconform.reference.server import RunningTarget

StartTarget = Callable[..., RunningTarget]
ClientFactory = Callable[..., httpx.Client]

SNAPSHOTS = "/api/v1/snapshots/"
WEB, DB, STORAGE = 12345, 12346, 12348  # main account: 25 GB (3 / 5 min), 50 GB, 160 GB (9 / 14 min)
FOREIGN_WEB = 23456
CUSTOMER_SERVER = 12350  # the main account's server with seeded customer snapshots 1, 123 and 1000
ABSENT = 999_999
SCALE = 0.002
MINUTE = 60 * SCALE  # real seconds in a documented minute
POLL = 0.01
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
KEBAB = re.compile(r"[a-z0-9]+(-[a-z0-9]+)+")
# Faults named for what they do to a careless suite rather than after one requirement area.
CROSS_CUTTING = {"lenient-ids", "open-auth-unknown", "string-ids"}


# --- helpers --------------------------------------------------------------------------------------------


class Ctx:
    """One running target with clients of both accounts and an anonymous one."""

    def __init__(self, target: RunningTarget, reference_client: ClientFactory) -> None:
        self.target = target
        self.main = reference_client(target, "main")
        self.foreign = reference_client(target, "foreign")
        self.anon = reference_client(target, "main")
        del self.anon.headers["Authorization"]

    def create(
        self, server_id: Any = WEB, name: Any = "snap", client: httpx.Client | None = None, **extra: Any
    ) -> httpx.Response:
        """POST a create with a JSON body."""
        return (client or self.main).post(SNAPSHOTS, json={"server_id": server_id, "name": name, **extra})

    def created_id(self, server_id: int = WEB, name: str = "snap", client: httpx.Client | None = None) -> int:
        """Create a snapshot that must be accepted and return its id."""
        response = self.create(server_id, name, client)
        assert response.status_code in (200, 201), response.text
        return response.json()["id"]

    def listed(self, client: httpx.Client | None = None, **params: Any) -> list[dict[str, Any]]:
        """The results of a 200 list."""
        response = (client or self.main).get(SNAPSHOTS, params=params)
        assert response.status_code == 200, response.text
        return response.json()["results"]

    def snapshot(self, snapshot_id: int, client: httpx.Client | None = None) -> dict[str, Any] | None:
        """One snapshot as listed, or None."""
        return next((s for s in self.listed(client) if s["id"] == snapshot_id), None)

    def status(self, snapshot_id: int) -> str | None:
        """A snapshot's listed status (None when not listed)."""
        item = self.snapshot(snapshot_id)
        return None if item is None else item["status"]

    def wait_settled(self, snapshot_id: int, minutes: float = 11) -> str | None:
        """Poll until the snapshot leaves in_progress/pending (at most `minutes`); its last status."""
        deadline = time.monotonic() + minutes * MINUTE
        status = self.status(snapshot_id)
        while status in ("in_progress", "pending") and time.monotonic() < deadline:
            time.sleep(POLL)
            status = self.status(snapshot_id)
        return status

    def completed_id(self, server_id: int = WEB, name: str = "snap") -> int:
        """Create a snapshot and wait for it to complete."""
        snapshot_id = self.created_id(server_id, name)
        assert self.wait_settled(snapshot_id) == "completed"
        return snapshot_id

    def server_status(self, server_id: int = WEB) -> str:
        """A server's status from the servers read API."""
        return self.main.get(f"/api/v1/servers/{server_id}/").json()["status"]

    def wait_idle(self, server_id: int = WEB, minutes: float = 16) -> tuple[str, float]:
        """Poll until the server is not restoring (at most `minutes`): its status and the minutes it took."""
        started = time.monotonic()
        status = self.server_status(server_id)
        while status == "restoring" and time.monotonic() - started < minutes * MINUTE:
            time.sleep(POLL)
            status = self.server_status(server_id)
        return status, (time.monotonic() - started) / MINUTE

    def write(self, marker: str, server_id: int = WEB) -> None:
        """Put a data marker on a server through the probe plane."""
        response = self.anon.put(f"/_probe/servers/{server_id}/data", json={"marker": marker})
        assert response.status_code == 204

    def read(self, server_id: int = WEB) -> str:
        """The server's data marker."""
        return self.anon.get(f"/_probe/servers/{server_id}/data").json()["marker"]

    def restore(self, snapshot_id: int, client: httpx.Client | None = None) -> httpx.Response:
        """POST a restore."""
        return (client or self.main).post(f"{SNAPSHOTS}{snapshot_id}/restore/")

    def delete(self, snapshot_id: Any, client: httpx.Client | None = None) -> httpx.Response:
        """DELETE a snapshot."""
        return (client or self.main).delete(f"{SNAPSHOTS}{snapshot_id}/")

    def fill(self, server_id: int = WEB, count: int = 5) -> list[int]:
        """`count` accepted snapshots on a server."""
        return [self.created_id(server_id, f"fill-{i}") for i in range(count)]


@dataclass(frozen=True)
class Probe:
    """What to do, what a faithful target shows, and what the faulty one shows instead."""

    run: Callable[[Ctx], Any]
    faithful: Any
    faulty: Any


# --- probes, one per fault --------------------------------------------------------------------------------


def _auth_after_lookup(ctx: Ctx) -> tuple[int, ...]:
    existing = ctx.created_id()
    return (
        ctx.restore(ABSENT, ctx.anon).status_code,
        ctx.delete(ABSENT, ctx.anon).status_code,
        ctx.delete(existing, ctx.anon).status_code,  # an existing one still needs auth
    )


def _list_filter_ignored(ctx: Ctx) -> list[int]:
    ctx.created_id(WEB)
    ctx.created_id(DB)
    return sorted(
        s["server"]["id"] for s in ctx.listed(server_id=WEB) if s["server"]["id"] != CUSTOMER_SERVER
    )


def _list_first_server_only(ctx: Ctx) -> list[int]:
    ctx.created_id(WEB)
    ctx.created_id(DB)
    return sorted({s["server"]["id"] for s in ctx.listed()} - {CUSTOMER_SERVER})


def _list_count_total(ctx: Ctx) -> tuple[int, int]:
    ctx.created_id(WEB)
    ctx.created_id(FOREIGN_WEB, client=ctx.foreign)
    body = ctx.main.get(SNAPSHOTS, params={"server_id": DB}).json()
    return body["count"], len(body["results"])


def _list_drops_description(ctx: Ctx) -> tuple[Any, Any]:
    created = ctx.create(description="kept").json()
    return created["description"], ctx.snapshot(created["id"])["description"]


def _create_dedupe(ctx: Ctx) -> tuple[int, int, bool]:
    first, second = ctx.create(name="twin"), ctx.create(name="twin")
    return first.status_code, second.status_code, first.json()["id"] != second.json()["id"]


def _valid_bool_server_id(ctx: Ctx) -> tuple[int, ...]:
    typed = tuple(ctx.create(value, "typed").status_code for value in (WEB + 0.5, True, "abc"))
    overflow = ctx.main.post(SNAPSHOTS, content=b'{"server_id": 1e400, "name": "typed"}')  # inf: no int()
    return (*typed, overflow.status_code)


def _valid_missing_name(ctx: Ctx) -> tuple[int, bool]:
    response = ctx.main.post(SNAPSHOTS, json={"server_id": WEB})
    name = response.json().get("name", "")
    return response.status_code, name.startswith("snapshot-")


def _sixth_after_fill(server_id: int, wait: bool) -> Callable[[Ctx], int]:
    def run(ctx: Ctx) -> int:
        ids = ctx.fill(server_id)
        if wait:
            for snapshot_id in ids:
                assert ctx.wait_settled(snapshot_id) == "completed"
        return ctx.create(server_id, "sixth").status_code

    return run


def _limit_not_atomic(ctx: Ctx) -> tuple[bool, bool]:
    burst = 12
    barrier = threading.Barrier(burst)
    codes: list[int] = []
    token = ctx.target.account("main").token

    def worker(index: int) -> None:
        with httpx.Client(base_url=ctx.target.url, headers={"Authorization": f"Bearer {token}"}) as client:
            barrier.wait(timeout=10)
            codes.append(ctx.create(WEB, f"burst-{index}", client).status_code)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(burst)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return codes.count(201) > 5, len(ctx.listed(server_id=WEB)) > 5


def _limit_per_account(ctx: Ctx) -> int:
    ctx.fill(WEB, 2)  # with the 3 customer snapshots, the account holds 5
    return ctx.create(DB, "other-server").status_code


def _limit_delete_frees_late(ctx: Ctx) -> tuple[int, int]:
    ids = ctx.fill(WEB)
    assert ctx.delete(ids[0]).status_code == 204
    at_once = ctx.create(WEB, "freed").status_code
    if at_once == 201:  # make room again for the second look
        assert ctx.delete(ctx.listed(server_id=WEB)[0]["id"]).status_code == 204
    time.sleep(1.2 * MINUTE)  # the cleanup job has run
    return at_once, ctx.create(WEB, "later").status_code


def _limit_refused_still_saved(ctx: Ctx) -> tuple[int, int]:
    ctx.fill(WEB)
    return ctx.create(WEB, "sixth").status_code, len(ctx.listed(server_id=WEB))


def _notfound_create(ctx: Ctx) -> tuple[int, int]:
    return ctx.create(ABSENT, "nowhere").status_code, ctx.create(FOREIGN_WEB, "theirs").status_code


def _notfound_restore(ctx: Ctx) -> tuple[int, int]:
    deleted = ctx.completed_id()
    assert ctx.delete(deleted).status_code == 204
    return ctx.restore(ABSENT).status_code, ctx.restore(deleted).status_code


def _notfound_delete(ctx: Ctx) -> tuple[int, int]:
    deleted = ctx.created_id()
    assert ctx.delete(deleted).status_code == 204
    return ctx.delete(ABSENT).status_code, ctx.delete(deleted).status_code


def _restored(ctx: Ctx) -> tuple[int, httpx.Response]:
    snapshot_id = ctx.completed_id()
    return snapshot_id, ctx.restore(snapshot_id)


def _restore_status(ctx: Ctx) -> int:
    _, response = _restored(ctx)
    ctx.wait_idle()
    return response.status_code


def _restore_reported_server(ctx: Ctx) -> str:
    _, response = _restored(ctx)
    ctx.wait_idle()
    return response.json()["server"]["status"]


def _restore_twice(ctx: Ctx) -> int:
    snapshot_id, first = _restored(ctx)
    assert first.status_code == 200
    second = ctx.restore(snapshot_id).status_code
    ctx.wait_idle()
    return second


def _restore_ends(ctx: Ctx) -> str:
    _restored(ctx)
    return ctx.wait_idle(minutes=16)[0]


def _restore_echo(ctx: Ctx) -> tuple[bool, int]:
    snapshot_id, response = _restored(ctx)
    ctx.wait_idle()
    body = response.json()
    return body["snapshot"]["id"] == snapshot_id, body["server"]["id"]


def _data_overwrite(ctx: Ctx) -> str:
    ctx.write("A")
    s1 = ctx.completed_id(name="s1")
    ctx.write("B")
    ctx.completed_id(name="s2")
    ctx.write("C")
    assert ctx.restore(s1).status_code == 200
    assert ctx.wait_idle()[0] == "active"
    return ctx.read()


def _data_point_in_time(ctx: Ctx) -> str:
    ctx.write("D", DB)  # DB: 5 documented minutes of snapshot, room to write E while it is in progress
    s3 = ctx.created_id(DB, "s3")
    ctx.write("E", DB)
    assert ctx.status(s3) == "in_progress"
    assert ctx.wait_settled(s3) == "completed"
    ctx.write("F", DB)
    assert ctx.restore(s3).status_code == 200
    assert ctx.wait_idle(DB)[0] == "active"
    return ctx.read(DB)


def _delete_answer(ctx: Ctx) -> tuple[int, bool]:
    response = ctx.delete(ctx.created_id())
    return response.status_code, response.content == b""


def _delete_listed(ctx: Ctx) -> tuple[bool, bool]:
    snapshot_id = ctx.created_id()
    assert ctx.delete(snapshot_id).status_code == 204
    return (
        any(s["id"] == snapshot_id for s in ctx.listed()),
        any(s["id"] == snapshot_id for s in ctx.listed(server_id=WEB)),
    )


def _delete_then_restore(ctx: Ctx) -> int:
    snapshot_id = ctx.completed_id()
    assert ctx.delete(snapshot_id).status_code == 204
    status = ctx.restore(snapshot_id).status_code
    ctx.wait_idle()
    return status


def _delete_twice(ctx: Ctx) -> int:
    snapshot_id = ctx.created_id()
    assert ctx.delete(snapshot_id).status_code == 204
    return ctx.delete(snapshot_id).status_code


def _delete_one_of_two(ctx: Ctx) -> int:
    first, second = ctx.created_id(name="first"), ctx.created_id(name="second")
    assert ctx.delete(first).status_code == 204
    return len([s for s in ctx.listed(server_id=WEB) if s["id"] == second])


def _final_status(ctx: Ctx) -> str | None:
    return ctx.wait_settled(ctx.created_id())


def _statuses_after_completion(ctx: Ctx) -> list[str]:
    snapshot_id = ctx.completed_id()
    return sorted({ctx.status(snapshot_id) or "(absent)" for _ in range(6)})


def _completed_size_type(ctx: Ctx) -> str:
    return type(ctx.snapshot(ctx.completed_id())["size_mb"]).__name__


def _created_at_kept(ctx: Ctx) -> bool:
    created = ctx.create().json()
    assert ctx.wait_settled(created["id"]) == "completed"
    return ctx.snapshot(created["id"])["created_at"] == created["created_at"]


def _create_on_time(ctx: Ctx) -> bool:
    started = time.monotonic()
    status = ctx.wait_settled(ctx.created_id(), minutes=13)
    return status == "completed" and (time.monotonic() - started) / MINUTE <= 10.5


def _restore_on_time(ctx: Ctx) -> bool:
    _, response = _restored(ctx)
    assert response.status_code == 200
    status, minutes = ctx.wait_idle(minutes=20)
    return status != "restoring" and minutes <= 15.5


def _created_at_is_utc(ctx: Ctx) -> bool:
    return TIMESTAMP.fullmatch(ctx.create().json()["created_at"]) is not None


def _created_at_is_now(ctx: Ctx) -> bool:
    stamp = datetime.strptime(ctx.create().json()["created_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    return abs(stamp - datetime.now(UTC)) < timedelta(minutes=5)


def _snapshot_keys(ctx: Ctx) -> tuple[bool, bool]:
    created = ctx.create().json()
    return "created_at" in created, "created_at" in ctx.listed()[0]


def _restore_keys(ctx: Ctx) -> list[str]:
    _, response = _restored(ctx)
    ctx.wait_idle()
    return sorted(response.json())


def _content_types(ctx: Ctx) -> list[str]:
    created = ctx.create()
    listed = ctx.main.get(SNAPSHOTS)
    return [r.headers["content-type"].split(";")[0] for r in (created, listed)]


def _lenient_path_ids(ctx: Ctx) -> tuple[int, ...]:
    snapshot_id = ctx.completed_id()
    spellings = (f"{snapshot_id}.5", f"{snapshot_id}e0", "abc", "1e999")
    codes = [ctx.restore(spelling).status_code for spelling in spellings]  # type: ignore[arg-type]
    ctx.wait_idle()
    return (*codes, ctx.delete(f"{snapshot_id}.5").status_code)


def _lenient_ids(ctx: Ctx) -> tuple[int, ...]:
    """Hostile spellings of the customer snapshots 1, 123 and 1000 and of two own ones; then the counters."""
    own, other = ctx.created_id(), ctx.created_id(DB)
    codes = (
        ctx.restore("1e0").status_code,  # customer snapshot 1
        ctx.delete("\u0661\u0662\u0663").status_code,  # Arabic-Indic 123 (sent percent-encoded)
        ctx.delete("1000abc").status_code,
        ctx.delete(f"0x{own:x}").status_code,
        ctx.delete(f"%20{other}%20").status_code,  # " 802 "
    )
    stats = ctx.target.stats()
    return (*codes, stats["foreign_restores"], stats["foreign_deletes"])


def _string_ids(ctx: Ctx) -> tuple[str, ...]:
    created = ctx.create().json()
    listed = ctx.listed(server_id=WEB)[0]
    server = ctx.main.get(f"/api/v1/servers/{WEB}/").json()
    deleted = ctx.delete(created["id"]).status_code  # the path takes the id as the body gave it
    kinds = (created["id"], created["server"]["id"], listed["id"], listed["server"]["id"], server["id"])
    return (*(type(value).__name__ for value in kinds), str(deleted))


def _delete_noop(ctx: Ctx) -> tuple[int, bool, int, int]:
    snapshot_id = ctx.created_id()
    first = ctx.delete(snapshot_id).status_code
    return first, ctx.snapshot(snapshot_id) is not None, ctx.delete(snapshot_id).status_code, _held(ctx)


def _status_after_restore(ctx: Ctx) -> str | None:
    snapshot_id, response = _restored(ctx)
    assert response.status_code == 200
    ctx.wait_idle()
    return ctx.status(snapshot_id)


def _delete_named_of_two(ctx: Ctx) -> tuple[bool, bool]:
    first, second = ctx.created_id(name="first"), ctx.created_id(name="second")
    assert ctx.delete(first).status_code == 204
    listed = {s["id"] for s in ctx.listed(server_id=WEB)}
    return first in listed, second in listed


def _create_on_absent_server(ctx: Ctx) -> tuple[int, int, int]:
    before = ctx.main.get(f"/api/v1/servers/{ABSENT}/").status_code
    created = ctx.create(ABSENT, "nowhere").status_code
    return before, created, ctx.main.get(f"/api/v1/servers/{ABSENT}/").status_code


def _held(ctx: Ctx) -> int:
    return ctx.target.stats()["held_by_api"]


def _bigint_paths(ctx: Ctx) -> tuple[int, int]:
    return ctx.delete(2**64).status_code, ctx.restore(10**30).status_code


def _deep_nesting(ctx: Ctx) -> int:
    return ctx.main.post(
        SNAPSHOTS, content=b"[" * 5000, headers={"Content-Type": "application/json"}
    ).status_code


def _foreign_snapshot_in_our_list(ctx: Ctx) -> tuple[bool, bool]:
    theirs = ctx.created_id(FOREIGN_WEB, "theirs", ctx.foreign)
    ours = ctx.created_id(WEB, "ours")
    return (
        any(s["id"] == theirs for s in ctx.listed()),
        any(s["id"] == ours for s in ctx.listed(ctx.foreign)),
    )


def _foreign_server_filter(ctx: Ctx) -> int:
    ctx.created_id(FOREIGN_WEB, "theirs", ctx.foreign)
    return len(ctx.listed(server_id=FOREIGN_WEB))


def _foreign_restore(ctx: Ctx) -> int:
    snapshot_id = ctx.completed_id()
    status = ctx.restore(snapshot_id, ctx.foreign).status_code
    ctx.wait_idle()
    return status


def _foreign_delete(ctx: Ctx) -> tuple[int, bool]:
    snapshot_id = ctx.created_id()
    status = ctx.delete(snapshot_id, ctx.foreign).status_code
    return status, ctx.snapshot(snapshot_id) is not None


PROBES: dict[str, Probe] = {
    # AUTH
    "auth-missing-header-allowed": Probe(lambda c: c.anon.get(SNAPSHOTS).status_code, 401, 200),
    "auth-any-token": Probe(
        lambda c: c.anon.get(SNAPSHOTS, headers={"Authorization": "Bearer not-a-real-token"}).status_code,
        401,
        200,
    ),
    "auth-after-lookup": Probe(_auth_after_lookup, (401, 401, 401), (404, 404, 401)),
    "auth-after-validation": Probe(
        lambda c: (c.create(WEB, "not valid!", c.anon).status_code, c.create(WEB, "ok", c.anon).status_code),
        (401, 401),
        (400, 401),
    ),
    "auth-restore-session-only": Probe(
        lambda c: (c.main.get(SNAPSHOTS).status_code, _restore_status(c)), (200, 200), (200, 401)
    ),
    "open-auth-unknown": Probe(
        lambda c: tuple(
            c.anon.get(SNAPSHOTS, headers={"Authorization": f"Bearer {token}"}).status_code
            for token in ("not-a-real-token", "not!token68")  # auth-any-token would refuse the second
        ),
        (401, 401),
        (200, 200),
    ),
    "auth-403": Probe(
        lambda c: (
            c.anon.get(SNAPSHOTS).status_code,
            c.anon.get(SNAPSHOTS, headers={"Authorization": "Bearer nope"}).status_code,
        ),
        (401, 401),
        (403, 403),
    ),
    # LIST
    "list-filter-ignored": Probe(_list_filter_ignored, [WEB], [WEB, DB]),
    "list-first-server-only": Probe(_list_first_server_only, [WEB, DB], [WEB]),
    "list-count-total": Probe(_list_count_total, (0, 0), (5, 0)),  # 2 created + 3 customer snapshots
    "list-drops-description": Probe(_list_drops_description, ("kept", "kept"), ("kept", None)),
    "list-bare-array": Probe(lambda c: type(c.main.get(SNAPSHOTS).json()).__name__, "dict", "list"),
    # CREATE
    "create-200": Probe(lambda c: c.create().status_code, 201, 200),
    "create-wrong-server": Probe(lambda c: c.create().json()["server"]["id"] == WEB, True, False),
    "create-pending-status": Probe(
        lambda c: (c.create().json()["status"], c.listed(server_id=WEB)[0]["status"]),
        ("in_progress", "in_progress"),
        ("pending", "pending"),
    ),
    "create-dedupe-by-name": Probe(_create_dedupe, (201, 201, True), (201, 201, False)),
    # VALID
    "valid-unicode-names": Probe(
        lambda c: tuple(c.create(WEB, n).status_code for n in ("café", "снимок", "snap\uff11")),
        (400, 400, 400),
        (201, 201, 201),
    ),
    "valid-dollar-anchor": Probe(
        lambda c: (c.create(WEB, "trailing\n").status_code, c.create(WEB, "in\nside").status_code),
        (400, 400),
        (201, 400),
    ),
    "valid-empty-name": Probe(lambda c: c.create(WEB, "").status_code, 400, 201),
    "valid-name-max-32": Probe(
        lambda c: (c.create(WEB, "x" * 32).status_code, c.create(WEB, "x" * 64).status_code),
        (201, 201),
        (201, 400),
    ),
    "valid-bool-server-id": Probe(_valid_bool_server_id, (400, 400, 400, 400), (201, 404, 400, 400)),
    "valid-missing-name-defaulted": Probe(_valid_missing_name, (400, False), (201, True)),
    "valid-array-unwrapped": Probe(
        lambda c: c.main.post(SNAPSHOTS, json=[{"server_id": WEB, "name": "in-array"}]).status_code, 400, 201
    ),
    # LIMIT
    "limit-off-by-one-low": Probe(
        lambda c: (c.fill(WEB, 4) and c.create(WEB, "fifth").status_code, c.create(WEB, "sixth").status_code),
        (201, 400),
        (400, 400),
    ),
    "limit-off-by-one": Probe(
        lambda c: (_sixth_after_fill(WEB, False)(c), c.create(WEB, "seventh").status_code),
        (400, 400),
        (201, 400),
    ),
    "limit-completed-only": Probe(_sixth_after_fill(STORAGE, wait=False), 400, 201),
    "limit-in-progress-only": Probe(_sixth_after_fill(WEB, wait=True), 400, 201),
    "limit-not-atomic": Probe(_limit_not_atomic, (False, False), (True, True)),
    "limit-per-account": Probe(_limit_per_account, 201, 400),
    "limit-delete-frees-late": Probe(_limit_delete_frees_late, (201, 201), (400, 201)),
    "limit-refused-still-saved": Probe(_limit_refused_still_saved, (400, 5), (400, 6)),
    # NOTFOUND
    "notfound-create-400": Probe(_notfound_create, (404, 404), (400, 404)),
    "notfound-restore-400": Probe(_notfound_restore, (404, 404), (400, 400)),
    "notfound-delete-204": Probe(_notfound_delete, (404, 404), (204, 204)),
    "notfound-lenient-path-id": Probe(
        _lenient_path_ids, (404, 404, 404, 404, 404), (200, 400, 404, 404, 204)
    ),
    "lenient-ids": Probe(_lenient_ids, (404, 404, 404, 404, 404, 0, 0), (200, 204, 204, 204, 204, 1, 2)),
    # RESTORE
    "restore-202": Probe(_restore_status, 200, 202),
    "restore-reports-active": Probe(_restore_reported_server, "restoring", "active"),
    "restore-no-lock": Probe(_restore_twice, 400, 200),
    "restore-never-ends": Probe(_restore_ends, "active", "restoring"),
    "restore-wrong-snapshot-echo": Probe(_restore_echo, (True, WEB), (False, WEB)),
    # DATA
    "data-no-overwrite": Probe(_data_overwrite, "A", "C"),
    "data-latest-snapshot": Probe(_data_overwrite, "A", "B"),
    "data-copy-at-completion": Probe(_data_point_in_time, "D", "E"),
    # DELETE
    "delete-200": Probe(_delete_answer, (204, True), (200, False)),
    "delete-soft-listed": Probe(_delete_listed, (False, False), (True, True)),
    "delete-still-restorable": Probe(_delete_then_restore, 404, 200),
    "delete-twice-204": Probe(_delete_twice, 404, 204),
    "delete-server-wide": Probe(_delete_one_of_two, 1, 0),
    "delete-neighbour": Probe(_delete_named_of_two, (False, True), (True, False)),
    "lifecycle-regresses-after-restore": Probe(_status_after_restore, "completed", "in_progress"),
    "notfound-create-invents-server": Probe(_create_on_absent_server, (404, 404, 404), (404, 201, 200)),
    "delete-noop": Probe(_delete_noop, (204, False, 404, 0), (204, True, 204, 1)),
    # LIFECYCLE
    "lifecycle-never-completes": Probe(_final_status, "completed", "in_progress"),
    "lifecycle-fails": Probe(_final_status, "completed", "failed"),
    "lifecycle-flaps": Probe(_statuses_after_completion, ["completed"], ["completed", "in_progress"]),
    "lifecycle-size-string": Probe(_completed_size_type, "int", "str"),
    "lifecycle-created-at-moves": Probe(_created_at_kept, True, False),
    # TIME
    "time-slow-create": Probe(_create_on_time, True, False),
    "time-slow-restore": Probe(_restore_on_time, True, False),
    "time-naive-timestamp": Probe(_created_at_is_utc, True, False),
    "time-local-offset": Probe(_created_at_is_now, True, False),
    # SCHEMA
    "schema-renamed-created-at": Probe(_snapshot_keys, (True, True), (False, False)),
    "schema-no-message": Probe(lambda c: "message" in c.create().json(), True, False),
    "schema-restore-no-snapshot": Probe(
        _restore_keys, ["message", "server", "snapshot", "status"], ["message", "server", "status"]
    ),
    "string-ids": Probe(_string_ids, ("int",) * 5 + ("204",), ("str",) * 5 + ("204",)),
    "schema-text-plain": Probe(
        _content_types, ["application/json", "application/json"], ["text/plain", "text/plain"]
    ),
    # ROBUST
    "robust-filter-500": Probe(
        lambda c: tuple(c.main.get(SNAPSHOTS, params={"server_id": v}).status_code for v in ("abc", "1.5")),
        (400, 400),
        (500, 500),
    ),
    "robust-long-name-500": Probe(
        lambda c: tuple(c.create(WEB, "a" * n).status_code for n in (64, 65, 255, 300)),
        (201, 201, 201, 400),
        (201, 500, 500, 500),
    ),
    "robust-unknown-filter-500": Probe(
        lambda c: tuple(c.main.get(SNAPSHOTS, params={"server_id": v}).status_code for v in (WEB, ABSENT)),
        (200, 200),
        (200, 500),
    ),
    "robust-bigint-500": Probe(_bigint_paths, (404, 404), (500, 500)),
    "robust-null-description-500": Probe(
        lambda c: c.create(WEB, "ok", description=None).status_code, 201, 500
    ),
    "robust-deep-nesting-500": Probe(_deep_nesting, 400, 500),
    # TENANT
    "tenant-list-leak": Probe(_foreign_snapshot_in_our_list, (False, False), (True, True)),
    "tenant-filter-leak": Probe(_foreign_server_filter, 0, 1),
    "tenant-restore-any": Probe(_foreign_restore, 404, 200),
    "tenant-delete-any": Probe(_foreign_delete, (404, True), (204, False)),
    "tenant-create-any": Probe(lambda c: c.create(WEB, "intruder", c.foreign).status_code, 404, 201),
}


# --- the registry ---------------------------------------------------------------------------------------


def test_registry_has_forty_kebab_case_described_faults() -> None:
    assert len(FAULTS) >= 40
    for name, fault in FAULTS.items():
        assert isinstance(fault, Fault) and fault.name == name
        assert KEBAB.fullmatch(name), name
        assert fault.description.strip() and len(fault.description) >= 20, name
        assert isinstance(fault.breaks, tuple) and fault.breaks, name
        assert len(set(fault.breaks)) == len(fault.breaks), name


def test_breaks_are_must_requirements_of_the_catalog() -> None:
    catalog = load_requirements()
    for name, fault in FAULTS.items():
        for rid in fault.breaks:
            assert rid in catalog, (name, rid)
            assert catalog[rid].level == "MUST", (name, rid)


def test_every_area_has_at_least_two_faults_named_after_it() -> None:
    """A fault named after an area breaks that area (the CROSS_CUTTING ones are named otherwise)."""
    areas = {rid.split("-")[0] for rid in load_requirements()}
    by_area: dict[str, list[str]] = {area: [] for area in areas}
    for name, fault in FAULTS.items():
        area = name.split("-")[0].upper()
        if name in CROSS_CUTTING:
            continue
        assert area in areas, name
        assert area in {rid.split("-")[0] for rid in fault.breaks}, f"{name} breaks nothing of {area}"
        by_area[area].append(name)
    thin = {area: names for area, names in by_area.items() if len(names) < 2}
    assert not thin, thin


def test_every_must_requirement_is_broken_by_some_fault() -> None:
    musts = {rid for rid, req in load_requirements().items() if req.level == "MUST"}
    assert musts - {rid for fault in FAULTS.values() for rid in fault.breaks} == set()


def test_every_fault_has_a_probe() -> None:
    assert set(PROBES) == set(FAULTS)


def test_all_faults_at_once_still_serve_without_crashing(
    start_reference_target: StartTarget, reference_client: ClientFactory
) -> None:
    ctx = Ctx(start_reference_target(SCALE, faults=set(FAULTS)), reference_client)
    assert ctx.anon.get(SNAPSHOTS).status_code == 200  # auth-missing-header-allowed serves the main account
    created = ctx.create(WEB, "ok", ctx.anon)
    assert created.status_code == 200  # create-200
    assert created.json()["id"] == str(created.json()["id"])  # string-ids
    assert ctx.delete(created.json()["id"], ctx.anon).status_code == 200  # delete-200 (delete-noop)
    assert ctx.restore(ABSENT).status_code == 403  # auth-restore-session-only, refused the auth-403 way


# --- each fault over HTTP ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(FAULTS))
def test_fault_shows_and_the_faithful_target_does_not(
    name: str, start_reference_target: StartTarget, reference_client: ClientFactory
) -> None:
    probe = PROBES[name]
    faithful = Ctx(start_reference_target(SCALE), reference_client)
    faulty = Ctx(start_reference_target(SCALE, faults={name}), reference_client)
    with ThreadPoolExecutor(max_workers=2) as pool:
        good, bad = pool.map(probe.run, (faithful, faulty))
    assert good == probe.faithful, f"faithful target: {good!r}"
    assert bad == probe.faulty, f"with {name}: {bad!r}"
