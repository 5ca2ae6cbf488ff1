"""junit.xml: one test case per requirement, one suite per area, for CI systems' test views."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

_COUNTED = ("tests", "failures", "errors", "skipped")


def junit_xml(report: dict[str, Any]) -> str:
    """The JUnit document of a report: warn passes (warning in system-out), skip and inconclusive skip."""
    root = ET.Element("testsuites", name="vpsconform", time=str(report["duration_s"]))
    suites: dict[str, ET.Element] = {}
    for entry in report["requirements"]:
        area = entry["id"].split("-")[0]
        suite = suites.get(area)
        if suite is None:
            suite = suites[area] = ET.SubElement(root, "testsuite", name=area)
        case = ET.SubElement(
            suite, "testcase", classname=f"vpsconform.{area}", name=f"{entry['id']} {entry['title']}"
        )
        case.set("time", f"{entry.get('time_s') or 0:g}")  # the tests that judged it, as in report.json
        verdict, message = entry["verdict"], entry["message"] or ""
        if verdict == "fail":
            ET.SubElement(case, "failure", message=message, type=entry["level"]).text = failure_details(entry)
        elif verdict == "error":
            ET.SubElement(case, "error", message=message).text = failure_details(entry)
        elif verdict in ("skip", "inconclusive"):
            ET.SubElement(case, "skipped", message=f"{verdict}: {message}")
        elif verdict == "warn":
            ET.SubElement(case, "system-out").text = f"warning: {message}"
    totals = dict.fromkeys(_COUNTED, 0)
    for suite in suites.values():
        cases = list(suite)
        counts = {
            "tests": len(cases),
            "failures": sum(c.find("failure") is not None for c in cases),
            "errors": sum(c.find("error") is not None for c in cases),
            "skipped": sum(c.find("skipped") is not None for c in cases),
        }
        for name, count in counts.items():
            suite.set(name, str(count))
            totals[name] += count
    for name, count in totals.items():
        root.set(name, str(count))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def failure_details(entry: dict[str, Any]) -> str:
    """The failure text: message, each finding's test and curl commands, and the reproduction command."""
    lines = [entry["message"] or ""]
    for finding in entry["findings"]:
        lines.append(f"test: {finding['test']}")
        lines.extend(f"  {e['curl']}  # -> {e['response']['status']}" for e in finding["evidence"])
    if "reproduce" in entry:
        lines.append(f"reproduce: {entry['reproduce']}")
    return "\n".join(lines)
