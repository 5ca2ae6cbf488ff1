"""ctrf.json: the Common Test Report Format, one test per requirement, for dashboards that ingest CTRF.

Status from the requirement's verdict (a warn passes, with ``rawStatus`` saying so; skip is skipped;
inconclusive and error are ``other``: never a pass, never the target's failure), its text as the name, its
area as the suite, its evidence as the message. Valid against the vendored schema in ``schemas/``.
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from vpsconform.reporting.junit import failure_details

CTRF_SPEC_VERSION = "1.0.0"
SCHEMA_FILE = Path(__file__).with_name("schemas") / "ctrf.schema.json"
STATUS = {
    "pass": "passed",
    "warn": "passed",
    "fail": "failed",
    "skip": "skipped",
    "inconclusive": "other",
    "error": "other",
}
COUNTED = ("passed", "failed", "skipped", "pending", "other")


@cache
def ctrf_schema() -> dict[str, Any]:
    """The vendored CTRF JSON schema."""
    schema: dict[str, Any] = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    return schema


def _millis(started_at: str) -> int:
    """An ISO timestamp as milliseconds since the epoch (0 when unreadable)."""
    try:
        return int(datetime.fromisoformat(started_at).timestamp() * 1000)
    except (TypeError, ValueError):
        return 0


def ctrf_test(entry: dict[str, Any]) -> dict[str, Any]:
    """One requirement as a CTRF test."""
    verdict = entry["verdict"]
    test: dict[str, Any] = {
        "name": f"{entry['id']} {entry['title']}",
        "status": STATUS[verdict],
        "duration": round(1000 * float(entry.get("time_s") or 0)),
        "testId": entry["id"],
        "rawStatus": verdict,
        "suite": [entry.get("area") or entry["id"].split("-")[0]],
        "tags": [entry["level"]],
        "labels": {"requirement": entry["id"], "level": entry["level"], "verdict": verdict},
    }
    message = failure_details(entry) if verdict in ("fail", "error") else entry.get("message") or ""
    if message:
        test["message"] = message
    if entry.get("tests"):
        test["extra"] = {"vpsconform.tests": list(entry["tests"])}
    return test


def ctrf_document(report: dict[str, Any]) -> dict[str, Any]:
    """The CTRF document of a report.json."""
    tests = [ctrf_test(entry) for entry in report["requirements"]]
    start = _millis(report.get("started_at", ""))
    duration = round(1000 * float(report.get("duration_s") or 0))
    summary: dict[str, Any] = {"tests": len(tests), **dict.fromkeys(COUNTED, 0)}
    for test in tests:
        summary[test["status"]] += 1
    suite = report.get("suite", {})
    summary.update(
        start=start, stop=start + duration, duration=duration, suites=len({t["suite"][0] for t in tests})
    )
    document: dict[str, Any] = {
        "reportFormat": "CTRF",
        "specVersion": CTRF_SPEC_VERSION,
        "generatedBy": f"vpsconform {suite.get('version', '')}".strip(),
        "results": {
            "tool": {"name": "vpsconform", "version": str(suite.get("version", ""))},
            "summary": summary,
            "tests": tests,
            "environment": {
                "reportName": f"VPS.org Snapshots API conformance: {report['verdict']}",
                "appName": "VPS.org Snapshots API",
                "testEnvironment": str(report.get("target", {}).get("target", "")),
                "extra": {"vpsconform.profile": report.get("target", {}).get("profile")},
            },
        },
        "extra": {
            "vpsconform.verdict": report["verdict"],
            "vpsconform.scope": report.get("scope", {}).get("statement", ""),
            "vpsconform.specHash": suite.get("spec_hash"),
        },
    }
    if start:
        document["timestamp"] = report["started_at"]
    return document


def ctrf_json(report: dict[str, Any]) -> str:
    """ctrf.json's text."""
    return json.dumps(ctrf_document(report), indent=2, ensure_ascii=False) + "\n"
