"""Compare runs: requirements by run, and for two runs what regressed, was fixed or went unjudged."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from vpsconform.reporting.files import load_report
from vpsconform.reporting.render import environment

_JUDGED = ("pass", "warn", "fail")


def load_runs(paths: Sequence[Path], labels: Sequence[str]) -> list[dict[str, Any]]:
    """Each report with its label (given in order, else its target; repeated targets are numbered)."""
    if labels and len(labels) != len(paths):
        raise ValueError(
            f"{len(labels)} --label for {len(paths)} reports: give one label per report, or none"
        )
    runs = []
    for index, path in enumerate(paths):
        report = load_report(path)
        label = labels[index] if labels else str(report["target"].get("target") or path)
        runs.append({"label": label, "report": report, "path": str(path)})
    if not labels:
        for run in runs:
            same = [r for r in runs if r["label"] == run["label"]]
            if len(same) > 1:
                for number, twin in enumerate(same, 1):
                    twin["label"] = f"{twin['label']} #{number}"
    return runs


def changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """What changed from ``before`` to ``after``: regressions (pass/warn → fail), fixes, newly unjudged."""
    was = {e["id"]: e for e in before["requirements"]}
    found: dict[str, list[dict[str, Any]]] = {"regressions": [], "fixes": [], "unjudged": []}
    for entry in after["requirements"]:
        old = was.get(entry["id"])
        if old is None:
            continue
        change = {**_brief(entry), "before": old["verdict"], "after": entry["verdict"]}
        if old["verdict"] in ("pass", "warn") and entry["verdict"] == "fail":
            found["regressions"].append({**change, "message": entry["message"]})
        elif old["verdict"] == "fail" and entry["verdict"] in ("pass", "warn"):
            found["fixes"].append(change)
        elif old["verdict"] in _JUDGED and entry["verdict"] not in _JUDGED:
            found["unjudged"].append({**change, "message": entry["message"]})
    return found


def _brief(entry: dict[str, Any]) -> dict[str, Any]:
    """A requirement's identity for the comparison."""
    return {"id": entry["id"], "title": entry["title"], "level": entry["level"]}


def comparison(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The matrix (the first run's catalog order, then IDs only later runs know); for two runs, changes."""
    rows: dict[str, dict[str, Any]] = {}
    for column, run in enumerate(runs):
        for entry in run["report"]["requirements"]:
            row = rows.setdefault(entry["id"], {**_brief(entry), "verdicts": [None] * len(runs)})
            row["verdicts"][column] = entry["verdict"]
    for row in rows.values():
        row["changed"] = len(set(row["verdicts"])) > 1
    hashes = {run["report"].get("suite", {}).get("spec_hash") for run in runs}
    return {
        "runs": runs,
        "rows": list(rows.values()),
        "changes": changes(runs[0]["report"], runs[1]["report"]) if len(runs) == 2 else None,
        "same_contract": len(hashes) == 1,
    }


def render_compare(result: dict[str, Any]) -> tuple[str, str]:
    """compare.html (offline, autoescaped) and compare.md of a comparison."""
    env = environment()
    return env.get_template("compare.html").render(c=result), env.get_template("compare.md").render(c=result)
