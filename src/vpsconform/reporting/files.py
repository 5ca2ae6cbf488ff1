"""Write a run's report files with every secret redacted, and attest them (signed when given a key).

report.json, junit.xml, report.html, summary.md, ctrf.json, badge.svg, the contract as bundled (spec/),
then attestation.json over all of them.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from vpsconform.errors import ReportError
from vpsconform.history import HISTORY_FILE
from vpsconform.paths import SPEC_DIR
from vpsconform.redaction import Redactor
from vpsconform.reporting.attestation import ATTESTATION_JSON, SPEC_FILES, attestation_text, statement
from vpsconform.reporting.badge import badge_svg
from vpsconform.reporting.ctrf import ctrf_json
from vpsconform.reporting.junit import junit_xml
from vpsconform.reporting.render import render_html, render_summary
from vpsconform.reporting.schema import shape_error
from vpsconform.reporting.signing import load_signer

#: The report files a run writes.
REPORT_JSON, JUNIT_XML, REPORT_HTML, SUMMARY_MD = "report.json", "junit.xml", "report.html", "summary.md"
CTRF_JSON, BADGE_SVG = "ctrf.json", "badge.svg"
#: What attestation.json vouches for, in the order it lists them.
ATTESTED = (REPORT_JSON, REPORT_HTML, CTRF_JSON, JUNIT_XML, SUMMARY_MD, BADGE_SVG, *SPEC_FILES)
#: Attested too where the run wrote them: the evidence every finding links to.
EVIDENCE = (HISTORY_FILE,)
REQUIRED_KEYS = ("verdict", "scope", "summary", "target", "suite", "started_at", "duration_s", "requirements")


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


def write_attested(report: dict[str, Any], report_dir: Path, redactor: Redactor, signer: Any = None) -> None:
    """Write ctrf.json, badge.svg and the bundled contract, then attestation.json over every attested file."""
    (report_dir / CTRF_JSON).write_text(redactor.text(ctrf_json(report)), encoding="utf-8")
    (report_dir / BADGE_SVG).write_text(badge_svg(report), encoding="utf-8")
    (report_dir / "spec").mkdir(exist_ok=True)
    for name in SPEC_FILES:
        shutil.copyfile(SPEC_DIR / Path(name).name, report_dir / name)
    evidence = [name for name in EVIDENCE if (report_dir / name).is_file()]
    document = statement(report, report_dir, [*ATTESTED, *evidence])
    (report_dir / ATTESTATION_JSON).write_text(attestation_text(document, signer), encoding="utf-8")


def write_all(
    report: dict[str, Any], report_dir: Path, redactor: Redactor, sign_key: str | Path | None = None
) -> None:
    """Write every report file, and append summary.md to ``$GITHUB_STEP_SUMMARY`` when that is set.

    With ``sign_key`` (a PEM private key) attestation.json is a signed DSSE envelope; the key is loaded
    first, so an unusable one raises KeyProblem before anything is written.
    """
    signer = load_signer(Path(sign_key)) if sign_key else None
    clean = redact(report, redactor)
    report_dir.mkdir(parents=True, exist_ok=True)
    text = json.dumps(clean, indent=2, ensure_ascii=False)
    (report_dir / REPORT_JSON).write_text(redactor.text(text) + "\n", encoding="utf-8")
    (report_dir / JUNIT_XML).write_text(redactor.text(junit_xml(clean)), encoding="utf-8")
    write_renderings(clean, report_dir, redactor)
    write_attested(clean, report_dir, redactor, signer)
    step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if step_summary:
        with open(step_summary, "a", encoding="utf-8") as stream:
            stream.write((report_dir / SUMMARY_MD).read_text(encoding="utf-8") + "\n")
