"""Whether the target still answers: unanswered attempts in a row, one check, then giving up.

Every attempt of the run's clients reports here. A streak of attempts that got no answer at all (timeouts,
refused or dropped connections, nothing answered in between) is checked with one plain list request under a
short timeout: an answer means only those requests were lost (a target may never answer some malformed
body), silence means the target stopped answering. From then on requests fail at once with TargetSilent, so
the run ends as ``error`` within seconds instead of waiting out every timeout and retry; the cleanup may try
once more (:meth:`Liveness.retry_once`), and any answer makes the target alive again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from vpsconform.errors import TargetSilent

#: A streak is checked once it spans this many seconds (from its first attempt) or this many attempts.
CHECK_AFTER_SECONDS = 10.0
CHECK_AFTER_ATTEMPTS = 3
#: Seconds the check waits for its answer (at most the run's request timeout).
CHECK_TIMEOUT = 10.0
#: A generated request, or one whose body is deliberately not JSON, waits this many times the slowest answer
#: seen, and at least ANSWER_FLOOR seconds (never longer than --request-timeout): a target that never
#: answers some malformed bodies (Prism hangs on invalid JSON) costs seconds per request, not the timeout.
ANSWER_FACTOR = 10
ANSWER_FLOOR = 2.0


class Liveness:
    """Unanswered attempts in a row across the run's clients, the slowest answer seen, and the verdict;
    also where the clients say what they wait for."""

    def __init__(self, notify: Callable[[str], None] = lambda message: None) -> None:
        self._lock = threading.Lock()
        self._notify = notify
        self._streak = 0
        self._since: float | None = None
        self._retry = False
        self.gone: str | None = None
        self.slowest = 0.0

    def notify(self, message: str) -> None:
        """Say what a client waits for (a 429's pause), on the run's progress line."""
        self._notify(message)

    def answered(self, elapsed: float) -> None:
        """An attempt got an answer (any status): the streak ends and the target is alive."""
        with self._lock:
            self._streak, self._since, self.gone = 0, None, None
            self.slowest = max(self.slowest, elapsed)

    def lost(self, sent_at: float, where: str) -> bool:
        """Count an attempt that got no answer; True when the streak is long enough to check the target."""
        with self._lock:
            self._streak += 1
            self._since = sent_at if self._since is None else min(self._since, sent_at)
            silent = time.monotonic() - self._since
            due = self._streak >= CHECK_AFTER_ATTEMPTS or silent >= CHECK_AFTER_SECONDS
        if due:
            self._notify(
                f"no answer from the target for {silent:.0f} s ({where}): checking it is still there"
            )
        return due

    def give_up(self, where: str, error: BaseException) -> TargetSilent:
        """The check got no answer either: the target is gone; the error to raise."""
        with self._lock:
            silent = time.monotonic() - (self._since or time.monotonic())
            self.gone = (
                f"the target stopped answering: {where} got no answer ({error.__class__.__name__}, "
                f"{self._streak} attempt(s) in a row over {silent:.0f} s), nor did a list sent to check"
            )
            return TargetSilent(self.gone)

    def admit(self) -> None:
        """Before an attempt: raise TargetSilent at once while the target is gone (bar one allowed retry)."""
        with self._lock:
            if self.gone is None:
                return
            if self._retry:
                self._retry = False
                return
            raise TargetSilent(self.gone)

    def retry_once(self) -> None:
        """Let the next attempt through although the target is gone (the cleanup's: it may be back)."""
        with self._lock:
            self._retry = self.gone is not None

    def answer_timeout(self, request_timeout: float) -> float:
        """Seconds a generated or deliberately malformed request waits for its answer (see ANSWER_FACTOR)."""
        return min(request_timeout, max(ANSWER_FLOOR, ANSWER_FACTOR * self.slowest))

    @staticmethod
    def short_timeout(default: float) -> float:
        """The timeout of the check, and of attempts while the target is gone."""
        return min(default, CHECK_TIMEOUT)
