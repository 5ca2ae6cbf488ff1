"""Allure labels, links and attachments for the suite's tests, called by the plugin while a test runs.

allure-pytest applies ``allure.dynamic`` calls to the test result it is recording (the last one scheduled on
this thread), so these must run during the test's setup or call phase; without ``--alluredir`` they do
nothing. Evidence is already redacted by the client; a redactor may be passed to make sure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import allure
import pytest

from vpsconform.catalog import Requirement
from vpsconform.redaction import Redactor
from vpsconform.reporting.model import area_of
from vpsconform.reporting.render import request_text, response_text
from vpsconform.verdicts import Finding

EPIC = "VPS.org Snapshots API"
#: Link type of requirement links: ``--allure-link-pattern requirement:https://…/report.html#{}`` makes them
#: point at the requirement in a published report.html.
REQUIREMENT_LINK = "requirement"
SEVERITY = {"MUST": allure.severity_level.CRITICAL, "SHOULD": allure.severity_level.NORMAL}


def label_test(item: pytest.Item, requirements: list[str], catalog: Mapping[str, Requirement]) -> None:
    """Label the running test by the requirements it checks: epic, feature per area, story and link per ID."""
    known = [catalog[rid] for rid in requirements if rid in catalog]
    allure.dynamic.epic(EPIC)
    for area in dict.fromkeys(area_of(r.id) for r in known):
        allure.dynamic.feature(area)
    for requirement in known:
        allure.dynamic.story(requirement.id)
        allure.dynamic.tag(requirement.id)
        allure.dynamic.link(
            requirement.id, link_type=REQUIREMENT_LINK, name=f"{requirement.id}: {requirement.title}"
        )
    levels = [r.level for r in known]
    allure.dynamic.severity(
        next((SEVERITY[level] for level in SEVERITY if level in levels), allure.severity_level.MINOR)
    )
    # allure-pytest sets the description from markers after setup, so a marker (not allure.dynamic) it is.
    doc = getattr(getattr(item, "obj", None), "__doc__", None) or ""
    checks = "\n".join(f"- **{r.id}** ({r.level}) {r.title}" for r in known)
    item.add_marker(allure.description(f"{doc.strip()}\n\nChecks:\n\n{checks}".strip()))


def attach_findings(findings: Iterable[Finding], redactor: Redactor | None = None) -> None:
    """Attach each finding's evidence (request, response, curl) to the running test, named by requirement."""
    clean = redactor.text if redactor else str
    for finding in findings:
        prefix = f"{finding.requirement} {finding.verdict.value}"
        for number, exchange in enumerate(reversed(finding.evidence), 1):
            data = exchange.to_dict()
            name = f"{prefix} #{number}" if len(finding.evidence) > 1 else prefix
            allure.attach(clean(request_text(data)), f"{name}: request", allure.attachment_type.TEXT)
            allure.attach(clean(response_text(data)), f"{name}: response", allure.attachment_type.TEXT)
            allure.attach(clean(data["curl"]), f"{name}: curl", allure.attachment_type.TEXT)


def _property(text: str) -> str:
    """A key or value escaped for a Java .properties file."""
    escaped = text.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")
    return escaped.replace("=", "\\=").replace(":", "\\:").replace("#", "\\#").replace("!", "\\!")


def write_environment(alluredir: Path, public_config: Mapping[str, Any]) -> Path:
    """Write environment.properties (the run's public configuration, no secrets) into the Allure results."""
    lines = []
    for key, value in public_config.items():
        shown = ", ".join(map(str, value)) if isinstance(value, list | tuple) else str(value)
        lines.append(f"{_property(str(key))}={_property(shown)}")
    alluredir.mkdir(parents=True, exist_ok=True)
    path = alluredir / "environment.properties"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
