"""SCHEMA: real answers of every operation have the documented shape, content type and status code.

Each success response of a plain create -> list -> restore -> delete walk is judged with schemathesis'
checks against spec/openapi.yaml. Catches: a renamed or retyped field, a missing `message`, `size_mb` as a
string, a text/html success body, 200 instead of 204 for delete (or 200 instead of 201 for create).
"""

from __future__ import annotations

import pytest

from vpsconform.client import SNAPSHOTS, json_or_none
from vpsconform.contract import ABSENT_ID, CREATE_MAX_MINUTES, RESTORE_MAX_MINUTES
from vpsconform.fuzzing import load_schema, validate

SCHEMA = load_schema()
SUCCESS = {"list": 200, "create": 201, "restore": 200, "delete": 204}


def is_json(response) -> bool:
    """True when the response declares a JSON media type."""
    media = response.headers.get("content-type", "").split(";")[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def judge_success(check, response, what: str, **request) -> None:
    """One success answer: schemathesis' body checks, the documented code (SCHEMA-05), a JSON media type."""
    validate(check, SCHEMA, response, **request)
    check.status("SCHEMA-05", response, what, expected=(SUCCESS[what],))
    if SUCCESS[what] != 204:
        check.that(
            "SCHEMA-04",
            is_json(response),
            f"{what} answered {response.headers.get('content-type')!r}",
            evidence=response,
        )


def create_for_schema(check, snapshots, server_id: int, names):
    """A create on the leased server, judged as a success answer; returns its snapshot (None without one)."""
    body = {"server_id": server_id, "name": names("schema"), "description": "vpsconform schema check"}
    created, snapshot = snapshots.create(server_id, name=body["name"], description=body["description"])
    judge_success(check, created, "create", body=body)
    return snapshot


@pytest.mark.requirement("SCHEMA-01", "SCHEMA-02", "SCHEMA-04", "SCHEMA-05")
def test_create_and_list_answers_match_the_contract(api, check, servers, snapshots, names):
    """create and list answer with their documented codes, media type and body shape (no wait needed)."""
    with servers.lease(room=1) as server_id:
        if server_id is None:
            check.undecidable("no configured server has a free snapshot slot")
        if create_for_schema(check, snapshots, server_id, names) is None:
            check.inconclusive("SCHEMA-02", "the create answered without a snapshot id")
        listed = api.list_snapshots(server_id)
        judge_success(check, listed, "list", query={"server_id": server_id})


@pytest.mark.requirement("SCHEMA-03", "SCHEMA-04", "SCHEMA-05")
@pytest.mark.profile("standard")
@pytest.mark.waits(CREATE_MAX_MINUTES + RESTORE_MAX_MINUTES)  # waits for a snapshot and a restore
def test_restore_and_delete_answers_match_the_contract(api, check, servers, snapshots, names):
    """restore (of a completed snapshot) and delete answer with their documented codes, type and shape."""
    declared = ("SCHEMA-03", "SCHEMA-04", "SCHEMA-05")
    with servers.lease(room=1) as server_id:
        if server_id is None:
            check.undecidable("no configured server has a free snapshot slot")
        snapshot = create_for_schema(check, snapshots, server_id, names)
        if snapshot is None:  # the create's own answer was judged: these stay open as well
            check.undecidable("the create answered without a snapshot id", declared)
        timeline = snapshots.wait(snapshot)
        if timeline.final != "completed":
            check.inconclusive("SCHEMA-03", f"the snapshot did not complete (last status {timeline.final!r})")
        else:
            restored = api.restore_snapshot(snapshot["id"])
            judge_success(check, restored, "restore", path_parameters={"snapshot_id": snapshot["id"]})
            servers.wait_idle(server_id)
        deleted = api.delete_snapshot(snapshot["id"])
        judge_success(check, deleted, "delete", path_parameters={"snapshot_id": snapshot["id"]})


@pytest.mark.requirement("SCHEMA-06")
def test_error_answers_carry_json(api, anon_api, check, servers, names):
    """401, 404 and 400 answers carry a JSON body (any layout)."""
    errors = {
        "401": anon_api.list_snapshots(),
        "404": api.delete_snapshot(ABSENT_ID),
        "400": api.request(
            "POST", SNAPSHOTS, json_body={"server_id": servers.ids[0], "name": names.prefix + "no spaces"}
        ),
    }
    for code, response in errors.items():
        if not 400 <= response.status_code < 500:
            check.inconclusive("SCHEMA-06", f"expected a {code} error, got {response.status_code}")
            continue
        check.that(
            "SCHEMA-06",
            is_json(response) and json_or_none(response) is not None,
            f"{response.status_code} answered {response.headers.get('content-type')!r}",
            evidence=response,
        )
