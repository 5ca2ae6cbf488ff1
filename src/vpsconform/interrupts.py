"""SIGINT and SIGTERM during `vpsconform run`, from its first moment to its last: exit 130 or 143, never 1.

The first signal decides the exit status and the report's ``interrupted``. What it does depends on how far
the run got: before the run has started (options and report folder not yet checked) it waits for that
moment, so even a signal in the first second leaves a report (a second one ends the command at once, without
one); once started it raises :class:`Interrupted` (a KeyboardInterrupt, so pytest stops the tests and still
ends its session); while held (cleanup, report writing, shutting down) it is only recorded, so they finish.
Any later signal is only recorded too (kill -9, then `vpsconform cleanup`, abandons a run for good).

This module is imported before the CLI (it is the console script), so it imports nothing heavy.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

EXIT_BY_SIGNAL = {signal.SIGINT: 130, signal.SIGTERM: 143}


class Interrupted(KeyboardInterrupt):
    """Raised in the main thread by the first SIGINT or SIGTERM of a started run."""


class Interrupts:
    """The signals of one command: which came first, and whether the run may be stopped right now."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self.started = False  # the run has started: stop it (Interrupted) rather than end the command
        self.note: Callable[[str], None] = lambda message: print(f"vpsconform: {message}", file=sys.stderr)
        self._held = 0

    @property
    def reason(self) -> str | None:
        """``interrupted by SIGINT`` (or SIGTERM), or None while no signal came."""
        return None if self.signum is None else f"interrupted by {signal.Signals(self.signum).name}"

    @property
    def exit_code(self) -> int | None:
        """130 after SIGINT, 143 after SIGTERM, None while no signal came."""
        return None if self.signum is None else EXIT_BY_SIGNAL[signal.Signals(self.signum)]

    def handle(self, signum: int, frame: Any) -> None:
        """The signal handler (main thread)."""
        first = self.signum is None
        if first:
            self.signum = signum
        if self._held or (self.started and not first):
            self.note(f"{signal.Signals(signum).name} noted; the run finishes its cleanup and reports first")
            return
        if not self.started:  # the first is acted on once the run has started; a second ends it now
            if not first:
                self.note(f"{self.reason} before the run started; nothing was sent and no report written")
                sys.exit(self.exit_code)
            return
        raise Interrupted(self.reason)

    def start(self) -> None:
        """The run has started (its report folder exists): a signal that came before stops it now."""
        self.started = True
        if self.signum is not None:
            raise Interrupted(self.reason)

    @contextlib.contextmanager
    def catching(self) -> Iterator[Interrupts]:
        """Handle SIGINT and SIGTERM here (main thread only); what was installed before comes back after."""
        if threading.current_thread() is not threading.main_thread() or self.installed:
            yield self
            return
        self.signum, self._held = (
            None,
            0,
        )  # a fresh record for this command (tests run several in one process)
        previous = {sig: signal.signal(sig, self.handle) for sig in EXIT_BY_SIGNAL}
        try:
            yield self
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    @property
    def installed(self) -> bool:
        """True when this object handles SIGINT now."""
        return signal.getsignal(signal.SIGINT) == self.handle

    def finishing(self) -> None:
        """From now on the command is finishing (its report is written): a signal only is recorded."""
        self._held += 1

    @contextlib.contextmanager
    def held(self) -> Iterator[Interrupts]:
        """A signal arriving inside only is recorded (installing the handlers for the time if need be)."""
        with self.catching():
            self._held += 1
            try:
                yield self
            finally:
                self._held -= 1


#: The one record of the process's signals (the CLI, the runner and the plugin's cleanup share it).
INTERRUPTS = Interrupts()


def main() -> None:
    """The `vpsconform` console script: `run` catches signals from its first moment, then the CLI runs."""
    if sys.argv[1:2] == ["run"]:
        for sig in EXIT_BY_SIGNAL:
            if signal.getsignal(sig) is not signal.SIG_IGN:  # a background job's ignored SIGINT stays so
                signal.signal(sig, INTERRUPTS.handle)
    from vpsconform.cli import main as cli

    cli()
