"""At the end of the session: merge the run's history, check it against the model, and count the evidence.

Each model rule judges the requirement whose catalog ``model`` key names it. A violation is a failing
finding for that requirement with the exchanges that show it; a rule that checked something and found
nothing wrong adds a passing finding (real positive evidence, counted), never one that checked nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vpsconform.catalog import load_openapi
from vpsconform.history import HISTORY_FILE, PARTS, exchange_of, merge, renumber
from vpsconform.model_check import Context, Model, RuleResult
from vpsconform.plugin.state import RunState
from vpsconform.verdicts import Finding, Verdict

MODEL_TEST = "(model)"
#: Violations reported as findings per rule (the message says how many more there were).
SHOWN = 5
JUDGED = (Verdict.PASS, Verdict.FAIL, Verdict.WARN)


def documented_codes() -> dict[tuple[str, str], frozenset[int]]:
    """The status codes spec/openapi.yaml documents, by (method, path template)."""
    codes = {}
    for path, operations in load_openapi()["paths"].items():
        for method, operation in operations.items():
            if isinstance(operation, dict) and "responses" in operation:
                documented = frozenset(int(code) for code in operation["responses"] if str(code).isdigit())
                codes[(method.upper(), path)] = documented
    return codes


def context_of(state: RunState) -> Context:
    """What the model needs from the run: its servers, the documented codes and statuses, the window."""
    servers = dict(state.servers_by_account())
    if not state.config.has_foreign_account:
        servers["foreign"] = ()
    statuses = next((r.accept for r in state.catalog.values() if r.model == "snapshot-status"), ())
    return Context(servers, documented_codes(), frozenset(map(str, statuses)), state.timing.create_max)


def judge_history(state: RunState) -> dict[str, RuleResult]:
    """Merge the parts into history.jsonl, replay it through the model, and record the findings."""
    records = merge(state.report_dir / PARTS, state.report_dir / HISTORY_FILE)
    rules = {r.model: r.id for r in state.catalog.values() if r.model}
    model = Model(context_of(state), rules)
    model.replay(records)
    for rule, result in model.results.items():
        for finding in findings_of(state, rules[rule], result):
            state.findings.add(finding)
    renumber((finding.evidence for finding in state.findings), records)
    return {rules[rule]: result for rule, result in model.results.items()}


def findings_of(state: RunState, requirement: str, result: RuleResult) -> list[Finding]:
    """A rule's findings: its first violations, or one pass that says how much it checked."""
    level = state.catalog[requirement].level
    if result.violations:
        verdict = Verdict.FAIL if level in ("MUST", "SHOULD") else Verdict.WARN
        more = len(result.violations) - SHOWN
        found = []
        for message, records in result.violations[:SHOWN]:
            text = f"model: {message}" + (f" (+{more} more violations)" if more > 0 else "")
            found.append(Finding(requirement, verdict, text, MODEL_TEST, [exchange_of(r) for r in records]))
        return found
    if result.checks:
        return [Finding(requirement, Verdict.PASS, f"model: {result.evidence()}, none broke it", MODEL_TEST)]
    return []


def annotate(report: dict[str, Any], state: RunState, results: Mapping[str, RuleResult]) -> None:
    """Say for each requirement which oracle judged it (scenario, model, both) and on how much evidence."""
    by_requirement: dict[str, list[Finding]] = {}
    for finding in state.findings:
        by_requirement.setdefault(finding.requirement, []).append(finding)
    for entry in report["requirements"]:
        found = [f for f in by_requirement.get(entry["id"], []) if f.verdict in JUDGED]
        scenario = sum(f.test != MODEL_TEST for f in found)
        model = any(f.test == MODEL_TEST for f in found)
        entry["oracle"] = {(True, True): "both", (True, False): "scenario", (False, True): "model"}.get(
            (bool(scenario), model)
        )
        parts = [f"{scenario} scenario findings"] if scenario else []
        result = results.get(entry["id"])
        if result is not None and result.checks:
            parts.insert(
                0, result.evidence() + (f", {len(result.violations)} violations" * bool(result.violations))
            )
            entry["model"] = {
                "checks": result.checks,
                "subjects": len(result.subjects),
                "violations": len(result.violations),
            }
        entry["evidence"] = f"{entry['id']}: {'; '.join(parts)}" if parts else None
        failing = {f.test == MODEL_TEST for f in found if f.verdict is Verdict.FAIL}
        entry["failed_by"] = {frozenset({True}): "model", frozenset({False}): "scenario"}.get(
            frozenset(failing), "both" if failing else None
        )
