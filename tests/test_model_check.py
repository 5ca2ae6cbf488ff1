"""The history model: each rule catches its violation, and allows what the docs allow (concurrency, reuse)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from vpsconform.catalog import MODEL_RULES, load_requirements
from vpsconform.client import Exchange
from vpsconform.errors import NoAnswer, UnsafeRequest
from vpsconform.history import History, RecordedClient, compact_body, merge
from vpsconform.interlock import Interlock
from vpsconform.model_check import Context, Model, path_ids
from vpsconform.plugin.model import documented_codes
from vpsconform.ratelimit import RateLimiter
from vpsconform.redaction import Redactor

BASE = "http://127.0.0.1:1"
SNAPSHOTS = "/api/v1/snapshots/"
WEB, DB, THEIRS = 12345, 12346, 23456


class Script:
    """A synthetic history: exchanges one after another, each taking one second unless told."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []
        self.clock = itertools.count(10)
        self.refs = itertools.count(1)

    def add(self, method: str, path: str, status: int, response: Any = None, **extra: Any) -> dict[str, Any]:
        t0 = extra.pop("t0", None)
        t1 = float(next(self.clock))
        record = {"ref": f"c:{next(self.refs)}", "kind": "exchange", "t0": t0 if t0 is not None else t1 - 0.5}
        record |= {"t1": t1, "who": "main", "method": method, "url": BASE + path, "status": status}
        self.records.append(record | {"response": response} | extra)
        return record

    def create(self, snapshot_id: int, name: str, server: int = WEB, status: int = 201, **extra: Any) -> None:
        body = {"id": snapshot_id, "server": {"id": server}, "name": name, "status": "in_progress"}
        body |= {"size_mb": None, "created_at": "2026-01-01T00:00:00Z"}
        self.add(
            "POST",
            SNAPSHOTS,
            status,
            body if status == 201 else {"detail": "no"},
            body={"server_id": server, "name": name},
            **extra,
        )

    def list(self, *items: dict[str, Any], query: str = "", **extra: Any) -> None:
        self.add("GET", SNAPSHOTS + query, 200, {"count": len(items), "results": list(items)}, **extra)

    def delete(self, snapshot_id: Any, status: int = 204, **extra: Any) -> None:
        self.add("DELETE", f"{SNAPSHOTS}{snapshot_id}/", status, None, **extra)

    def check(self) -> dict[str, list[str]]:
        context = Context(
            {"main": (WEB, DB), "foreign": (THEIRS,)},
            documented_codes(),
            frozenset({"in_progress", "completed"}),
            create_max=100.0,
        )
        model = Model(context, MODEL_RULES)
        model.replay(self.records)
        return {rule: [m for m, _ in r.violations] for rule, r in model.results.items() if r.violations}


def item(snapshot_id: int, name: str, status: str = "completed", server: int = WEB, **extra: Any) -> dict:
    size = 512 if status == "completed" else None
    base = {"id": snapshot_id, "name": name, "status": status, "size_mb": size, "server": {"id": server}}
    return base | {"created_at": "2026-01-01T00:00:00Z"} | extra


def test_a_faithful_lifecycle_breaks_no_rule() -> None:
    s = Script()
    s.create(801, "a")
    s.create(802, "b")
    s.list(item(802, "b", "in_progress"), item(801, "a", "in_progress"))
    s.list(item(802, "b"), item(801, "a"))
    s.delete(801)
    s.list(item(802, "b"), query=f"?server_id={WEB}")
    s.create(803, "c", status=400)
    s.list(item(802, "b"))
    assert s.check() == {}


def test_each_violation_is_caught_by_its_rule() -> None:
    s = Script()
    s.create(801, "a")
    s.create(802, "b")
    s.list(item(802, "b"), item(801, "a"))
    s.list(item(802, "b", "in_progress"), item(801, "a", size_mb="512", created_at="2026-01-02T00:00:00Z"))
    s.delete(802)
    s.list(item(802, "b"))  # 801 vanished after its neighbour's delete; 802 still listed
    s.create(801, "again")  # an id a live snapshot holds
    s.create(900, "refused", status=400)
    s.list(item(901, "refused"), item(7, "x", server=THEIRS), query=f"?server_id={DB}")
    found = s.check()
    assert set(found) == {
        "status-final",
        "size-integer",
        "created-at-fixed",
        "gone-after-delete",
        "delete-only-named",
        "unique-ids",
        "refused-leaves-nothing",
        "list-filter-exact",
        "tenant-theirs-hidden",
    }


def test_a_list_in_flight_during_a_delete_may_show_either() -> None:
    s = Script()
    s.create(801, "a")
    s.list(item(801, "a"), t0=10.0)  # sent before the delete was answered
    s.delete(801)
    s.add("GET", SNAPSHOTS, 200, {"count": 1, "results": [item(801, "a")]}, t0=11.4)
    assert s.check() == {}


def test_a_reused_id_a_restored_snapshot_and_a_lost_delete_are_allowed() -> None:
    s = Script()
    s.create(801, "a")
    s.create(802, "b")
    s.create(803, "c")
    s.delete(801)
    s.list(item(801, "customer-reused"), item(802, "b"), item(803, "c"))  # a freed id given anew
    s.add("POST", f"{SNAPSHOTS}802/restore/", 200, {"status": "success"})
    s.records.append(
        {
            "ref": "c:99",
            "kind": "lost",
            "t0": 30.0,
            "t1": 31.0,
            "method": "DELETE",
            "url": f"{BASE}{SNAPSHOTS}%20803%20/",
        }
    )
    s.clock = itertools.count(40)
    s.list(item(801, "customer-reused"))  # a restore may consume its snapshot; the lost delete may have acted
    assert s.check() == {}


def test_an_overrun_window_a_bad_status_and_an_invented_server() -> None:
    s = Script()
    s.add("GET", "/api/v1/servers/12345/", 200, {"status": "active"})
    s.add("GET", "/api/v1/servers/999/", 404, {"detail": "no"})
    s.create(801, "a", server=999)
    s.create(802, "b")
    s.clock = itertools.count(200)
    s.list(item(802, "b", "in_progress"), item(803, "c", "failed"))
    s.add("POST", SNAPSHOTS, 200, {"id": 804})
    found = s.check()
    assert set(found) == {"unknown-server", "completes-in-window", "snapshot-status", "documented-status"}


def test_path_ids_reads_every_lenient_spelling() -> None:
    assert {801} <= path_ids("801.5") and {801} <= path_ids("801abc") and {1000} <= path_ids("0x3e8")
    assert 123 in path_ids("%D9%A1%D9%A2%D9%A3") and 803 in path_ids("%20803%20")


def test_every_rule_judges_one_requirement_of_the_catalog() -> None:
    claimed = {r.model for r in load_requirements().values() if r.model}
    assert claimed == MODEL_RULES


def test_history_is_redacted_compact_and_merged_in_answer_order(tmp_path: Path) -> None:
    token = "s3cr3t-token-value"
    history = History(tmp_path / ".history", "main", Redactor({token: "VPSCONFORM_TOKEN"}), {token: "main"})
    other = History(tmp_path / ".history", "gw0", Redactor({token: "VPSCONFORM_TOKEN"}), {token: "main"})
    listing = {"count": 1, "results": [item(801, "a", description="x" * 500)]}
    for recorder, auth in ((history, f"Bearer {token}"), (other, "Bearer near-" + token[:-1])):
        request = httpx.Request("GET", BASE + SNAPSHOTS, headers={"Authorization": auth})
        response = httpx.Response(200, json=listing, request=request)
        exchange = Exchange(
            "GET",
            BASE + SNAPSHOTS,
            {"Authorization": auth.replace(token, "${VPSCONFORM_TOKEN}")},
            None,
            200,
            {},
            response.text,
            3.0,
            "main",
            recorder.next_ref(),
        )
        recorder.observe(exchange, response)
    records = merge(tmp_path / ".history", tmp_path / "history.jsonl")
    text = (tmp_path / "history.jsonl").read_text()
    assert token not in text and token[:-1] not in text
    assert [r["seq"] for r in records] == [1, 2] and records[0]["t1"] <= records[1]["t1"]
    assert [r["who"] for r in records] == ["main", "other"]
    assert "description" not in json.dumps(records[0]["response"])
    assert not (tmp_path / ".history").exists()
    assert compact_body("x" * 5000).endswith("[5000 chars]")


def test_refusals_and_lost_answers_are_events_of_their_own(tmp_path: Path) -> None:
    history = History(tmp_path / ".history", "main", Redactor({"tok": "VPSCONFORM_TOKEN"}), {"tok": "main"})
    client = RecordedClient(
        "http://127.0.0.1:1",
        "tok",
        redactor=Redactor({"tok": "VPSCONFORM_TOKEN"}),
        limiter=RateLimiter(0),
        timeout=2,
        observers=[history.observe],
        label="main",
        interlock=Interlock(lambda: [801], absent=(), prefix="vpsc-x-"),
        history=history,
    )
    with pytest.raises(UnsafeRequest):
        client.delete_snapshot(5)  # not the run's: never sent
    with pytest.raises(NoAnswer):
        client.create_snapshot(12345, "vpsc-x-a")  # nothing listens on port 1
    client.close()
    records = merge(tmp_path / ".history", tmp_path / "history.jsonl")
    assert [(r["kind"], r["method"]) for r in records] == [("refused", "DELETE"), ("lost", "POST")]
    assert records[1]["body"] == {"server_id": 12345, "name": "vpsc-x-a"}
    assert "tok" not in (tmp_path / "history.jsonl").read_text().replace("VPSCONFORM_TOKEN", "")
