"""`vpsconform publish`: the provider site's structure, names, trends, refusals, and no secret in it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from test_attestation import FAKE_TOKEN, fixture

from vpsconform.catalog import load_requirements
from vpsconform.cli import main
from vpsconform.redaction import Redactor
from vpsconform.reporting import write_all
from vpsconform.reporting.publish import EMBEDDED, provider_name


def report_folders(root: Path) -> dict[str, Path]:
    """Report folders as runs write them: a faithful provider (two runs), a broken one, an incomplete one."""
    runs = {
        "faithful-old": fixture("nonconformant", started_at="2026-11-20T08:00:00+00:00"),
        "faithful": fixture("conformant"),
        "broken": fixture("nonconformant"),
        "incomplete": fixture("nonconformant", verdict="incomplete", started_at="2026-11-30T10:00:00+00:00"),
    }
    folders = {}
    for name, report in runs.items():
        folders[name] = root / name
        write_all(report, folders[name], Redactor({}))
    return folders


def name_flags(folders: dict[str, Path]) -> list[str]:
    names = {"faithful-old": "faithful.example", "faithful": "faithful.example", "broken": "broken.example"}
    names["incomplete"] = "incomplete.example"
    return [arg for key, folder in folders.items() for arg in ("--name", f"{folder}={names[key]}")]


def publish(*args: str, env: dict[str, str] | None = None) -> tuple[int, list[str]]:
    done = CliRunner().invoke(main, ["publish", *args], env=env)
    assert "Traceback" not in done.output
    return done.exit_code, [line for line in done.output.splitlines() if line.strip()]


def published(tmp_path: Path) -> Path:
    folders = report_folders(tmp_path / "reports")
    site = tmp_path / "site"
    code, lines = publish(*map(str, folders.values()), "--out", str(site), *name_flags(folders))
    assert (code, lines) == (0, [str(site / "index.html")])
    return site


def test_provider_names_come_from_the_target_host_only() -> None:
    assert provider_name({"target": {"target": "https://user:pw@api.example.com:8443/v1?k=s"}}) == (
        "api.example.com:8443"
    )
    assert provider_name({"target": {"target": "https://api.example.com"}}) == "api.example.com"
    assert provider_name({"target": {"target": "http://127.0.0.1:4567", "embedded": True}}) == EMBEDDED


def test_site_has_a_page_per_provider_and_run_with_the_attested_files(tmp_path: Path) -> None:
    site = published(tmp_path)
    providers = sorted(p.name for p in site.iterdir() if p.is_dir())
    assert providers == ["broken-example", "faithful-example", "incomplete-example"]
    runs = sorted(p.name for p in (site / "faithful-example").iterdir() if p.is_dir())
    assert runs == ["20261120T080000Z", "20261129T150107Z"]
    for run in (site / "faithful-example").iterdir():
        if run.is_dir():
            for name in ("report.html", "report.json", "ctrf.json", "attestation.json", "badge.svg"):
                assert (run / name).is_file(), run / name
            done = CliRunner().invoke(main, ["verify", str(run)])
            assert done.exit_code == 0, done.output  # the published copy still verifies
    assert "conformant 69/69" in (site / "faithful-example" / "badge.svg").read_text(encoding="utf-8")
    page = (site / "faithful-example" / "index.html").read_text(encoding="utf-8")
    assert page.index("20261129T150107Z/report.html") < page.index("20261120T080000Z/report.html")
    assert "vpsconform verify" in page


def test_index_matrix_has_every_requirement_of_every_provider_and_trends(tmp_path: Path) -> None:
    index = (published(tmp_path) / "index.html").read_text(encoding="utf-8")
    for rid in load_requirements():
        assert f'<tr id="{rid}">' in index
        for provider in ("faithful-example/20261129T150107Z", "broken-example", "incomplete-example"):
            assert f"{provider}" in index
    assert index.count('class="trend"') >= len(load_requirements()) + 1  # faithful's two runs, per cell
    assert "trend, oldest first: nonconformant, conformant" in index
    assert "https://in-toto.io/attestation/test-result/v0.1" in index and "vpsconform verify" in index


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        (lambda root: [str(root / "absent")], "no report folder at"),
        (lambda root: [str(root)], "cannot read"),
        (lambda root: [], "one or more report folders"),
    ],
    ids=["missing", "not-a-report", "none"],
)
def test_bad_input_is_one_line_exit_2(make: Any, fragment: str, tmp_path: Path) -> None:
    code, lines = publish(*make(tmp_path), "--out", str(tmp_path / "site"))
    assert (
        code == 2 and len(lines) == 1 and lines[0].startswith("vpsconform: error: ") and fragment in lines[0]
    )


def test_bad_names_and_missing_out_are_one_line_exit_2(tmp_path: Path) -> None:
    folder = report_folders(tmp_path)["faithful"]
    code, lines = publish(str(folder), "--out", str(tmp_path / "site"), "--name", "faithful.example")
    assert code == 2 and lines == ["vpsconform: error: --name takes DIR=NAME, got 'faithful.example'"]
    assert publish(str(folder)) == (2, ["vpsconform: error: publish needs --out SITE"])


def test_a_changed_folder_is_refused_naming_the_file(tmp_path: Path) -> None:
    folder = report_folders(tmp_path)["broken"]
    text = (folder / "ctrf.json").read_text(encoding="utf-8").replace('"failed"', '"passed"', 1)
    (folder / "ctrf.json").write_text(text, encoding="utf-8")
    code, lines = publish(str(folder), "--out", str(tmp_path / "site"))
    assert code == 2 and len(lines) == 1
    assert "ctrf.json: sha256 differs from the attestation; not published" in lines[0]


def test_no_secret_in_the_site(tmp_path: Path) -> None:
    """Run folders are redacted by the run; an unattested (older) folder is redacted on the way in."""
    leaky = fixture("nonconformant")
    leaky["requirements"][0]["message"] = f"bad token {FAKE_TOKEN}"
    attested = tmp_path / "attested"
    write_all(leaky, attested, Redactor({FAKE_TOKEN: "VPSCONFORM_TOKEN"}))
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    (legacy / "report.json").write_text(json.dumps(leaky), encoding="utf-8")  # no attestation, raw token
    site = tmp_path / "site"
    code, _ = publish(str(attested), str(legacy), "--out", str(site), env={"VPSCONFORM_TOKEN": FAKE_TOKEN})
    assert code == 0
    files = [p for p in site.rglob("*") if p.is_file()]
    assert len(files) > 10
    for path in files:
        assert FAKE_TOKEN not in path.read_text(encoding="utf-8"), path
    assert "no attestation" in (site / "embedded-reference-target" / "index.html").read_text(encoding="utf-8")
