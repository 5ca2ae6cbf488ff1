"""`vpsconform run` behind the command line: preflight, suites under pytest, signals, summary, exit status.

Exit status: 0 conformant, 1 nonconformant, 2 usage or configuration error, 3 the run could not be completed,
4 incomplete (a MUST in scope was not judged), 130/143 interrupted by SIGINT/SIGTERM (after cleanup).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from vpsconform.client import SNAPSHOTS, ApiClient
from vpsconform.config import RunConfig
from vpsconform.errors import NoAnswer, ProbeError, Stop
from vpsconform.interrupts import INTERRUPTS, Interrupted, Interrupts
from vpsconform.paths import SUITES_DIR
from vpsconform.plugin import Preset
from vpsconform.preflight import api_base, wrong_target
from vpsconform.probes import Probes
from vpsconform.progress import make_progress
from vpsconform.ratelimit import RateLimiter
from vpsconform.redaction import Redactor

EXIT_OK, EXIT_NONCONFORMANT, EXIT_USAGE, EXIT_ERROR, EXIT_INCOMPLETE = 0, 1, 2, 3, 4
EXIT_BY_VERDICT = {
    "conformant": EXIT_OK,
    "nonconformant": EXIT_NONCONFORMANT,
    "incomplete": EXIT_INCOMPLETE,
    "error": EXIT_ERROR,
}
VERDICTS = ("pass", "fail", "warn", "skip", "inconclusive", "error")
VERDICT_STYLE = dict(
    zip(VERDICTS, ("green", "bold red", "yellow", "dim", "magenta", "bold magenta"), strict=True)
)


def preflight(config: RunConfig, console: Console) -> None:
    """Fail fast, with one line and before the run starts, on an unreachable target, a rejected token, a
    target that is not the API (see vpsconform.preflight) or a broken probe."""
    redactor = Redactor(config.secrets)
    base = api_base(config.target)
    if base != config.target:
        note = f"--target ends in the API's path {SNAPSHOTS}: using its base URL {base}"
        console.print(note, markup=False, soft_wrap=True)
    api = ApiClient(
        base,
        config.token,
        redactor=redactor,
        limiter=RateLimiter(config.max_rps),
        timeout=min(config.request_timeout, 15),
        observers=[],
    )
    try:
        response = api.list_snapshots()
    except NoAnswer as exc:
        raise Stop(f"target unreachable: {redactor.text(str(exc))}", EXIT_ERROR) from None
    finally:
        api.close()
    if response.status_code == 401:
        raise Stop("the target answered 401 to the configured --token: check the token", EXIT_USAGE)
    cause = wrong_target(response)
    if cause:
        raise Stop(redactor.text(cause), EXIT_ERROR)
    if config.has_probes:
        probes = Probes(config.probe_write or "", config.probe_read or "", timeout=30)
        try:
            probes.read(config.server_ids[0])
        except ProbeError as exc:
            raise Stop(
                f"--probe-read does not work on server {config.server_ids[0]}: {exc}", EXIT_USAGE
            ) from None


def summary(console: Console, report: dict[str, Any]) -> None:
    """The closing table: requirements by area and verdict, then what failed and how to reproduce it."""
    table = Table(title="Requirements by verdict", show_lines=False)
    table.add_column("area")
    for verdict in VERDICTS:
        table.add_column(verdict, justify="right", style=VERDICT_STYLE[verdict])
    areas: dict[str, dict[str, int]] = {}
    for entry in report["requirements"]:
        row = areas.setdefault(entry["id"].split("-")[0], dict.fromkeys(VERDICTS, 0))
        row[entry["verdict"]] += 1
    for area, row in areas.items():
        table.add_row(area, *(str(row[v]) if row[v] else "" for v in VERDICTS))
    table.add_row("total", *(str(report["summary"][v]) for v in VERDICTS), style="bold")
    console.print(table)
    for entry in report["requirements"]:
        if entry["verdict"] in ("fail", "error", "warn"):
            style = VERDICT_STYLE[entry["verdict"]]
            console.print(
                f"[{style}]{entry['verdict'].upper()}[/] {entry['id']} ({entry['level']}): "
                + escape(entry["message"]),
                soft_wrap=True,
            )
            if entry.get("reproduce"):
                console.print(f"    reproduce: {entry['reproduce']}", markup=False, soft_wrap=True)
    scope = report["scope"]
    for item in scope["unjudged"]:
        console.print(f"[magenta]UNJUDGED[/] {item['id']} ({item['verdict']}): " + escape(item["reason"]))
    cleanup = report["cleanup"]
    left = cleanup["left"] if cleanup["left"] is not None else f"unknown ({cleanup['left_unknown']})"
    console.print(f"cleanup: created {cleanup['created']}, deleted {cleanup['deleted']}, left {left}")
    style = {"conformant": "bold green", "nonconformant": "bold red"}.get(report["verdict"], "bold magenta")
    console.print(
        f"verdict: [{style}]{report['verdict']}[/] — {scope['statement']}  ({report['duration_s']} s)"
        + (f"  [bold magenta]{escape(report['interrupted'])}[/]" if report.get("interrupted") else "")
    )


@contextlib.contextmanager
def _interruptible(preset: Preset) -> Iterator[Interrupts]:
    """SIGINT and SIGTERM stop the tests (as KeyboardInterrupt); the plugin still cleans up and reports.

    Once the tests are over, a signal only changes the exit status: the run is finishing.
    """
    with INTERRUPTS.catching() as interrupts:
        interrupts.start()
        try:
            yield interrupts
        finally:
            preset.interrupted = interrupts.reason
            interrupts.finishing()


def execute(
    config: RunConfig,
    *,
    reproduce: Callable[[str], str],
    select: str | None,
    console: Console,
    pytest_args: tuple[str, ...] = (),
) -> tuple[int, dict[str, Any]]:
    """Run the suites under pytest with this configuration; returns (exit status, report).

    A run the plugin stopped early (the target is not the API, or stopped answering) ends in Stop after
    its summary, with the cause in one line: exit 3, or 1 when its tests had found a MUST failure.
    """
    progress = make_progress(config.progress, console)
    progress.say(
        f"target {api_base(config.target)}  time scale {config.time_scale:g}  profile {config.profile}"
        f"  seed {config.seed}"
    )
    preset = Preset(
        config=config,
        reproduce=reproduce,
        notify=progress.status,
        announce=progress.say,
        on_test=progress.test,
    )
    args = [str(SUITES_DIR), "-p", "vpsconform.plugin", "-p", "no:cacheprovider", "-p", "no:terminal"]
    args += ["-p", "no:randomly", "--rootdir", str(SUITES_DIR.parent), *pytest_args]
    if select:
        args += ["-k", select]
    if config.jobs > 1:  # parallel workers (pytest-xdist), each leasing its own server
        args += ["-n", str(config.jobs)]
    with _interruptible(preset) as interrupts, progress:
        code = pytest.main(args, plugins=[preset])
    if preset.result is None:
        if interrupts.reason:  # before the plugin could report: the caller reports it
            raise Interrupted(interrupts.reason)
        raise Stop(f"the suite did not run to the end (pytest exit status {int(code)})", EXIT_ERROR)
    if code == pytest.ExitCode.NO_TESTS_COLLECTED:
        raise Stop(f"no test matched --select {select!r}", EXIT_USAGE)
    report = preset.result.report
    summary(console, report)
    files = "report.html, report.json, junit.xml, ctrf.json, badge.svg, attestation.json, history.jsonl"
    console.print(f"reports: {escape(str(preset.result.report_dir))}/ ({files})", soft_wrap=True)
    if interrupts.exit_code:
        return interrupts.exit_code, report
    if report.get("stopped"):
        raise Stop(report["stopped"], EXIT_BY_VERDICT.get(report["verdict"], EXIT_ERROR))
    return EXIT_BY_VERDICT.get(report["verdict"], EXIT_ERROR), report
