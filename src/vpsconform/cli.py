"""The `vpsconform` command: run the suite, finish a killed run's cleanup, serve the reference target,
measure the suite itself, and render or compare reports.

Exit status of `run`: see vpsconform.runner (0 conformant, 1 nonconformant, 2 usage, 3 error, 4 incomplete,
130/143 interrupted).
"""

from __future__ import annotations

import dataclasses
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape

from vpsconform import __version__
from vpsconform.cleanup import resume_cleanup
from vpsconform.config import PROFILES, build_config, default_report_dir
from vpsconform.errors import ConfigError, Stop
from vpsconform.interrupts import INTERRUPTS, Interrupted
from vpsconform.options import reproduce_command, run_options
from vpsconform.reporting.commands import compare_command, publish_command, report_command, verify_command
from vpsconform.runner import EXIT_ERROR, EXIT_NONCONFORMANT, EXIT_OK, EXIT_USAGE, execute, preflight
from vpsconform.runstart import RunStart


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="vpsconform")
def main() -> None:
    """Conformance suite for the VPS.org Snapshots API."""


def _start_embedded(console: Console, faults: tuple[str, ...], variants: tuple[str, ...]) -> tuple[Any, Any]:
    """Start the embedded reference target (no --target given) and say where it listens."""
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
    return target, embedded


@main.command()
@run_options
def run(
    select: str | None,
    faults: tuple[str, ...],
    variants: tuple[str, ...],
    alluredir: str | None,
    **flags: Any,
) -> None:
    """Test a target against the requirement catalog and write the reports (HTML, JSON, JUnit, Markdown)."""
    console = Console(stderr=False, highlight=False)
    target = None
    start = RunStart(flags)
    try:
        try:
            configured = start.check()  # every option and the report folder, before anything starts
        except ConfigError as exc:
            raise Stop(str(exc), EXIT_USAGE) from None
        embedded = None
        if not configured:
            target, embedded = _start_embedded(console, faults, variants)
        elif faults or variants:
            raise Stop("--fault and --variant apply to the embedded target only (omit --target)", EXIT_USAGE)
        try:
            config = build_config(flags, embedded=embedded)
        except ConfigError as exc:
            raise Stop(str(exc), EXIT_USAGE) from None
        config = start.config = dataclasses.replace(config, report_dir=start.report_dir)
        for note in config.notes:
            console.print(note, markup=False, highlight=False)
        preflight(config, console)

        def reproduce(selection: str) -> str:
            return reproduce_command(
                config, runner="cli", selection=selection, faults=faults, variants=variants
            )

        code, _ = execute(
            config,
            reproduce=reproduce,
            select=select,
            console=console,
            pytest_args=("--alluredir", alluredir) if alluredir else (),
        )
    except Stop as stop:
        click.echo(f"vpsconform: error: {stop}", err=True)
        code = stop.code
    except Interrupted:
        code = start.interrupted()
    finally:
        with INTERRUPTS.held():
            if target is not None:
                target.stop()
    sys.exit(code)


@main.command()
@click.option(
    "--report-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="The killed run's report folder (holds ledger.jsonl).",
)
@click.option(
    "--ledger", type=click.Path(dir_okay=False, path_type=Path), help="The killed run's ledger.jsonl."
)
def cleanup(report_dir: Path | None, ledger: Path | None) -> None:
    """Finish the cleanup of a run that was killed: delete every snapshot it created, and nothing else.

    Waits for snapshots still in progress, deletes every ledgered or run-prefixed snapshot still present on
    the run's servers, and can be run again safely. Tokens come from the variables the run named.
    """
    if (report_dir is None) == (ledger is None):
        click.echo("vpsconform: error: give --report-dir or --ledger (one of them)", err=True)
        sys.exit(EXIT_USAGE)
    journal = ledger or (report_dir / "ledger.jsonl" if report_dir else Path())
    console = Console(highlight=False)
    try:
        result = resume_cleanup(journal, notify=lambda message: console.print(escape(message)))
    except (OSError, ValueError) as exc:
        click.echo(f"vpsconform: error: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    if result.unknown:
        console.print(f"left: unknown ({escape(result.unknown)})")
        sys.exit(EXIT_ERROR)
    console.print(f"left {result.left}" + (f": {result.left_ids}" if result.left_ids else ""))
    sys.exit(EXIT_OK if not result.left else EXIT_NONCONFORMANT)


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
    from vpsconform.strength import ensure_recordable

    console = Console(highlight=False)
    root = report_dir or default_report_dir() / "selftest"
    try:
        cells = matrix.plan(only)
        if record:
            ensure_recordable()
        matrix.ensure_fresh(root)
    except ValueError as exc:  # an unknown cell name, --record outside a source checkout, a used folder
        click.echo(f"vpsconform: error: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    console.print(f"selftest: {len(cells)} runs, {jobs} at a time, seed {seed}, reports under {root}")

    def on_cell(cell: Any) -> None:
        if cell.kind == "fault":
            ok = cell.attributed
            note = f"caught ({cell.caught_by or '?'})" if cell.killed else "MISSED"
            if cell.killed and not cell.attributed:
                note = f"caught, not attributed (declared {', '.join(cell.declared)})"
        else:
            ok = not cell.false_alarm
            note = "passed" if ok else f"FALSE ALARM ({cell.verdict})"
        failed = ", ".join(cell.failed[:6]) + (" ..." if len(cell.failed) > 6 else "")
        safety = []
        if cell.foreign_touches:
            safety.append(f"TOUCHED CUSTOMER DATA x{cell.foreign_touches}")
        if cell.left_mismatch:
            safety.append(f"report says left {cell.left}, target holds {cell.held}")
        ok = ok and not safety
        mark = "[green]✓[/]" if ok else "[red]✗[/]"
        console.print(
            f"{mark} {cell.kind:8} {cell.name:32} {note:17} {cell.seconds:5.1f}s  [dim]{failed}[/]"
            + (f"  {escape(cell.problem)}" if cell.problem else "")
            + (f"  [red]{escape('; '.join(safety))}[/]" if safety else "")
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
        console.print(f"recorded in {matrix.record_strength(figures, wall)}")
    click.echo(matrix.summary_line(figures))
    sys.exit(EXIT_OK if matrix.perfect(figures) else EXIT_NONCONFORMANT)


main.add_command(report_command)
main.add_command(compare_command)
main.add_command(verify_command)
main.add_command(publish_command)
