"""Write a run's report files (report.json, junit.xml, report.html, summary.md) with every secret redacted."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from vpsconform.redaction import Redactor
from vpsconform.reporting.junit import junit_xml
from vpsconform.reporting.render import render_html, render_summary
from vpsconform.reporting.schema import shape_error

#: The report files a run writes.
REPORT_JSON, JUNIT_XML, REPORT_HTML, SUMMARY_MD = "report.json", "junit.xml", "report.html", "summary.md"


class ReportError(ValueError):
    """A report.json that is missing, unreadable or not a vpsconform report."""


def redact(value: Any, redactor: Redactor) -> Any:
    """``value`` (JSON-like) with every string, keys included, passed through the redactor."""
    if isinstance(value, str):
        return redactor.text(value)
    if isinstance(value, dict):
        return {redact(k, redactor): redact(v, redactor) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(item, redactor) for item in value]
    return value


def load_report(path: Path) -> dict[str, Any]:
    """A report.json (or the report.json of a report folder) of the shape this version renders."""
    file = path / REPORT_JSON if path.is_dir() else path
    try:
        report = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ReportError(f"cannot read {file}: {getattr(exc, 'strerror', None) or exc}") from None
    problem = shape_error(report)
    if problem is not None:
        raise ReportError(f"{file} {problem}")
    return report


def write_renderings(report: dict[str, Any], report_dir: Path, redactor: Redactor) -> None:
    """Write report.html and summary.md of a report.json document."""
    report_dir.mkdir(parents=True, exist_ok=True)
    clean = redact(report, redactor)
    (report_dir / REPORT_HTML).write_text(redactor.text(render_html(clean)), encoding="utf-8")
    (report_dir / SUMMARY_MD).write_text(redactor.text(render_summary(clean)), encoding="utf-8")


def write_all(report: dict[str, Any], report_dir: Path, redactor: Redactor) -> None:
    """Write every report file, and append summary.md to ``$GITHUB_STEP_SUMMARY`` when that is set."""
    clean = redact(report, redactor)
    report_dir.mkdir(parents=True, exist_ok=True)
    text = json.dumps(clean, indent=2, ensure_ascii=False)
    (report_dir / REPORT_JSON).write_text(redactor.text(text) + "\n", encoding="utf-8")
    (report_dir / JUNIT_XML).write_text(redactor.text(junit_xml(clean)), encoding="utf-8")
    write_renderings(clean, report_dir, redactor)
    step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if step_summary:
        with open(step_summary, "a", encoding="utf-8") as stream:
            stream.write((report_dir / SUMMARY_MD).read_text(encoding="utf-8") + "\n")
