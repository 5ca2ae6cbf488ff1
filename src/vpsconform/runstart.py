"""`vpsconform run` before its tests: every option and the report folder checked before anything starts, and
the report of a run interrupted before its tests began (the plugin reports an interrupt during them).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from vpsconform.catalog import load_requirements
from vpsconform.config import RunConfig, check_options
from vpsconform.interrupts import INTERRUPTS
from vpsconform.redaction import Redactor
from vpsconform.reporting import build_report, write_all
from vpsconform.verdicts import aggregate


class RunStart:
    """What is known of a run from its first moment: its report folder, then its configuration."""

    def __init__(self, flags: Mapping[str, Any]) -> None:
        self.flags = flags
        self.report_dir: Path | None = None
        self.config: RunConfig | None = None
        self.started_at = datetime.now(UTC).isoformat(timespec="seconds")
        self.started = time.monotonic()

    def check(self) -> bool:
        """Check the options and make the report folder (ConfigError: one line); True when a target is set.

        From here on the run has started: a signal stops it with a report instead of ending the command.
        """
        configured, self.report_dir = check_options(self.flags)
        INTERRUPTS.start()
        return configured

    def interrupted(self) -> int:
        """Report a run interrupted before its tests (unless it wrote its report already); the exit status."""
        with INTERRUPTS.held() as interrupts:
            reason = interrupts.reason or "interrupted"
            if self.report_dir is not None and not (self.report_dir / "report.json").exists():
                self._write(f"{reason} before the tests")
                click.echo(
                    f"vpsconform: {reason} before the tests; report (verdict error): "
                    f"{self.report_dir / 'report.json'}",
                    err=True,
                )
            else:
                click.echo(f"vpsconform: {reason}", err=True)
            return interrupts.exit_code or 130

    def _write(self, reason: str) -> None:
        """report.json and its renderings: every requirement unjudged, nothing created (no test ran)."""
        assert self.report_dir is not None
        config = self.config
        target = config.public_dict() if config else {"target": "unknown (interrupted while starting)"}
        report = build_report(
            aggregate(load_requirements(), (), f"not checked: the run was {reason}"),
            scope={"out_of_scope": {}},
            target=target,
            started_at=self.started_at,
            duration_s=time.monotonic() - self.started,
            cleanup={"created": 0, "deleted": 0, "left": 0},  # only tests create snapshots
            tests=[],
            measurements=[],
            reproduce=lambda selection: "",
            interrupted=reason,
        )
        write_all(report, self.report_dir, Redactor(config.secrets if config else {}))
