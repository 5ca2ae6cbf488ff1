"""Allure: labels, links and evidence attachments land in allure-pytest's results; Allure 3 renders them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from vpsconform.reporting.allure import write_environment

FAKE_TOKEN = "vpsc-fake-token-7f3a9c1e"
ALLURE_CACHE = Path(os.environ.get("VPSCONFORM_ALLURE_CACHE", Path.home() / ".cache" / "vpsconform-allure"))
ALLURE_PACKAGE = "allure@3"

CONFTEST = f'''
import pytest
from vpsconform.catalog import load_requirements
from vpsconform.client import Exchange
from vpsconform.redaction import Redactor
from vpsconform.reporting.allure import attach_findings, label_test
from vpsconform.verdicts import Finding, Verdict

CATALOG = load_requirements()


def pytest_runtest_setup(item):
    label_test(item, ["AUTH-01", "CREATE-01", "NOT-99"], CATALOG)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    yield
    exchange = Exchange(
        method="POST", url="http://127.0.0.1:9/api/v1/snapshots/",
        request_headers={{"authorization": "Bearer {FAKE_TOKEN}"}},
        request_body='{{"server_id": 1, "name": "a"}}',
        status=200, response_headers={{"content-type": "application/json"}}, response_body='{{"id": 5}}',
        elapsed_ms=1.0,
    )
    finding = Finding("CREATE-01", Verdict.FAIL, "got 200, expected 201", item.nodeid, [exchange])
    attach_findings([finding], Redactor({{"{FAKE_TOKEN}": "VPSCONFORM_TOKEN"}}))
'''

TOY = '''
def test_create_answers_201():
    """A create answers 201."""
    assert True
'''


def run_toy(tmp_path: Path) -> Path:
    """Run the toy test under pytest with --alluredir; the results directory."""
    (tmp_path / "conftest.py").write_text(textwrap.dedent(CONFTEST), encoding="utf-8")
    (tmp_path / "test_toy.py").write_text(TOY, encoding="utf-8")
    results = tmp_path / "allure-results"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            f"--alluredir={results}",
            "test_toy.py",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return results


def the_result(results: Path) -> dict[str, Any]:
    """The one test result allure-pytest wrote."""
    found = list(results.glob("*-result.json"))
    assert len(found) == 1, found
    return json.loads(found[0].read_text(encoding="utf-8"))


@pytest.mark.slow
def test_labels_links_and_attachments(tmp_path: Path) -> None:
    results = run_toy(tmp_path)
    result = the_result(results)
    labels = [(label["name"], label["value"]) for label in result["labels"]]
    assert ("epic", "VPS.org Snapshots API") in labels
    assert ("feature", "AUTH") in labels and ("feature", "CREATE") in labels
    assert ("story", "AUTH-01") in labels and ("story", "CREATE-01") in labels
    assert ("severity", "critical") in labels and ("tag", "CREATE-01") in labels
    assert not any("NOT-99" in value for _, value in labels)
    links = {link["url"]: link for link in result["links"]}
    assert links["CREATE-01"]["type"] == "requirement" and links["CREATE-01"]["name"].startswith(
        "CREATE-01: "
    )
    assert "A create answers 201." in result["description"] and "**AUTH-01**" in result["description"]
    attachments = {a["name"]: results / a["source"] for a in result["attachments"]}
    assert set(attachments) == {"CREATE-01 fail: request", "CREATE-01 fail: response", "CREATE-01 fail: curl"}
    request = attachments["CREATE-01 fail: request"].read_text(encoding="utf-8")
    assert request.startswith("POST http://127.0.0.1:9/api/v1/snapshots/") and '  "server_id": 1' in request
    assert "curl" in attachments["CREATE-01 fail: curl"].read_text(encoding="utf-8")
    for file in results.iterdir():
        assert FAKE_TOKEN not in file.read_text(encoding="utf-8"), file.name


def test_environment_properties(tmp_path: Path) -> None:
    path = write_environment(
        tmp_path, {"target": "http://h:1/x", "server_ids": [1, 2], "seed": 7, "note": "a=b\nc"}
    )
    assert path.read_text(encoding="utf-8").splitlines() == [
        "target=http\\://h\\:1/x",
        "server_ids=1, 2",
        "seed=7",
        "note=a\\=b\\nc",
    ]


def allure_cli() -> Path:
    """The Allure 3 command line, installed from npm into a cache directory once; skip when that fails."""
    binary = ALLURE_CACHE / "node_modules" / ".bin" / "allure"
    if binary.exists():
        return binary
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed, so the Allure 3 command line cannot be installed")
    ALLURE_CACHE.mkdir(parents=True, exist_ok=True)
    try:
        done = subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--prefix", str(ALLURE_CACHE), ALLURE_PACKAGE],
            capture_output=True,
            text=True,
            timeout=300,
        )
    except subprocess.TimeoutExpired:
        pytest.skip("npm install allure timed out")
    if done.returncode != 0 or not binary.exists():
        pytest.skip(f"npm install allure failed: {(done.stderr or done.stdout).strip().splitlines()[-1:]}")
    return binary


@pytest.mark.slow
def test_allure3_renders_the_results(tmp_path: Path) -> None:
    cli = allure_cli()
    results = run_toy(tmp_path)
    write_environment(results, {"target": "http://127.0.0.1:9", "seed": 7})
    output = tmp_path / "allure-report"
    done = subprocess.run(
        [str(cli), "generate", str(results), "--output", str(output), "--report-name", "vpsconform"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    index = output / "index.html"
    assert index.is_file(), sorted(p.name for p in output.rglob("*"))[:20]
    rendered = "".join(
        p.read_text(encoding="utf-8", errors="replace") for p in output.rglob("*") if p.is_file()
    )
    assert "test_create_answers_201" in rendered or "create answers 201" in rendered
    assert FAKE_TOKEN not in rendered
