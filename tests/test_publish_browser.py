"""The published site in a real headless Chromium: offline, no console errors, every requirement of every
provider shown, and every link leads somewhere that exists (its #fragment too). Skipped without Chromium.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
import test_reports_browser
from test_publish import name_flags, publish, report_folders
from test_reports_browser import CHROMIUM, DevTools

from vpsconform.catalog import load_requirements

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).is_file(), reason=f"Chromium not found at {CHROMIUM}"),
]
LINKS = "Array.from(document.querySelectorAll('a[href]')).map(a => a.href)"
CELLS = (
    "Array.from(document.querySelectorAll('table.matrix tbody tr')).map(tr => [tr.id,"
    " Array.from(tr.querySelectorAll('td.cell')).map(td => td.textContent.trim().split(/\\s/)[0])])"
)
#: One headless Chromium for the module, as the report's browser test starts it.
browser = test_reports_browser.browser
IMAGES_LOADED = "Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site of a faithful provider (two runs), a broken one and an incomplete one."""
    root = tmp_path_factory.mktemp("publish")
    folders = report_folders(root / "reports")
    code, _ = publish(*map(str, folders.values()), "--out", str(root / "site"), *name_flags(folders))
    assert code == 0
    return root / "site"


def test_index_shows_every_requirement_of_every_provider(browser: DevTools, site: Path) -> None:
    browser.open((site / "index.html").as_uri())
    rows = browser.evaluate(CELLS)
    assert [rid for rid, _ in rows] == list(load_requirements())
    verdicts = {"pass", "fail", "warn", "skip", "inconclusive", "error"}
    for rid, cells in rows:
        assert len(cells) == 3 and set(cells) <= verdicts, (rid, cells)
    headers = browser.evaluate(
        "Array.from(document.querySelectorAll('table.matrix th.cell')).map(t => t.textContent)"
    )
    assert headers == ["faithful.example", "broken.example", "incomplete.example"]
    assert browser.evaluate(IMAGES_LOADED) is True
    assert browser.problems() == []


def _check_links(browser: DevTools, page: Path, site: Path) -> list[str]:
    """Every link of ``page`` points at a file in the site (and at an element there, given a fragment)."""
    browser.open(page.as_uri())
    assert browser.problems() == [], page
    pages: dict[Path, set[str]] = {}
    for href in browser.evaluate(LINKS):
        parts = urlsplit(href)
        assert parts.scheme == "file", f"{page}: {href} leaves the site"
        target = Path(unquote(parts.path))
        assert target.is_file() and site in target.parents, f"{page}: broken link {href}"
        pages.setdefault(target, set()).update({parts.fragment} if parts.fragment else set())
    for target, fragments in pages.items():
        if target.suffix == ".html" and target != page:
            browser.open(target.as_uri())
            assert browser.problems() == [], target
            missing = browser.evaluate(f"{sorted(fragments)}.filter(id => !document.getElementById(id))")
            assert missing == [], f"{target}: no element for #{missing}"
    return [str(p) for p in pages]


def test_every_link_works_from_the_index_and_the_provider_pages(browser: DevTools, site: Path) -> None:
    linked = _check_links(browser, site / "index.html", site)
    providers = [Path(p) for p in linked if p.endswith("/index.html") and Path(p) != site / "index.html"]
    assert len(providers) == 3
    for provider in providers:
        files = _check_links(browser, provider, site)
        assert any(f.endswith("attestation.json") for f in files)
        assert any(f.endswith("ctrf.json") for f in files)
        browser.open(provider.as_uri())
        assert browser.evaluate(IMAGES_LOADED) is True
        assert browser.problems() == []


def test_a_published_report_page_loads_cleanly(browser: DevTools, site: Path) -> None:
    report = site / "broken-example" / "20261129T150135Z" / "report.html"
    browser.open(report.as_uri())
    shown = browser.evaluate("Array.from(document.querySelectorAll('details.req')).map(d => d.id)")
    assert shown == list(load_requirements())
    assert browser.problems() == []
