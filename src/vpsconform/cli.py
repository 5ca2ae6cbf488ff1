"""The `vpsconform` command: run the conformance suite, serve the reference target, measure the suite itself.

Exit status of `run`: 0 conformant, 1 nonconformant, 2 usage or configuration error, 3 the run could not
be completed (target unreachable, internal error).
"""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

import click
import pytest
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from vpsconform import __version__
from vpsconform.client import ApiClient, RateLimiter, TransportError
from vpsconform.config import PROFILES, ConfigError, RunConfig, build_config, default_report_dir
from vpsconform.options import reproduce_command, run_options
from vpsconform.paths import SUITES_DIR
from vpsconform.plugin import Preset
from vpsconform.probes import ProbeError, Probes
from vpsconform.redaction import Redactor

EXIT_OK, EXIT_NONCONFORMANT, EXIT_USAGE, EXIT_INCOMPLETE = 0, 1, 2, 3
VERDICT_STYLE = {
    "pass": "green",
    "fail": "bold red",
    "warn": "yellow",
    "skip": "dim",
    "inconclusive": "magenta",
    "error": "bold magenta",
}


class Stop(Exception):
    """Ends the command with a one-line message and an exit status."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def _rerun_command(config: RunConfig, faults: tuple[str, ...], variants: tuple[str, ...]) -> str:
    """The reproduction command without its selection (the report appends ``--select``)."""
    return reproduce_command(config, runner="cli", faults=faults, variants=variants)


def _preflight(config: RunConfig, console: Console) -> None:
    """Fail fast, with one line, on an unreachable target, a rejected token or a broken probe."""
    redactor = Redactor(config.secrets)
    api = ApiClient(
        config.target,
        config.token,
        redactor=redactor,
        limiter=RateLimiter(0),
        timeout=min(config.request_timeout, 15),
        observers=[],
    )
    try:
        response = api.list_snapshots()
    except TransportError as exc:
        raise Stop(f"target unreachable: {redactor.text(str(exc))}", EXIT_INCOMPLETE) from None
    finally:
        api.close()
    if response.status_code == 401:
        raise Stop("the target answered 401 to the configured --token: check the token", EXIT_USAGE)
    if config.has_probes:
        probes = Probes(config.probe_write or "", config.probe_read or "", timeout=30)
        try:
            probes.read(config.server_ids[0])
        except ProbeError as exc:
            raise Stop(
                f"--probe-read does not work on server {config.server_ids[0]}: {exc}", EXIT_USAGE
            ) from None
    console.print(
        f"[bold]target[/] {config.target}  time scale {config.time_scale:g}  profile {config.profile}"
        f"  seed {config.seed}"
    )


def _summary(console: Console, report: dict[str, Any]) -> None:
    """The closing table: requirements by area and verdict, then what failed and how to reproduce it."""
    verdicts = ("pass", "fail", "warn", "skip", "inconclusive", "error")
    table = Table(title="Requirements by verdict", show_lines=False)
    table.add_column("area")
    for verdict in verdicts:
        table.add_column(verdict, justify="right", style=VERDICT_STYLE[verdict])
    areas: dict[str, dict[str, int]] = {}
    for entry in report["requirements"]:
        row = areas.setdefault(entry["id"].split("-")[0], dict.fromkeys(verdicts, 0))
        row[entry["verdict"]] += 1
    for area, row in areas.items():
        table.add_row(area, *(str(row[v]) if row[v] else "" for v in verdicts))
    table.add_row("total", *(str(report["summary"][v]) for v in verdicts), style="bold")
    console.print(table)
    for entry in report["requirements"]:
        if entry["verdict"] in ("fail", "error", "warn"):
            style = VERDICT_STYLE[entry["verdict"]]
            console.print(
                f"[{style}]{entry['verdict'].upper()}[/] {entry['id']} ({entry['level']}): "
                + escape(entry["message"]),
                highlight=False,
                markup=True,
                soft_wrap=True,
            )
            if entry.get("reproduce"):
                console.print(
                    f"    reproduce: {entry['reproduce']}", highlight=False, markup=False, soft_wrap=True
                )
    cleanup = report["cleanup"]
    console.print(
        f"cleanup: created {cleanup['created']}, deleted {cleanup['deleted']}, left {cleanup['left']}"
    )
    style = {"conformant": "bold green", "nonconformant": "bold red"}.get(report["verdict"], "bold magenta")
    console.print(f"verdict: [{style}]{report['verdict']}[/]  ({report['duration_s']} s)")


def execute(
    config: RunConfig, *, rerun: str, select: str | None, console: Console
) -> tuple[int, dict[str, Any]]:
    """Run the suites under pytest with this configuration; returns (exit status, report)."""
    status = console.status("starting")
    status.start()

    def notify(message: str) -> None:
        status.update(message)

    marks = {"passed": "[green]✓[/]", "failed": "[red]✗[/]", "skipped": "[dim]-[/]", "error": "[magenta]![/]"}

    def on_test(nodeid: str, outcome: str, requirements: list[str]) -> None:
        name = escape(nodeid.split("::", 1)[-1])
        console.print(f"{marks.get(outcome, '?')} {name}  [dim]{' '.join(requirements)}[/]", highlight=False)

    preset = Preset(config=config, rerun=rerun, notify=notify, on_test=on_test)
    args = [
        str(SUITES_DIR),
        "-p",
        "vpsconform.plugin",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:terminal",
        "-p",
        "no:randomly",
        "--rootdir",
        str(SUITES_DIR.parent),
    ]
    if select:
        args += ["-k", select]
    try:
        code = pytest.main(args, plugins=[preset])
    finally:
        status.stop()
    if preset.result is None:
        raise Stop(f"the suite did not run to the end (pytest exit status {int(code)})", EXIT_INCOMPLETE)
    if code == pytest.ExitCode.NO_TESTS_COLLECTED:
        raise Stop(f"no test matched --select {select!r}", EXIT_USAGE)
    report = preset.result.report
    _summary(console, report)
    console.print(f"reports: {preset.result.report_dir}/report.json, junit.xml")
    verdict = report["verdict"]
    return {"conformant": EXIT_OK, "nonconformant": EXIT_NONCONFORMANT}.get(verdict, EXIT_INCOMPLETE), report


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="vpsconform")
def main() -> None:
    """Conformance suite for the VPS.org Snapshots API."""


@main.command()
@run_options
def run(select: str | None, faults: tuple[str, ...], variants: tuple[str, ...], **flags: Any) -> None:
    """Test a target against the requirement catalog and write report.json and junit.xml."""
    console = Console(stderr=False, highlight=False)
    target = None
    try:
        embedded = None
        if not flags["target"] and not _env_target():
            from vpsconform.embedded import start_embedded

            try:
                target, embedded = start_embedded(faults=faults, variants=variants)
            except ValueError as exc:
                raise Stop(str(exc), EXIT_USAGE) from None
            console.print(
                f"[bold]embedded reference target[/] at {target.url}"
                + (f"  faults: {', '.join(faults)}" if faults else "")
                + (f"  variants: {', '.join(variants)}" if variants else "")
            )
        elif faults or variants:
            raise Stop("--fault and --variant apply to the embedded target only (omit --target)", EXIT_USAGE)
        try:
            config = build_config(flags, embedded=embedded)
        except ConfigError as exc:
            raise Stop(str(exc), EXIT_USAGE) from None
        if config.report_dir is None:
            config = _with_report_dir(config, default_report_dir())
        _preflight(config, console)
        code, _ = execute(
            config, rerun=_rerun_command(config, faults, variants), select=select, console=console
        )
    except Stop as stop:
        click.echo(f"vpsconform: error: {stop}", err=True)
        sys.exit(stop.code)
    finally:
        if target is not None:
            target.stop()
    sys.exit(code)


def _env_target() -> str | None:
    import os

    return os.environ.get("VPSCONFORM_TARGET") or None


def _with_report_dir(config: RunConfig, report_dir: Path) -> RunConfig:
    import dataclasses

    return dataclasses.replace(config, report_dir=report_dir)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=0, type=click.IntRange(0, 65535), help="Port (default: a free one).")
@click.option(
    "--time-scale",
    default=1.0,
    type=click.FloatRange(min=0, min_open=True, max=1000),
    show_default=True,
    help="Clock relative to production (0.01: a documented minute lasts 0.6 s).",
)
@click.option("--fault", "faults", multiple=True, help="Inject a defect (repeatable).")
@click.option("--variant", "variants", multiple=True, help="A faithful variant (repeatable).")
@click.option("--list", "list_only", is_flag=True, help="List the faults and variants, then exit.")
def serve(
    host: str,
    port: int,
    time_scale: float,
    faults: tuple[str, ...],
    variants: tuple[str, ...],
    list_only: bool,
) -> None:
    """Serve the reference target until interrupted, printing its URL, tokens and servers."""
    from vpsconform.reference.faults import FAULTS
    from vpsconform.reference.options import TargetOptions
    from vpsconform.reference.server import describe, start
    from vpsconform.reference.variants import VARIANTS

    if list_only:
        for name, fault in sorted(FAULTS.items()):
            click.echo(f"fault   {name:32} breaks {', '.join(fault.breaks)}: {fault.description}")
        for name, variant in sorted(VARIANTS.items()):
            click.echo(f"variant {name:32} {getattr(variant, 'description', variant)}")
        return
    try:
        options = TargetOptions(time_scale=time_scale, faults=frozenset(faults), variants=frozenset(variants))
        target = start(options, host=host, port=port)
    except (ValueError, OSError) as exc:
        click.echo(f"vpsconform: error: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    click.echo(describe(target))
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    try:
        while not stopped.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        target.stop()


@main.command()
@click.option("--jobs", default=4, show_default=True, type=click.IntRange(1, 32), help="Runs in parallel.")
@click.option("--seed", default=1, show_default=True, type=click.IntRange(0), help="Seed of every run.")
@click.option(
    "--profile",
    default="standard",
    show_default=True,
    type=click.Choice(PROFILES),
    help="Profile of every run.",
)
@click.option("--only", multiple=True, help="Only this fault or variant (repeatable).")
@click.option(
    "--report-dir", type=click.Path(file_okay=False, path_type=Path), help="Where each run's reports go."
)
@click.option("--record", is_flag=True, help="Store the score as the suite's published strength.")
def selftest(
    jobs: int, seed: int, profile: str, only: tuple[str, ...], report_dir: Path | None, record: bool
) -> None:
    """Run the suite against the faithful target, every variant and every fault, and print the kill matrix."""
    from vpsconform import selftest as matrix

    console = Console(highlight=False)
    try:
        cells = matrix.plan(only)
    except ValueError as exc:
        click.echo(f"vpsconform: error: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    root = report_dir or default_report_dir() / "selftest"
    console.print(f"selftest: {len(cells)} runs, {jobs} at a time, seed {seed}, reports under {root}")

    def on_cell(cell: Any) -> None:
        if cell.kind == "fault":
            ok = cell.attributed
            note = "caught" if cell.killed else "MISSED"
            if cell.killed and not cell.attributed:
                note = f"caught, not attributed (declared {', '.join(cell.declared)})"
        else:
            ok = not cell.false_alarm
            note = "passed" if ok else f"FALSE ALARM ({cell.verdict})"
        failed = ", ".join(cell.failed[:6]) + (" ..." if len(cell.failed) > 6 else "")
        mark = "[green]✓[/]" if ok else "[red]✗[/]"
        console.print(
            f"{mark} {cell.kind:8} {cell.name:32} {note:10} {cell.seconds:5.1f}s  [dim]{failed}[/]"
            + (f"  {escape(cell.problem)}" if cell.problem else "")
        )

    started = time.monotonic()
    cells = matrix.run_matrix(cells, jobs=jobs, seed=seed, profile=profile, report_root=root, on_cell=on_cell)
    wall = time.monotonic() - started
    figures = matrix.score(cells)
    if figures["slowest"]:
        console.print(
            f"wall time {wall:.1f} s; slowest run {figures['slowest']['name']} "
            f"({figures['slowest']['seconds']} s)"
        )
    if record and not only:
        matrix.STRENGTH_FILE.write_text(json.dumps(matrix.strength_record(figures, wall), indent=2) + "\n")
        console.print(f"recorded in {matrix.STRENGTH_FILE}")
    click.echo(matrix.summary_line(figures))
    sys.exit(EXIT_OK if matrix.perfect(figures) else EXIT_NONCONFORMANT)
