"""SCHEMA: real answers of every operation have the documented shape, content type and status code.

Each success response of a plain create -> list -> restore -> delete walk is judged with schemathesis'
checks against spec/openapi.yaml. Catches: a renamed or retyped field, a missing `message`, `size_mb` as a
string, a text/html success body, 200 instead of 204 for delete (or 200 instead of 201 for create).
"""

from __future__ import annotations

import pytest

from vpsconform.client import json_or_none
from vpsconform.fuzzing import ABSENT_ID, load_schema, validate

SCHEMA = load_schema()
SUCCESS = {"list": 200, "create": 201, "restore": 200, "delete": 204}


def is_json(response) -> bool:
    """True when the response declares a JSON media type."""
    media = response.headers.get("content-type", "").split(";")[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


@pytest.mark.requirement("SCHEMA-01", "SCHEMA-02", "SCHEMA-03", "SCHEMA-04", "SCHEMA-05")
def test_success_answers_match_the_documented_contract(api, check, servers, snapshots, names):
    """create, list, restore and delete answer with their documented codes, media type and body shape."""
    with servers.lease(room=1) as server_id:
        if server_id is None:
            for rid in ("SCHEMA-01", "SCHEMA-02", "SCHEMA-03", "SCHEMA-04", "SCHEMA-05"):
                check.inconclusive(rid, "no configured server has a free snapshot slot")
            return
        body = {"server_id": server_id, "name": names("schema"), "description": "vpsconform schema check"}
        created, snapshot = snapshots.create(server_id, name=body["name"], description=body["description"])
        validate(check, SCHEMA, created, body=body)
        check.status("SCHEMA-05", created, "create", expected=(SUCCESS["create"],), stop=True)
        check.that("SCHEMA-02", snapshot is not None, "the 201 body carries an integer id", stop=True)
        listed = api.list_snapshots(server_id)
        validate(check, SCHEMA, listed, query={"server_id": server_id})
        check.status("SCHEMA-05", listed, "list", expected=(SUCCESS["list"],))
        for what, response in (("create", created), ("list", listed)):
            check.that(
                "SCHEMA-04",
                is_json(response),
                f"{what} answered {response.headers.get('content-type')!r}",
                evidence=response,
            )
        timeline = snapshots.wait(snapshot)
        if timeline.final != "completed":
            check.inconclusive("SCHEMA-03", f"the snapshot did not complete (last status {timeline.final!r})")
        else:
            restored = api.restore_snapshot(snapshot["id"])
            validate(check, SCHEMA, restored, path_parameters={"snapshot_id": snapshot["id"]})
            check.status("SCHEMA-05", restored, "restore", expected=(SUCCESS["restore"],))
            check.that(
                "SCHEMA-04",
                is_json(restored),
                f"restore answered {restored.headers.get('content-type')!r}",
                evidence=restored,
            )
            servers.wait_idle(server_id)
        deleted = api.delete_snapshot(snapshot["id"])
        validate(check, SCHEMA, deleted, path_parameters={"snapshot_id": snapshot["id"]})
        check.status("SCHEMA-05", deleted, "delete", expected=(SUCCESS["delete"],))


@pytest.mark.requirement("SCHEMA-06")
def test_error_answers_carry_json(api, anon_api, check, servers):
    """401, 404 and 400 answers carry a JSON body (any layout)."""
    errors = {
        "401": anon_api.list_snapshots(),
        "404": api.delete_snapshot(ABSENT_ID),
        "400": api.request(
            "POST", "/api/v1/snapshots/", json_body={"server_id": servers.ids[0], "name": "no spaces"}
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
