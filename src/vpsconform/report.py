"""Run reports: report.json (requirement by requirement, with evidence) and junit.xml for CI systems."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path
from typing import Any

from vpsconform import __version__
from vpsconform.catalog import spec_hash
from vpsconform.redaction import Redactor
from vpsconform.selftest import current_strength
from vpsconform.verdicts import RequirementResult, Verdict, run_verdict


def build_report(
    results: list[RequirementResult],
    *,
    target: dict[str, Any],
    started_at: str,
    duration_s: float,
    cleanup: dict[str, Any],
    tests: list[dict[str, Any]],
    measurements: list[dict[str, Any]],
    rerun: str,
) -> dict[str, Any]:
    """The report.json document."""
    summary = Counter(r.verdict.value for r in results)
    must = [r for r in results if r.requirement.level in ("MUST", "SHOULD")]
    requirements = []
    for result in results:
        entry = result.to_dict()
        if result.verdict in (Verdict.FAIL, Verdict.ERROR) and result.tests:
            names = " or ".join(sorted({t.rsplit("::", 1)[-1].split("[")[0] for t in result.tests}))
            entry["reproduce"] = f"{rerun} --select '{names}'"
        requirements.append(entry)
    return {
        "verdict": run_verdict(results),
        "summary": {v.value: summary.get(v.value, 0) for v in Verdict},
        "must": {
            "total": len(must),
            "evaluated": sum(r.verdict not in (Verdict.SKIP, Verdict.INCONCLUSIVE) for r in must),
            "failed": sum(r.verdict is Verdict.FAIL for r in must),
        },
        "target": target,
        "suite": {
            "name": "vpsconform",
            "version": __version__,
            "spec_hash": spec_hash(),
            "strength": current_strength(),
        },
        "started_at": started_at,
        "duration_s": round(duration_s, 2),
        "cleanup": cleanup,
        "requirements": requirements,
        "tests": tests,
        "measurements": measurements,
    }


def write_json(report: dict[str, Any], path: Path, redactor: Redactor) -> None:
    """Write report.json, passing every string through the redactor first."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(redactor.text(json.dumps(report, indent=2, ensure_ascii=False)) + "\n", encoding="utf-8")


def write_junit(report: dict[str, Any], path: Path, redactor: Redactor) -> None:
    """Write junit.xml: one test case per requirement, grouped in one suite per area."""
    root = ET.Element("testsuites", name="vpsconform", time=str(report["duration_s"]))
    areas: dict[str, ET.Element] = {}
    for entry in report["requirements"]:
        area = entry["id"].split("-")[0]
        suite = areas.get(area)
        if suite is None:
            suite = areas[area] = ET.SubElement(root, "testsuite", name=area)
        case = ET.SubElement(
            suite, "testcase", classname=f"vpsconform.{area}", name=f"{entry['id']} {entry['title']}"
        )
        verdict, message = entry["verdict"], redactor.text(entry["message"] or "")
        if verdict == "fail":
            failure = ET.SubElement(case, "failure", message=message, type=entry["level"])
            failure.text = redactor.text(_details(entry))
        elif verdict == "error":
            error = ET.SubElement(case, "error", message=message)
            error.text = redactor.text(_details(entry))
        elif verdict in ("skip", "inconclusive"):
            ET.SubElement(case, "skipped", message=f"{verdict}: {message}")
        elif verdict == "warn":
            ET.SubElement(case, "system-out").text = f"warning: {message}"
    for suite in areas.values():
        cases = list(suite)
        suite.set("tests", str(len(cases)))
        suite.set("failures", str(sum(c.find("failure") is not None for c in cases)))
        suite.set("errors", str(sum(c.find("error") is not None for c in cases)))
        suite.set("skipped", str(sum(c.find("skipped") is not None for c in cases)))
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


def _details(entry: dict[str, Any]) -> str:
    lines = [entry["message"] or ""]
    for finding in entry["findings"]:
        lines.append(f"test: {finding['test']}")
        lines.extend(f"  {e['curl']}  # -> {e['response']['status']}" for e in finding["evidence"])
    if "reproduce" in entry:
        lines.append(f"reproduce: {entry['reproduce']}")
    return "\n".join(lines)
