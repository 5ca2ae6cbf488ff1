"""What `vpsconform run` prints while it runs: a live status line on a terminal, timestamped lines in a log.

``--progress auto`` is ``rich`` on a terminal and ``plain`` elsewhere (CI logs are not terminals). Plain lines
start with the UTC time; the scope comes before the first test, each test gets one line, and while the run
waits a line at least every ``HEARTBEAT`` seconds says what it waits for, for how long so far and (in the
message) up to when. ``none`` prints nothing until the summary.
"""

from __future__ import annotations

import os
import threading
import time
from datetime import UTC, datetime
from types import TracebackType

from rich.console import Console
from rich.markup import escape

#: Longest silence of plain output, in seconds, while the run waits.
HEARTBEAT = 20.0
#: How each test outcome is shown: rich marks, and plain words.
MARKS = {
    "passed": "[green]✓[/]",
    "failed": "[red]✗[/]",
    "skipped": "[dim]-[/]",
    "error": "[magenta]![/]",
    "inconclusive": "[magenta]?[/]",
}
WORDS = {"passed": "passed", "failed": "FAILED", "skipped": "skipped", "error": "ERROR"}


class Progress:
    """Progress that shows nothing (``--progress none``); the other modes override what they show."""

    def __init__(self, console: Console) -> None:
        self.console = console

    def __enter__(self) -> Progress:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Begin showing progress."""

    def stop(self) -> None:
        """Stop showing progress (the summary follows)."""

    def status(self, message: str) -> None:
        """What the run does or waits for now (replaced by the next status)."""

    def say(self, message: str) -> None:
        """A line that must be seen."""

    def test(self, nodeid: str, outcome: str, requirements: list[str]) -> None:
        """One finished test."""


class RichProgress(Progress):
    """A live status line (a spinner) and one printed line per test, for terminals."""

    def __init__(self, console: Console) -> None:
        super().__init__(console)
        self._live = console.status("starting")

    def start(self) -> None:
        self._live.start()

    def stop(self) -> None:
        self._live.stop()

    def status(self, message: str) -> None:
        self._live.update(escape(message))

    def say(self, message: str) -> None:
        self.console.print(escape(message), soft_wrap=True)

    def test(self, nodeid: str, outcome: str, requirements: list[str]) -> None:
        name = escape(nodeid.split("::", 1)[-1])
        self.console.print(
            f"{MARKS.get(outcome, '?')} {name}  [dim]{' '.join(requirements)}[/]", soft_wrap=True
        )


class PlainProgress(Progress):
    """Timestamped lines, never rewritten, and a heartbeat while nothing else is printed, for logs."""

    def __init__(self, console: Console) -> None:
        super().__init__(console)
        self._lock = threading.Lock()
        now = time.monotonic()
        self._printed = now
        self._current = ("starting", now)
        self._done = threading.Event()
        self._beat = threading.Thread(target=self._heartbeat, name="vpsconform-heartbeat", daemon=True)

    def start(self) -> None:
        self._beat.start()

    def stop(self) -> None:
        self._done.set()
        self._beat.join(timeout=5)

    def _line(self, text: str) -> None:
        with self._lock:
            stamp = datetime.now(UTC).strftime("%H:%M:%SZ")
            self.console.print(f"{stamp} {text}", markup=False, highlight=False, soft_wrap=True)
            self._printed = time.monotonic()

    def _heartbeat(self) -> None:
        while not self._done.wait(1.0):
            with self._lock:
                quiet = time.monotonic() - self._printed
                message, since = self._current
            if quiet >= HEARTBEAT:
                self._line(f"... {message} ({time.monotonic() - since:.0f} s so far)")

    def status(self, message: str) -> None:
        with self._lock:
            self._current = (message, time.monotonic())

    def say(self, message: str) -> None:
        self._line(message)

    def test(self, nodeid: str, outcome: str, requirements: list[str]) -> None:
        word = WORDS.get(outcome, outcome)
        self._line(f"{word:12} {nodeid.split('::', 1)[-1]}  {' '.join(requirements)}")


def make_progress(mode: str, console: Console) -> Progress:
    """The progress display of ``--progress`` (``auto``: rich on a terminal, else plain).

    The console is pinned to the stream it writes to now: pytest's output capture, active while each test
    runs, would otherwise swallow what is printed then (a heartbeat during a long wait).
    """
    if mode == "auto":
        mode = "rich" if console.is_terminal else "plain"
    pin(console)
    return {"rich": RichProgress, "plain": PlainProgress}.get(mode, Progress)(console)


def pin(console: Console) -> None:
    """Point the console at a duplicate of its file descriptor, which no later redirection of it reaches."""
    stream = console.file
    try:
        descriptor = stream.fileno()
    except (AttributeError, OSError, ValueError):
        return  # not backed by a descriptor (a StringIO): nothing can redirect it
    encoding = getattr(stream, "encoding", None) or "utf-8"
    console.file = os.fdopen(os.dup(descriptor), "w", buffering=1, encoding=encoding, errors="replace")
