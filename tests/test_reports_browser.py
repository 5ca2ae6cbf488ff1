"""report.html in a real headless Chromium: no console errors, every requirement present, the filters work.

Chromium is driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``: NUL-separated JSON on
file descriptors 3 and 4), so no package beyond the browser is needed. Skipped when Chromium is absent.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from vpsconform.catalog import load_requirements
from vpsconform.redaction import Redactor
from vpsconform.reporting import write_all

FIXTURES = Path(__file__).parent / "fixtures" / "report_samples"
CHROMIUM = os.environ.get("VPSCONFORM_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
TIMEOUT = 30.0

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).is_file(), reason=f"Chromium not found at {CHROMIUM}"),
]


class DevTools:
    """A minimal DevTools-protocol client over Chromium's debugging pipe, attached to one page."""

    def __init__(self, profile: Path) -> None:
        reading_end, self._writer = os.pipe()
        self._reader, writing_end = os.pipe()
        # Above fd 4, so that placing them on 3 and 4 in the child cannot overwrite one with the other.
        to_browser, from_browser = (
            fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in (reading_end, writing_end)
        )
        os.close(reading_end)
        os.close(writing_end)
        # A Python trampoline places them on 3 and 4 (sh cannot: dash knows single-digit descriptors only).
        trampoline = (
            "import os, sys; os.dup2(int(sys.argv[1]), 3); os.dup2(int(sys.argv[2]), 4); "
            "os.execv(sys.argv[3], sys.argv[3:])"
        )
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                trampoline,
                str(to_browser),
                str(from_browser),
                CHROMIUM,
                *FLAGS,
                f"--user-data-dir={profile}",
                "--remote-debugging-pipe",
            ],
            pass_fds=(to_browser, from_browser),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_browser)
        os.close(from_browser)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Runtime", "Log", "Page"):
            self.call(f"{domain}.enable", session=True)

    def _message(self, deadline: float) -> dict[str, Any]:
        """The next message from the browser."""
        while b"\0" not in self._buffer:
            if time.monotonic() > deadline:
                raise TimeoutError("Chromium did not answer in time")
            chunk = os.read(self._reader, 1 << 16)
            if not chunk:
                raise ConnectionError("Chromium closed its debugging pipe")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)

    def call(
        self, method: str, params: dict[str, Any] | None = None, *, session: bool = False
    ) -> dict[str, Any]:
        """Send one command and return its result, keeping the events that arrive meanwhile."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = self.session
        os.write(self._writer, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + TIMEOUT
        while True:
            answer = self._message(deadline)
            if answer.get("id") == self._next_id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer["result"]
            self.events.append(answer)

    def wait_for(self, event: str) -> None:
        """Read messages until ``event`` has been seen."""
        deadline = time.monotonic() + TIMEOUT
        while not any(e.get("method") == event for e in self.events):
            self.events.append(self._message(deadline))

    def open(self, url: str) -> None:
        """Navigate the page and wait for its load event."""
        self.events.clear()
        self.call("Page.navigate", {"url": url}, session=True)
        self.wait_for("Page.loadEventFired")

    def evaluate(self, expression: str) -> Any:
        """The JSON value of a JavaScript expression in the page."""
        result = self.call(
            "Runtime.evaluate", {"expression": expression, "returnByValue": True}, session=True
        )
        if "exceptionDetails" in result:
            raise AssertionError(result["exceptionDetails"])
        return result["result"].get("value")

    def problems(self) -> list[Any]:
        """Console errors and warnings, uncaught exceptions and browser log errors seen so far."""
        found = []
        for event in self.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.exceptionThrown" or (
                method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "warning", "assert")
            ):
                found.append(params)
            elif method == "Log.entryAdded" and params["entry"]["level"] in ("error", "warning"):
                found.append(params["entry"])
        return found

    def close(self) -> None:
        """End the browser."""
        os.close(self._writer)
        os.close(self._reader)
        self.process.kill()
        self.process.wait(timeout=10)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevTools]:
    """One headless Chromium for the module."""
    devtools = DevTools(tmp_path_factory.mktemp("chromium-profile"))
    try:
        yield devtools
    finally:
        devtools.close()


@pytest.fixture(scope="module")
def report_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The nonconformant fixture written out as report.html (all six verdicts, evidence, measurements)."""
    folder = tmp_path_factory.mktemp("report")
    report = json.loads((FIXTURES / "nonconformant" / "report.json").read_text(encoding="utf-8"))
    write_all(report, folder, Redactor({}))
    return (folder / "report.html").as_uri()


VISIBLE = "Array.from(document.querySelectorAll('details.req')).filter(d => !d.hidden).map(d => d.id)"


def test_loads_without_console_errors_with_every_requirement(browser: DevTools, report_url: str) -> None:
    browser.open(report_url)
    assert browser.evaluate(VISIBLE) == list(load_requirements())
    assert browser.evaluate("document.getElementById('shown').textContent").startswith("showing 85 of 85")
    assert browser.evaluate("document.getElementById('filters').hidden") is False
    assert browser.problems() == []


def test_verdict_filter_shows_only_that_verdict(browser: DevTools, report_url: str) -> None:
    browser.open(report_url)
    failing = browser.evaluate(
        "Array.from(document.querySelectorAll('details.req[data-verdict=fail]')).map(d => d.id)"
    )
    assert failing
    shown = browser.evaluate(
        "(() => { const s = document.querySelector('select[name=verdict]'); s.value = 'fail';"
        f" s.dispatchEvent(new Event('change', {{bubbles: true}})); return {VISIBLE}; }})()"
    )
    assert shown == failing
    assert browser.evaluate("document.getElementById('no-match').hidden") is True
    assert browser.problems() == []


def test_filters_from_the_address_and_an_opened_requirement(browser: DevTools, report_url: str) -> None:
    browser.open(f"{report_url}?area=CREATE&level=MUST#CREATE-01")
    shown = browser.evaluate(VISIBLE)
    must = [r.id for r in load_requirements().values() if r.id.startswith("CREATE-") and r.level == "MUST"]
    assert shown == must
    assert browser.evaluate("document.getElementById('CREATE-01').open") is True
    browser.evaluate("document.querySelector('form.filters').reset()")
    time.sleep(0.2)
    assert len(browser.evaluate(VISIBLE)) == len(load_requirements())
    assert browser.problems() == []
