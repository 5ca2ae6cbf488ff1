"""The `vpsconform report`, `compare`, `verify` and `publish` commands (registered on the main group)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import NoReturn

import click

from vpsconform.errors import ReportError
from vpsconform.redaction import Redactor
from vpsconform.reporting.attestation import EXIT_INTACT, verify_folder
from vpsconform.reporting.compare import comparison, load_runs, render_compare
from vpsconform.reporting.files import REPORT_HTML, SUMMARY_MD, load_report, write_renderings
from vpsconform.reporting.publish import parse_names, publish_site

EXIT_OK, EXIT_REGRESSION, EXIT_USAGE = 0, 1, 2
#: Environment variables whose values never appear in a rendering (the default token variables).
TOKEN_VARIABLES = ("VPSCONFORM_TOKEN", "VPSCONFORM_FOREIGN_TOKEN")


def _fail(message: str) -> NoReturn:
    """End the command with one line on stderr and the usage exit status."""
    click.echo(f"vpsconform: error: {message}", err=True)
    sys.exit(EXIT_USAGE)


def _environment_redactor() -> Redactor:
    """A redactor for tokens this shell holds, should a report.json have been edited to include one."""
    return Redactor({os.environ[name]: name for name in TOKEN_VARIABLES if os.environ.get(name)})


@click.command("report")
@click.argument("report_dir", type=click.Path(path_type=Path))
def report_command(report_dir: Path) -> None:
    """Render report.html and summary.md again from REPORT_DIR/report.json."""
    try:
        report = load_report(report_dir)
    except ReportError as exc:
        _fail(str(exc))
    directory = report_dir if report_dir.is_dir() else report_dir.parent
    write_renderings(report, directory, _environment_redactor())
    click.echo(f"{directory / REPORT_HTML}\n{directory / SUMMARY_MD}")


@click.command("compare")
@click.argument("reports", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--label", "labels", multiple=True, help="Name of each run, in the order given (default: its target)."
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Where compare.html and compare.md go.",
)
def compare_command(reports: tuple[Path, ...], labels: tuple[str, ...], out: Path) -> None:
    """Compare two or more runs (report.json files or report folders); with two, exit 1 on a regression.

    With exactly two, the first is the baseline: regressions (pass or warn, now fail), fixes (fail, now pass
    or warn) and requirements no longer judged are listed, whatever the targets.
    """
    if len(reports) < 2:
        _fail("compare needs two or more reports")
    try:
        result = comparison(load_runs(reports, labels))
    except (ReportError, ValueError) as exc:
        _fail(str(exc))
    html, markdown = render_compare(result)
    redactor = _environment_redactor()
    out.mkdir(parents=True, exist_ok=True)
    (out / "compare.html").write_text(redactor.text(html), encoding="utf-8")
    (out / "compare.md").write_text(redactor.text(markdown), encoding="utf-8")
    click.echo(redactor.text(markdown), nl=False)
    regressed = result["changes"] is not None and bool(result["changes"]["regressions"])
    sys.exit(EXIT_REGRESSION if regressed else EXIT_OK)


@click.command("verify")
@click.argument("report_dir", required=False, type=click.Path(path_type=Path))
@click.option(
    "--key",
    type=click.Path(path_type=Path),
    help="PEM public key of the signer: the signature must verify with it (default: digests only).",
)
def verify_command(report_dir: Path | None, key: Path | None) -> None:
    """Check REPORT_DIR against its attestation.json: the signature (with --key), then every file's sha256.

    Exit 0 when intact, 1 with one line naming what changed (or that the signature does not verify with
    the key), 2 when the folder, its attestation or the key cannot be used.
    """
    if report_dir is None:
        _fail("verify needs a report folder: vpsconform verify DIR [--key PUB]")
    outcome = verify_folder(report_dir, key)
    if outcome.code == EXIT_INTACT:
        click.echo(outcome.line)
    else:
        click.echo(f"vpsconform: {'error: ' if outcome.code == EXIT_USAGE else ''}{outcome.line}", err=True)
    sys.exit(outcome.code)


@click.command("publish")
@click.argument("report_dirs", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder of the site (index.html, one folder per provider, one per run); required.",
)
@click.option(
    "--name",
    "names",
    multiple=True,
    metavar="DIR=NAME",
    help="Provider name of the report folder DIR (default: its target's host and port).",
)
def publish_command(report_dirs: tuple[Path, ...], out: Path | None, names: tuple[str, ...]) -> None:
    """Build a static, offline site from report folders: the provider x requirement matrix, every run.

    Folders whose files differ from their attestation are refused (exit 2), as is any unreadable one.
    """
    if out is None:
        _fail("publish needs --out SITE")
    try:
        index = publish_site(report_dirs, out, parse_names(names), _environment_redactor())
    except (ReportError, ValueError, OSError) as exc:
        _fail(str(exc))
    click.echo(index)
