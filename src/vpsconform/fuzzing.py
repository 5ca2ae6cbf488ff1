"""Schema-driven generation with schemathesis, sent through the run's own client and judged by the catalog.

Generated requests go out through :class:`~vpsconform.client.ApiClient` (rate limit, evidence, ledger, 5xx
watch) after :func:`make_safe` has pointed every id at objects the run owns or that cannot exist, so a
fuzzer never restores or deletes someone else's snapshot on a shared system. Schemathesis' response checks
then run on the answer and each failure is mapped to the catalog requirement it breaks; failures the rules
of judgement allow (an undocumented 4xx for invalid input, an error body of any layout) are dropped.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import httpx
import schemathesis
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.core.transport import Response

from vpsconform.client import ApiClient
from vpsconform.paths import SPEC_DIR
from vpsconform.verdicts import Checker, Verdict

#: A snapshot or server id no account is expected to have.
ABSENT_ID = 2_000_000_001
RESPONSE_CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
BODY_SCHEMA_REQUIREMENT = {
    "listSnapshots": "SCHEMA-01",
    "createSnapshot": "SCHEMA-02",
    "restoreSnapshot": "SCHEMA-03",
}


def load_schema() -> Any:
    """spec/openapi.yaml as a schemathesis schema (ignoring any schemathesis.toml in the working dir)."""
    return schemathesis.openapi.from_path(SPEC_DIR / "openapi.yaml", config=schemathesis.Config())


def operation_id(case: Any) -> str:
    """The operationId of a generated case."""
    return case.operation.definition.raw.get("operationId", case.operation.label)


def _is_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def make_safe(case: Any, server_ids: Sequence[int], owned_ids: Sequence[int], rng: random.Random) -> None:
    """Point the case's ids at configured servers, snapshots the run owns, or ids that cannot exist."""
    path = case.path_parameters or {}
    if _is_id(path.get("snapshot_id")):
        path["snapshot_id"] = rng.choice([*owned_ids, ABSENT_ID]) if owned_ids else ABSENT_ID
    if isinstance(case.body, dict) and _is_id(case.body.get("server_id")):
        case.body["server_id"] = rng.choice([*server_ids, ABSENT_ID])


def send(api: ApiClient, case: Any) -> httpx.Response:
    """Send a generated case through the run's client, with the account's token."""
    kwargs = case.as_transport_kwargs(base_url=api.base_url, headers=api.auth_headers())
    headers = {
        k: v
        for k, v in kwargs.get("headers", {}).items()
        if k.lower() not in ("accept-encoding", "connection")
    }
    extra: dict[str, Any] = {}
    if "json" in kwargs:
        extra["json_body"] = kwargs["json"]
    elif kwargs.get("data") is not None or kwargs.get("content") is not None:
        data = kwargs.get("content", kwargs.get("data"))
        extra["content"] = data if isinstance(data, bytes | str) else str(data)
    return api.request(
        kwargs["method"],
        kwargs["url"],
        params=kwargs.get("params") or None,
        headers=headers,
        authenticated=False,
        **extra,
    )


def requirement_for(failure: Failure, operation: str, status: int) -> str | None:
    """The catalog requirement a schemathesis failure breaks, or None when the rules of judgement allow it."""
    name = type(failure).__name__
    success = 200 <= status < 300
    if name == "ServerError":
        return "ROBUST-02"
    if name == "UndefinedStatusCode":
        return None if 400 <= status < 500 else "SCHEMA-05"
    if name in ("JsonSchemaError", "MalformedJson"):
        return BODY_SCHEMA_REQUIREMENT.get(operation) if success else None
    if name in ("UndefinedContentType", "MissingContentType", "MalformedMediaType"):
        return "SCHEMA-04" if success and status != 204 else None
    if name == "UseAfterFree":
        return "DELETE-04"
    if name == "EnsureResourceAvailability":
        return "CREATE-02"
    return "ROBUST-02"


def judge(check: Checker, case: Any, response: httpx.Response, seen: set[tuple[str, str]]) -> None:
    """Run schemathesis' response checks on one exchange and record the mapped findings."""
    operation = operation_id(case)
    try:
        case.validate_response(Response.from_httpx(response, verify=True), checks=RESPONSE_CHECKS)
        failures: list[Failure] = []
    except FailureGroup as group:
        failures = list(group.exceptions)
    status = response.status_code
    evidence = check.recent[-1:]
    for failure in failures:
        requirement = requirement_for(failure, operation, status)
        if requirement is None:
            continue
        key = (requirement, failure.title)
        if key in seen:
            continue
        seen.add(key)
        check.record(
            requirement, Verdict.FAIL, f"{case.operation.label} -> {status}: {failure.title}", evidence
        )
    if not failures and 200 <= status < 300 and operation in BODY_SCHEMA_REQUIREMENT:
        check.record(
            BODY_SCHEMA_REQUIREMENT[operation], Verdict.PASS, f"{case.operation.label} -> {status} matches"
        )


def validate(
    check: Checker,
    schema: Any,
    response: httpx.Response,
    *,
    path_parameters: dict[str, Any] | None = None,
    body: Any = None,
    query: dict[str, Any] | None = None,
) -> None:
    """Judge a scenario's response with the same schemathesis checks as generated ones."""
    request = response.request
    operation = schema[_template(request.url.path)][request.method]
    extra = {"body": body, "media_type": "application/json"} if body is not None else {}
    case = operation.Case(path_parameters=path_parameters, query=query, **extra)
    judge(check, case, response, set())


def _template(path: str) -> str:
    """/api/v1/snapshots/801/restore/ -> /api/v1/snapshots/{snapshot_id}/restore/."""
    parts = path.split("/")
    return "/".join("{snapshot_id}" if part.isdigit() else part for part in parts)
