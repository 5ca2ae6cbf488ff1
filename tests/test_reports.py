"""Reports: the model's scope and verdicts, and its renderings (HTML, Markdown, JUnit) without secrets."""

from __future__ import annotations

import copy
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from vpsconform.catalog import load_requirements
from vpsconform.client import Exchange
from vpsconform.redaction import Redactor
from vpsconform.reporting import build_report, run_verdict, write_all
from vpsconform.reporting.render import render_html, render_summary, timing_chart
from vpsconform.verdicts import Finding, RequirementResult, Verdict

FIXTURES = Path(__file__).parent / "fixtures" / "report_samples"
FAKE_TOKEN = "vpsc-fake-token-7f3a9c1e"
REDACTOR = Redactor({FAKE_TOKEN: "VPSCONFORM_TOKEN"})
CATALOG = load_requirements()
REPORT_FILES = ("report.json", "junit.xml", "report.html", "summary.md")


def fixture(name: str) -> dict[str, Any]:
    """A stored report.json: nonconformant (six requirement verdicts, evidence, a raw token), conformant."""
    return json.loads((FIXTURES / name / "report.json").read_text(encoding="utf-8"))


def as_run(report: dict[str, Any], verdict: str, interrupted: str | None = None) -> dict[str, Any]:
    """The fixture relabelled with another run verdict (rendering shows what the model concluded)."""
    changed = copy.deepcopy(report)
    changed.update(verdict=verdict, interrupted=interrupted)
    return changed


RUNS = {
    "conformant": lambda: fixture("conformant"),
    "nonconformant": lambda: fixture("nonconformant"),
    "incomplete": lambda: as_run(fixture("nonconformant"), "incomplete"),
    "error": lambda: as_run(fixture("nonconformant"), "error", "interrupted by SIGINT after 12 s"),
}


def result(rid: str, verdict: Verdict, evidence: list[Exchange] | None = None) -> RequirementResult:
    """A requirement result with one finding of that verdict."""
    finding = Finding(
        rid, verdict, f"{rid} {verdict.value}", f"suites/test_x.py::test_{rid}[a]", evidence or []
    )
    return RequirementResult(CATALOG[rid], verdict, finding.message, [finding.test], [finding])


def results(**verdicts: Verdict) -> list[RequirementResult]:
    """Every catalog requirement passing, except those named (``AUTH_01=Verdict.FAIL``)."""
    chosen = {rid.replace("_", "-"): verdict for rid, verdict in verdicts.items()}
    return [result(rid, chosen.get(rid, Verdict.PASS)) for rid in CATALOG]


def leaky_exchange() -> Exchange:
    """Evidence that still holds the raw token (the client redacts; write_all must make sure)."""
    return Exchange(
        method="POST",
        url="http://127.0.0.1:9/api/v1/snapshots/",
        request_headers={"authorization": f"Bearer {FAKE_TOKEN}"},
        request_body='{"server_id": 12345, "name": "a"}',
        status=500,
        response_headers={"content-type": "application/json"},
        response_body=f'{{"detail": "bad token {FAKE_TOKEN}"}}',
        elapsed_ms=3.2,
    )


def build(items: list[RequirementResult], **overrides: Any) -> dict[str, Any]:
    """build_report with ordinary inputs."""
    arguments: dict[str, Any] = {
        "scope": {"out_of_scope": {}},
        "target": {"target": "http://127.0.0.1:9", "seed": 7, "timing_tolerance": 0.1},
        "started_at": "2026-11-29T15:01:07+00:00",
        "duration_s": 12.345,
        "cleanup": {"created": 3, "deleted": 2, "left": 1, "left_ids": [9], "left_unknown": None},
        "tests": [],
        "measurements": [{"name": "create", "seconds": 0.4, "minutes": 4.0, "server_id": 1}],
        "reproduce": lambda selection: f"vpsconform run --seed 7 --select '{selection}'",
    }
    arguments.update(overrides)
    return build_report(items, **arguments)


# The model ------------------------------------------------------------------------------------------------
def test_run_verdicts() -> None:
    interpretation = next(r for r in CATALOG.values() if r.level == "interpretation").id
    assert run_verdict(results()) == "conformant"
    assert run_verdict(results(AUTH_01=Verdict.FAIL)) == "nonconformant"
    assert run_verdict(results(AUTH_01=Verdict.FAIL), interrupted="SIGINT") == "error"
    assert run_verdict(results(**{interpretation.replace("-", "_"): Verdict.FAIL})) == "conformant"
    for unjudged in (Verdict.SKIP, Verdict.INCONCLUSIVE, Verdict.ERROR):
        assert run_verdict(results(AUTH_01=unjudged)) == "incomplete"
        assert run_verdict(results(AUTH_01=unjudged), out_of_scope={"AUTH-01"}) == "conformant"
    assert run_verdict(results(AUTH_01=Verdict.FAIL, AUTH_02=Verdict.SKIP)) == "nonconformant"


def test_build_report_scope_entries_and_reproduce() -> None:
    tenant = [rid for rid in CATALOG if rid.startswith("TENANT") and CATALOG[rid].level == "MUST"]
    items = results(
        CREATE_01=Verdict.FAIL,
        AUTH_02=Verdict.INCONCLUSIVE,
        **{t.replace("-", "_"): Verdict.SKIP for t in tenant},
    )
    out = {rid: "no foreign account" for rid in tenant}
    report = build(items, scope={"out_of_scope": out}, interrupted=None)
    must = sum(r.level == "MUST" for r in CATALOG.values())
    scope = report["scope"]
    assert report["verdict"] == "nonconformant" and report["interrupted"] is None
    assert scope["must_total"] == must and scope["must_in_scope"] == must - len(tenant)
    assert scope["judged"] == must - len(tenant) - 1 and not scope["full"]
    assert scope["statement"] == f"judged {must - len(tenant) - 1} of {must} MUST requirements"
    assert scope["out_of_scope"] == [{"id": t, "reason": "no foreign account"} for t in tenant]
    assert scope["unjudged"] == [
        {"id": "AUTH-02", "verdict": "inconclusive", "reason": "AUTH-02 inconclusive"}
    ]
    entry = next(e for e in report["requirements"] if e["id"] == "CREATE-01")
    assert entry["area"] == "CREATE" and entry["source"] == CATALOG["CREATE-01"].source
    assert {"decision", "rationale"} <= set(entry)
    assert entry["reproduce"] == "vpsconform run --seed 7 --select 'test_CREATE-01'"
    assert "reproduce" not in next(e for e in report["requirements"] if e["id"] == "AUTH-01")
    assert report["suite"]["strength"] is None or "summary" in report["suite"]["strength"]
    assert report["cleanup"]["left_ids"] == [9] and report["windows"]["create"] == {"min": 3, "max": 10}
    assert build(results())["scope"]["full"] and build(results())["verdict"] == "conformant"
    assert build(results(), interrupted="target unreachable")["verdict"] == "error"


def test_write_all_keeps_the_token_out_of_every_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    summary = tmp_path / "step-summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    items = results()
    items[0] = result(items[0].requirement.id, Verdict.FAIL, [leaky_exchange()])
    report = build(items, target={"target": "http://127.0.0.1:9", "note": f"token {FAKE_TOKEN}"})
    write_all(report, tmp_path / "out", REDACTOR)
    for name in REPORT_FILES:
        text = (tmp_path / "out" / name).read_text(encoding="utf-8")
        assert FAKE_TOKEN not in text, name
        assert "VPSCONFORM_TOKEN" in text or name == "summary.md", name
    assert FAKE_TOKEN not in summary.read_text(encoding="utf-8")
    assert summary.read_text(encoding="utf-8").startswith(
        "## VPS.org Snapshots API conformance: **nonconformant**"
    )
    # A second run appends to the step summary rather than replacing it.
    write_all(report, tmp_path / "again", REDACTOR)
    assert summary.read_text(encoding="utf-8").count("## VPS.org Snapshots API conformance") == 2


@pytest.mark.parametrize("name", ["nonconformant", "conformant"])
def test_fixtures_render_without_the_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    write_all(fixture(name), tmp_path, REDACTOR)
    for file in REPORT_FILES:
        assert FAKE_TOKEN not in (tmp_path / file).read_text(encoding="utf-8"), file


# HTML -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("verdict", list(RUNS))
def test_html_header_for_each_run_verdict(verdict: str) -> None:
    report = RUNS[verdict]()
    html = render_html(report)
    assert f'<span class="verdict {verdict}">{verdict}</span>' in html
    assert report["scope"]["statement"] in html
    assert report["suite"]["spec_hash"] in html and str(report["target"]["seed"]) in html
    assert ("interrupted by SIGINT" in html) == (verdict == "error")
    for entry in report["requirements"]:
        assert f'id="{entry["id"]}" data-verdict="{entry["verdict"]}"' in html


def test_html_shows_evidence_escaped_and_offline() -> None:
    report = fixture("nonconformant")
    html = render_html(report)
    assert {e["verdict"] for e in report["requirements"]} == set(v.value for v in Verdict)
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<b>not bold</b>" not in html
    assert html.count("<script") == 1 and 'http-equiv="Content-Security-Policy"' in html
    for external in ('src="http', 'href="http', "@import", "url(http", "//fonts."):
        assert external not in html
    create = next(e for e in report["requirements"] if e["id"] == "CREATE-01")
    body = json.loads(create["findings"][0]["evidence"][0]["request"]["body"])
    assert json.dumps(body, indent=2).splitlines()[1].replace('"', "&#34;") in html  # indented JSON body
    assert 'class="copy"' in html and "vpsconform run" in html
    assert "no foreign account configured" in html  # out of scope, with its reason
    assert '<svg class="chart"' in html and 'class="dot over"' in html and 'class="dot tolerated"' in html


def test_timing_chart_places_measurements_against_the_windows() -> None:
    report = fixture("nonconformant")
    chart = timing_chart(report)
    assert chart is not None
    rows = {row["name"]: row for row in chart["rows"]}
    assert set(rows) == {"create", "restore"}
    assert [dot["placement"] for dot in rows["create"]["dots"]] == ["inside", "tolerated", "over"]
    assert [d["placement"] for d in rows["restore"]["dots"]] == ["inside", "early"]
    assert rows["create"]["band"]["x"] < rows["restore"]["band"]["x"]
    assert timing_chart({**report, "measurements": []}) is None


# Markdown -------------------------------------------------------------------------------------------------
def test_summary_markdown() -> None:
    report = fixture("nonconformant")
    text = render_summary(report)
    assert text.startswith(
        f"## VPS.org Snapshots API conformance: **nonconformant**, {report['scope']['statement']}"
    )
    assert "| CREATE |" in text and "| **total** |" in text
    for entry in report["requirements"]:
        if entry["verdict"] in ("fail", "error"):
            assert f"**{entry['id']}**" in text and entry["reproduce"] in text
    for item in report["scope"]["unjudged"]:
        assert f"- **{item['id']}** {item['verdict']}:" in text
    assert "Cleanup: created" in text and "left 1 (812)" in text
    assert "<b>" not in text and "&lt;b&gt;" in text
    interrupted = render_summary(RUNS["error"]())
    assert "**error**" in interrupted and "interrupted by SIGINT" in interrupted


# JUnit ----------------------------------------------------------------------------------------------------
def test_junit_one_case_per_requirement_with_verdict_semantics(tmp_path: Path) -> None:
    report = fixture("nonconformant")
    write_all(report, tmp_path, REDACTOR)
    root = ET.parse(tmp_path / "junit.xml").getroot()
    cases = {case.get("name").split(" ")[0]: case for case in root.iter("testcase")}
    assert list(cases) == [e["id"] for e in report["requirements"]]
    counts = report["summary"]
    assert root.get("tests") == str(len(cases))
    assert root.get("failures") == str(counts["fail"]) and root.get("errors") == str(counts["error"])
    assert root.get("skipped") == str(counts["skip"] + counts["inconclusive"])
    for entry in report["requirements"]:
        case, verdict = cases[entry["id"]], entry["verdict"]
        children = {child.tag for child in case}
        expected = {
            "pass": set(),
            "warn": {"system-out"},
            "fail": {"failure"},
            "error": {"error"},
            "skip": {"skipped"},
            "inconclusive": {"skipped"},
        }[verdict]
        assert children == expected, entry["id"]
        if verdict == "warn":
            assert case.find("system-out").text.startswith("warning: ")
        if verdict in ("skip", "inconclusive"):
            assert case.find("skipped").get("message").startswith(f"{verdict}: ")
        if verdict == "fail":
            assert "reproduce: " in case.find("failure").text and "curl" in case.find("failure").text
