"""The report model (report.json): each requirement's verdict with its evidence, the run's scope and verdict.

Everything the HTML, Markdown and JUnit renderings show is in this document, so any report can be rendered
again later from its report.json alone.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

from vpsconform import __version__
from vpsconform.catalog import spec_hash
from vpsconform.contract import (
    CREATE_MAX_MINUTES,
    CREATE_MIN_MINUTES,
    RESTORE_MAX_MINUTES,
    RESTORE_MIN_MINUTES,
)
from vpsconform.reporting.durations import add_durations
from vpsconform.strength import current_strength
from vpsconform.verdicts import RequirementResult, Verdict

#: The version of report.json's shape: it changes whenever a field the renderings read is renamed, removed or
#: changes type (adding one does not). 1: the first report.json to carry it (vpsconform 0.1.0).
SCHEMA_VERSION = 1
#: Requirement verdicts that judged the requirement one way or the other.
JUDGED = frozenset({Verdict.PASS.value, Verdict.WARN.value, Verdict.FAIL.value})
#: Requirement verdicts in display order, and the run verdicts.
VERDICTS = tuple(v.value for v in Verdict)
RUN_VERDICTS = ("conformant", "nonconformant", "incomplete", "error")
#: The documented duration windows (production minutes) that measurements are shown against.
WINDOWS: dict[str, dict[str, float]] = {
    "create": {"min": CREATE_MIN_MINUTES, "max": CREATE_MAX_MINUTES},
    "restore": {"min": RESTORE_MIN_MINUTES, "max": RESTORE_MAX_MINUTES},
}


def area_of(requirement_id: str) -> str:
    """The area of a requirement: its ID's prefix (``AUTH`` of ``AUTH-01``)."""
    return requirement_id.split("-")[0]


def run_verdict(
    results: Sequence[RequirementResult],
    out_of_scope: Collection[str] = (),
    interrupted: str | None = None,
) -> str:
    """The run's verdict: error, nonconformant, incomplete (an in-scope MUST unjudged) or conformant."""
    if interrupted:
        return "error"
    if any(r.verdict is Verdict.FAIL and r.requirement.binding for r in results):
        return "nonconformant"
    if any(
        r.requirement.binding and r.requirement.id not in out_of_scope and r.verdict.value not in JUDGED
        for r in results
    ):
        return "incomplete"
    return "conformant"


def scope_section(results: Sequence[RequirementResult], out_of_scope: Mapping[str, str]) -> dict[str, Any]:
    """What the run set out to judge and what it did judge, counted over MUST requirements."""
    must = [r for r in results if r.requirement.binding]
    in_scope = [r for r in must if r.requirement.id not in out_of_scope]
    judged = [r for r in in_scope if r.verdict.value in JUDGED]
    unjudged = [r for r in in_scope if r.verdict.value not in JUDGED]
    order = {r.requirement.id: index for index, r in enumerate(results)}
    excluded = sorted(out_of_scope.items(), key=lambda item: order.get(item[0], len(order)))
    return {
        "full": len(judged) == len(must),
        "must_total": len(must),
        "must_in_scope": len(in_scope),
        "judged": len(judged),
        "statement": f"judged {len(judged)} of {len(must)} MUST requirements",
        "out_of_scope": [{"id": rid, "reason": reason} for rid, reason in excluded],
        "unjudged": [
            {"id": r.requirement.id, "verdict": r.verdict.value, "reason": r.message} for r in unjudged
        ],
    }


def requirement_entry(result: RequirementResult, reproduce: Callable[[str], str]) -> dict[str, Any]:
    """One requirement's entry: verdict, catalog context, decisive findings, and a reproduction command."""
    requirement = result.requirement
    entry = result.to_dict()
    entry.update(
        area=area_of(requirement.id),
        source=requirement.source,
        decision=requirement.decision,
        rationale=requirement.rationale,
    )
    if result.verdict in (Verdict.FAIL, Verdict.ERROR) and result.tests:
        names = " or ".join(sorted({t.rsplit("::", 1)[-1].split("[")[0] for t in result.tests}))
        entry["reproduce"] = reproduce(names)
    return entry


def build_report(
    results: list[RequirementResult],
    *,
    scope: dict[str, Any],
    target: dict[str, Any],
    started_at: str,
    duration_s: float,
    cleanup: dict[str, Any],
    tests: list[dict[str, Any]],
    measurements: list[dict[str, Any]],
    reproduce: Callable[[str], str],
    interrupted: str | None = None,
) -> dict[str, Any]:
    """The report.json document."""
    out_of_scope: dict[str, str] = dict(scope.get("out_of_scope", {}))
    summary = Counter(r.verdict.value for r in results)
    document = {
        "schema_version": SCHEMA_VERSION,
        "verdict": run_verdict(results, out_of_scope, interrupted),
        "interrupted": interrupted,
        "scope": scope_section(results, out_of_scope),
        "summary": {v: summary.get(v, 0) for v in VERDICTS},
        "target": target,
        "suite": {
            "name": "vpsconform",
            "version": __version__,
            "spec_hash": spec_hash(),
            "strength": current_strength(),
        },
        "started_at": started_at,
        "duration_s": round(duration_s, 2),
        "cleanup": {"left_ids": [], "left_unknown": None, **cleanup},
        "requirements": [requirement_entry(result, reproduce) for result in results],
        "tests": tests,
        "measurements": measurements,
        "windows": WINDOWS,
    }
    return add_durations(document)
