"""`vpsconform report DIR` re-renders a stored report; `vpsconform compare` finds regressions and fixes."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from vpsconform.reporting.commands import compare_command, report_command

FIXTURES = Path(__file__).parent / "fixtures" / "report_samples"


def stored(tmp_path: Path, name: str, report: dict[str, Any]) -> Path:
    """A report folder holding ``report``."""
    folder = tmp_path / name
    folder.mkdir()
    (folder / "report.json").write_text(json.dumps(report), encoding="utf-8")
    return folder


def fixture(name: str) -> dict[str, Any]:
    """A stored report.json fixture."""
    return json.loads((FIXTURES / name / "report.json").read_text(encoding="utf-8"))


def with_verdicts(report: dict[str, Any], **verdicts: str) -> dict[str, Any]:
    """A copy of ``report`` with some requirements' verdicts changed (``AUTH_01="fail"``)."""
    changed = copy.deepcopy(report)
    wanted = {rid.replace("_", "-"): verdict for rid, verdict in verdicts.items()}
    for entry in changed["requirements"]:
        if entry["id"] in wanted:
            entry["verdict"] = wanted[entry["id"]]
            entry["message"] = f"now {wanted[entry['id']]}"
    return changed


def test_report_rerenders_html_and_summary(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    shutil.copytree(FIXTURES / "nonconformant", folder)
    result = CliRunner().invoke(report_command, [str(folder)])
    assert result.exit_code == 0, result.output
    html = (folder / "report.html").read_text(encoding="utf-8")
    assert '<span class="verdict nonconformant">' in html
    assert (
        (folder / "summary.md").read_text(encoding="utf-8").startswith("## VPS.org Snapshots API conformance")
    )
    # The report.json file itself is accepted too.
    assert CliRunner().invoke(report_command, [str(folder / "report.json")]).exit_code == 0


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (None, "cannot read"),
        ("{not json", "cannot read"),
        ('{"verdict": "conformant"}', "has no schema_version"),
        ('{"schema_version": 1, "verdict": "conformant"}', "'scope' is a required property"),
    ],
)
def test_report_refuses_missing_or_invalid_input_in_one_line(
    tmp_path: Path, content: str | None, fragment: str
) -> None:
    if content is not None:
        (tmp_path / "report.json").write_text(content, encoding="utf-8")
    result = CliRunner().invoke(report_command, [str(tmp_path)])
    assert result.exit_code == 2
    assert fragment in result.output and len(result.output.strip().splitlines()) == 1
    assert "Traceback" not in result.output


def test_compare_lists_a_regression_and_exits_1(tmp_path: Path) -> None:
    before = fixture("conformant")
    after = with_verdicts(before, CREATE_01="fail", AUTH_07="warn", LIST_02="inconclusive", DATA_01="error")
    out = tmp_path / "out"
    args = [str(stored(tmp_path, "a", before)), str(stored(tmp_path, "b", after)), "--out", str(out)]
    result = CliRunner().invoke(compare_command, [*args, "--label", "monday", "--label", "tuesday"])
    assert result.exit_code == 1, result.output
    markdown = (out / "compare.md").read_text(encoding="utf-8")
    assert result.output == markdown
    regressions = markdown.split("### Regressions")[1].split("###")[0]
    assert "**CREATE-01**" in regressions and "pass → fail" in regressions and "AUTH-07" not in regressions
    unjudged = markdown.split("### No longer judged")[1].split("###")[0]
    assert "**LIST-02**" in unjudged and "**DATA-01**" in unjudged
    assert "| ID | level | monday | tuesday |" in markdown
    html = (out / "compare.html").read_text(encoding="utf-8")
    assert "CREATE-01" in html and "tuesday" in html and "<script" not in html


def test_compare_lists_fixes_and_exits_0(tmp_path: Path) -> None:
    good = fixture("conformant")
    bad = with_verdicts(good, CREATE_01="fail")
    result = CliRunner().invoke(
        compare_command,
        [str(stored(tmp_path, "bad", bad)), str(stored(tmp_path, "good", good)), "--out", str(tmp_path)],
    )
    assert result.exit_code == 0, result.output
    fixes = result.output.split("### Fixes")[1].split("###")[0]
    assert "**CREATE-01**" in fixes and "fail → pass" in fixes
    assert "### Regressions (pass or warn, now fail): 0" in result.output


def test_compare_three_runs_is_a_matrix_only(tmp_path: Path) -> None:
    base = fixture("conformant")
    folders = [
        str(stored(tmp_path, str(n), with_verdicts(base, AUTH_01=v)))
        for n, v in enumerate(("pass", "fail", "skip"))
    ]
    result = CliRunner().invoke(compare_command, [*folders, "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "### Regressions" not in result.output
    assert "| AUTH-01 * | MUST | **pass** | **fail** | **skip** |" in result.output
    assert f"{base['target']['target']} #3" in result.output  # repeated targets are numbered


def test_compare_unreadable_input_is_one_line_exit_2(tmp_path: Path) -> None:
    first = str(stored(tmp_path, "a", fixture("conformant")))
    result = CliRunner().invoke(compare_command, [first, str(tmp_path / "missing"), "--out", str(tmp_path)])
    assert result.exit_code == 2 and "cannot read" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_compare_needs_one_label_per_report(tmp_path: Path) -> None:
    runs = [str(stored(tmp_path, name, fixture("conformant"))) for name in ("a", "b")]
    result = CliRunner().invoke(compare_command, [*runs, "--label", "only-one", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "one label per report" in result.output
