"""Schema-driven generation with schemathesis, sent through the run's own client and judged by the catalog.

Generated requests go out through :class:`~vpsconform.client.ApiClient` (rate limit, evidence, ledger, 5xx
watch) after :func:`make_safe` has pointed every id at objects the run owns or that cannot exist, so a
fuzzer never restores or deletes someone else's snapshot on a shared system. Schemathesis' response checks
then run on the answer and each failure is mapped to the catalog requirement whose ``fuzz`` key names its
kind; failures the rules of judgement allow (an undocumented 4xx for invalid input, an error body of any
layout) are dropped before the catalog is asked.
"""

from __future__ import annotations

import random
import re
from collections.abc import Collection, Sequence
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

from vpsconform.catalog import Requirement
from vpsconform.client import ApiClient
from vpsconform.contract import ABSENT_ID
from vpsconform.paths import SPEC_DIR
from vpsconform.verdicts import Checker, Verdict

RESPONSE_CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
#: Failure kinds about a body's shape and about its media type: the rules judge them on successes only.
BODY_KINDS = frozenset({"JsonSchemaError", "MalformedJson"})
MEDIA_KINDS = frozenset({"UndefinedContentType", "MissingContentType", "MalformedMediaType"})
#: The catalog's ``fuzz`` entry that catches every failure kind no other entry names.
FALLBACK = "*"


def load_schema() -> Any:
    """spec/openapi.yaml as a schemathesis schema (ignoring any schemathesis.toml in the working dir)."""
    return schemathesis.openapi.from_path(SPEC_DIR / "openapi.yaml", config=schemathesis.Config())


def operation_id(case: Any) -> str:
    """The operationId of a generated case."""
    return case.operation.definition.raw.get("operationId", case.operation.label)


def _is_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _has_digit(value: Any) -> bool:
    return any(ch.isdigit() for ch in str(value))


#: A generated path id that is kept as it is: letters only (no digit, no percent sign, no dot or slash).
_HARMLESS = re.compile(r"[^\W\d]+")
#: Malformed spellings of ABSENT_ID that replace any other generated non-integer path id.
_MALFORMED = (f"{ABSENT_ID}.5", f"{ABSENT_ID}e0", f"{ABSENT_ID}abc", "abc")


def safe_snapshot_id(value: Any, owned_ids: Collection[int], rng: random.Random) -> Any:
    """A path id that can only denote a snapshot the run owns or none at all, keeping the value's kind.

    Owned ids stay (so linked workflows keep their target); other integers become an owned id or ABSENT_ID;
    any other value but plain letters (``1.5``, ``"1e3"``, ``"%31"``, ``""``, ``".."``) becomes a malformed
    spelling of ABSENT_ID, so a lenient parser can only land on an id that does not exist.
    """
    if _is_id(value):
        return value if value in owned_ids else rng.choice([*owned_ids, ABSENT_ID])
    if isinstance(value, bool) or _HARMLESS.fullmatch(str(value)):
        return value
    return rng.choice(_MALFORMED)


def make_safe(
    case: Any, server_ids: Sequence[int], owned_ids: Collection[int], rng: random.Random, prefix: str
) -> None:
    """Point the case's ids at configured servers, owned snapshots or ids that cannot exist; prefix its name.

    A string ``name`` gets the run's prefix in front of the generated text, so invalid characters stay
    invalid while anything created is recognisably the run's.
    """
    path = case.path_parameters or {}
    if "snapshot_id" in path:
        path["snapshot_id"] = safe_snapshot_id(path["snapshot_id"], owned_ids, rng)
    if not isinstance(case.body, dict):
        return
    server_id = case.body.get("server_id")
    if _is_id(server_id) and server_id not in server_ids:
        case.body["server_id"] = rng.choice([*server_ids, ABSENT_ID])
    elif not _is_id(server_id) and server_id is not None and _has_digit(server_id):
        case.body["server_id"] = str(ABSENT_ID) if isinstance(server_id, str) else ABSENT_ID + 0.5
    name = case.body.get("name")
    if isinstance(name, str) and not name.startswith(prefix):
        case.body["name"] = prefix + name


def send(api: ApiClient, case: Any, timeout: float | None = None) -> httpx.Response:
    """Send a generated case through the run's client, with the account's token (``timeout``: see
    Liveness.answer_timeout; an unanswered case is an undelivered example, never a verdict)."""
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
        timeout=timeout,
        **extra,
    )


def fuzz_requirement(catalog: dict[str, Requirement], kind: str, operation: str) -> str:
    """The requirement whose ``fuzz`` key names ``kind@operation``, else ``kind``, else the fallback ``*``."""
    for key in (f"{kind}@{operation}", kind, FALLBACK):
        found = next((r.id for r in catalog.values() if key in r.fuzz), None)
        if found is not None:
            return found
    raise ValueError(f"no requirement in the catalog has the fuzz key {FALLBACK!r} for unknown failure kinds")


def requirement_for(
    catalog: dict[str, Requirement], failure: Failure, operation: str, status: int
) -> str | None:
    """The catalog requirement a schemathesis failure breaks, or None when the rules of judgement allow it.

    The rules: an undocumented 4xx for invalid input is acceptable, and only success bodies are judged
    (error bodies have any layout; a 204 has no body to type).
    """
    kind = type(failure).__name__
    success = 200 <= status < 300
    if kind == "UndefinedStatusCode" and 400 <= status < 500:
        return None
    if kind in BODY_KINDS and not success:
        return None
    if kind in MEDIA_KINDS and (not success or status == 204):
        return None
    return fuzz_requirement(catalog, kind, operation)


def body_requirement(catalog: dict[str, Requirement], operation: str) -> str | None:
    """The requirement that judges the success body of ``operation`` (fuzz key ``JsonSchemaError@op``)."""
    return next((r.id for r in catalog.values() if f"JsonSchemaError@{operation}" in r.fuzz), None)


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
        requirement = requirement_for(check.catalog, failure, operation, status)
        if requirement is None:
            continue
        key = (requirement, failure.title)
        if key in seen:
            continue
        seen.add(key)
        check.record(
            requirement, Verdict.FAIL, f"{case.operation.label} -> {status}: {failure.title}", evidence
        )
    matched = body_requirement(check.catalog, operation)
    if not failures and 200 <= status < 300 and matched is not None:
        check.record(matched, Verdict.PASS, f"{case.operation.label} -> {status} matches")


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
