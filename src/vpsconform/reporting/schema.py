"""The shape of report.json that `vpsconform report` and `vpsconform compare` render, as a JSON Schema.

A report of another ``schema_version`` (see vpsconform.reporting.model), or one missing a field the
renderings read or holding it with another type, is refused with one line rather than rendered wrong.
"""

from __future__ import annotations

from typing import Any

import jsonschema

from vpsconform.reporting.model import RUN_VERDICTS, SCHEMA_VERSION, VERDICTS

_STRING, _INTEGER, _NUMBER = {"type": "string"}, {"type": "integer"}, {"type": "number"}
_OPTIONAL_STRING = {"type": ["string", "null"]}
_VERDICT = {"enum": list(VERDICTS)}


def _object(required: dict[str, Any], optional: dict[str, Any] | None = None) -> dict[str, Any]:
    """An object that must have the ``required`` properties and may have others."""
    return {
        "type": "object",
        "required": list(required),
        "properties": {**required, **(optional or {})},
    }


def _list(items: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": items}


_EXCHANGE = _object(
    {
        "request": _object({"method": _STRING, "url": _STRING}),
        "response": _object({"status": _INTEGER}),
    },
    {"elapsed_ms": _NUMBER, "curl": _STRING},
)
_FINDING = _object({"verdict": _VERDICT, "message": _STRING, "test": _STRING, "evidence": _list(_EXCHANGE)})
_REQUIREMENT = _object(
    {
        "id": _STRING,
        "title": _STRING,
        "level": _STRING,
        "verdict": _VERDICT,
        "message": _STRING,
        "source": _STRING,
        "tests": _list(_STRING),
        "findings": _list(_FINDING),
    },
    {
        "area": _STRING,
        "decision": _OPTIONAL_STRING,
        "rationale": _OPTIONAL_STRING,
        "reproduce": _STRING,
        "counts": {"type": "object", "additionalProperties": _INTEGER},
    },
)
_SCOPE = _object(
    {
        "statement": _STRING,
        "full": {"type": "boolean"},
        "must_in_scope": _INTEGER,
        "judged": _INTEGER,
        "out_of_scope": _list(_object({"id": _STRING, "reason": _STRING})),
        "unjudged": _list(_object({"id": _STRING, "verdict": _VERDICT, "reason": _STRING})),
    }
)
_WINDOW = _object({"min": _NUMBER, "max": _NUMBER})

#: The JSON Schema of report.json (version ``SCHEMA_VERSION``): the fields the renderings read.
REPORT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "vpsconform report.json",
    **_object(
        {
            "schema_version": {"const": SCHEMA_VERSION},
            "verdict": {"enum": list(RUN_VERDICTS)},
            "scope": _SCOPE,
            "summary": _object(dict.fromkeys(VERDICTS, _INTEGER)),
            "target": _object({"target": _STRING}),
            "suite": _object(
                {"name": _STRING, "version": _STRING, "spec_hash": _STRING},
                {"strength": {"type": ["object", "null"]}},
            ),
            "started_at": _STRING,
            "duration_s": _NUMBER,
            "cleanup": _object(
                {"created": _INTEGER, "deleted": _INTEGER, "left": {"type": ["integer", "null"]}},
                {"left_ids": _list(_INTEGER), "left_unknown": _OPTIONAL_STRING},
            ),
            "requirements": _list(_REQUIREMENT),
        },
        {
            "interrupted": _OPTIONAL_STRING,
            "stopped": _OPTIONAL_STRING,
            "tests": _list(_object({"test": _STRING, "outcome": _STRING})),
            "measurements": _list(_object({"name": _STRING, "seconds": _NUMBER, "minutes": _NUMBER})),
            "windows": {"type": "object", "additionalProperties": _WINDOW},
        },
    ),
}
_VALIDATOR = jsonschema.Draft202012Validator(REPORT_SCHEMA)
_JSON_TYPES = {list: "array", str: "string", int: "number", float: "number", bool: "boolean"}


def shape_error(report: Any) -> str | None:
    """Why ``report`` is not a report.json of this version (a one-line predicate), or None if it is one."""
    if not isinstance(report, dict):
        kind = _JSON_TYPES.get(type(report), "null")
        return f"is not a vpsconform report (a JSON {kind}, not an object)"
    version = report.get("schema_version")
    if version != SCHEMA_VERSION:
        written = "has no schema_version" if version is None else f"has schema_version {version!r}"
        return f"{written}; this vpsconform reads version {SCHEMA_VERSION} (re-run the suite to get one)"
    error = jsonschema.exceptions.best_match(_VALIDATOR.iter_errors(report))
    if error is None:
        return None
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path) or "top level"
    return f"is not a vpsconform report ({where.lstrip('.')}: {error.message})"[:300]
