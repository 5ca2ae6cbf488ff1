"""`vpsconform publish`: a static, offline site from many report folders, for auditors comparing providers.

SITE/index.html is the matrix (requirements by provider: the latest verdict and its trend over the runs);
SITE/<provider>/index.html lists a provider's runs; SITE/<provider>/<run>/ holds each run's attested files
as they were (report.html, report.json, ctrf.json, attestation.json, badge.svg, spec/ ...), so `vpsconform
verify` works on any of them. A provider is named by ``--name DIR=NAME``, else by its report's target: the
host and port of the URL (never its user info, path or query), or "embedded reference target".
"""

from __future__ import annotations

import base64
import dataclasses
import re
import shutil
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from vpsconform.errors import ReportError
from vpsconform.redaction import Redactor
from vpsconform.reporting.attestation import (
    ATTESTATION_JSON,
    EXIT_CHANGED,
    statement_of_folder,
    verify_folder,
)
from vpsconform.reporting.badge import badge_svg
from vpsconform.reporting.files import ATTESTED, BADGE_SVG, EVIDENCE, REPORT_HTML, load_report, redact
from vpsconform.reporting.render import environment, render_html

EMBEDDED = "embedded reference target"
#: The requirement verdict whose colour shows a run verdict in a trend strip.
SHADES = {"conformant": "pass", "nonconformant": "fail", "incomplete": "inconclusive", "error": "error"}
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclasses.dataclass
class Run:
    """One report folder on its way into the site."""

    folder: Path
    report: dict[str, Any]
    provider: str
    attestation: str  # what verify said at publish time
    statement: dict[str, Any] | None
    run_id: str = ""
    href: str = ""  # the run's folder, relative to the site root


def provider_name(report: dict[str, Any]) -> str:
    """A provider's name from its report's target: host[:port] of the URL, nothing else of it."""
    target = report.get("target", {})
    if target.get("embedded"):
        return EMBEDDED
    parts = urlsplit(str(target.get("target") or ""))
    if not parts.hostname:
        return "unknown target"
    return f"{parts.hostname}:{parts.port}" if parts.port else parts.hostname


def parse_names(pairs: Sequence[str]) -> dict[str, str]:
    """``DIR=NAME`` pairs as a mapping of resolved folder to provider name; ValueError when malformed."""
    names = {}
    for pair in pairs:
        folder, sep, name = pair.partition("=")
        if not sep or not folder or not name.strip():
            raise ValueError(f"--name takes DIR=NAME, got {pair!r}")
        names[str(Path(folder).resolve())] = name.strip()
    return names


def slug(text: str) -> str:
    """A file-name-safe form of a name."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "run"


def load_run(folder: Path, names: Mapping[str, str]) -> Run:
    """A report folder read and checked: its report.json, its attestation's digests; ReportError if not."""
    if not folder.is_dir():
        raise ReportError(f"no report folder at {folder}")
    report = load_report(folder)
    check = verify_folder(folder)
    if check.code == EXIT_CHANGED:
        raise ReportError(f"{folder}: {check.line}; not published")
    attestation = check.line if check.code == 0 else "no attestation"
    provider = names.get(str(folder.resolve())) or provider_name(report)
    return Run(folder, report, provider, attestation, statement_of_folder(folder))


def _started(run: Run) -> datetime | None:
    """When the run started, in UTC (naive times taken as UTC); None when its report does not say."""
    try:
        moment = datetime.fromisoformat(str(run.report.get("started_at")))
    except ValueError:
        return None
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _unique(base: str, used: set[str]) -> str:
    """``base``, or ``base-2``, ``base-3`` ... whichever is not in ``used`` yet (then it is)."""
    name, number = base, 1
    while name in used:
        number += 1
        name = f"{base}-{number}"
    used.add(name)
    return name


def providers(runs: list[Run]) -> dict[str, list[Run]]:
    """Runs by provider (in order of first appearance), oldest first, each given a unique run id and href."""
    grouped: dict[str, list[Run]] = {}
    for run in runs:
        grouped.setdefault(run.provider, []).append(run)
    used: set[str] = set()
    for name, own in grouped.items():
        own.sort(key=lambda run: _started(run) or EPOCH)
        directory = _unique(slug(name), used)
        ids: set[str] = set()
        for run in own:
            moment = _started(run)
            run.run_id = _unique(moment.strftime("%Y%m%dT%H%M%SZ") if moment else "run", ids)
            run.href = f"{directory}/{run.run_id}"
    return grouped


def matrix(grouped: dict[str, list[Run]]) -> list[dict[str, Any]]:
    """A row per requirement (first catalog order, then later IDs): each provider's latest verdict, trend."""
    rows: dict[str, dict[str, Any]] = {}
    names = list(grouped)
    for column, name in enumerate(names):
        for index, run in enumerate(grouped[name]):
            latest = index == len(grouped[name]) - 1
            for entry in run.report["requirements"]:
                row = rows.setdefault(
                    entry["id"],
                    {"id": entry["id"], "title": entry["title"], "level": entry["level"],
                     "cells": [{"verdict": None, "trend": []} for _ in names]},
                )  # fmt: skip
                cell = row["cells"][column]
                cell["trend"].append({"verdict": entry["verdict"], "run": run.run_id})
                if latest:
                    cell.update(verdict=entry["verdict"], href=f"{run.href}/{REPORT_HTML}#{entry['id']}")
    return list(rows.values())


def _badge_uri(report: dict[str, Any]) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(badge_svg(report).encode("utf-8")).decode("ascii")


def _copy_run(run: Run, site: Path, redactor: Redactor) -> None:
    """The run's files into the site (attested ones byte for byte); report.html rendered if it is missing."""
    destination = site / run.href
    for name in (*ATTESTED, *EVIDENCE, ATTESTATION_JSON):
        source, target = run.folder / name, destination / name
        if not source.is_file():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        if run.statement is not None:  # attested: as they were, or verify would fail on the copy
            shutil.copyfile(source, target)
        else:  # nothing vouches for them: make sure no token this shell knows gets published
            target.write_text(redactor.text(source.read_text(encoding="utf-8")), encoding="utf-8")
    if not (destination / REPORT_HTML).is_file():
        html = render_html(redact(run.report, redactor))
        (destination / REPORT_HTML).write_text(redactor.text(html), encoding="utf-8")
    if not (destination / BADGE_SVG).is_file():
        (destination / BADGE_SVG).write_text(badge_svg(run.report), encoding="utf-8")


def _point(run: Run) -> dict[str, Any]:
    """A run in its provider's trend strip."""
    verdict = run.report["verdict"]
    return {"verdict": verdict, "shade": SHADES.get(verdict, "error"), "run": run.run_id}


def _view(run: Run, site: Path) -> dict[str, Any]:
    """What the templates show of a run (once its files are in the site)."""
    shown = (REPORT_HTML, "report.json")
    return {
        "run": run,
        "report": run.report,
        "badge": _badge_uri(run.report),
        "signed": run.attestation.startswith("intact") and "unsigned" not in run.attestation,
        "files": [
            n
            for n in (*ATTESTED, *EVIDENCE, ATTESTATION_JSON)
            if n not in shown and (site / run.href / n).is_file()
        ],
    }


def publish_site(folders: Sequence[Path], site: Path, names: Mapping[str, str], redactor: Redactor) -> Path:
    """Build the site under ``site`` from the report folders; returns index.html. ReportError on bad input."""
    if not folders:
        raise ReportError("publish needs one or more report folders")
    grouped = providers([load_run(folder, names) for folder in folders])
    env = environment()
    site.mkdir(parents=True, exist_ok=True)
    for run in (run for runs in grouped.values() for run in runs):
        _copy_run(run, site, redactor)
    views = {name: [_view(run, site) for run in runs] for name, runs in grouped.items()}
    trends = {name: [_point(run) for run in runs] for name, runs in grouped.items()}
    for name, runs in grouped.items():
        directory = site / runs[0].href.split("/")[0]
        (directory / BADGE_SVG).write_text(badge_svg(runs[-1].report), encoding="utf-8")
        page = env.get_template("site_provider.html").render(name=name, runs=views[name], root="../")
        (directory / "index.html").write_text(redactor.text(page), encoding="utf-8")
    index = env.get_template("site_index.html").render(
        providers=views, trends=trends, rows=matrix(grouped), root=""
    )
    (site / "index.html").write_text(redactor.text(index), encoding="utf-8")
    return site / "index.html"
