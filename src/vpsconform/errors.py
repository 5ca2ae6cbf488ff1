"""Every exception the library raises on purpose, in one tree.

The tree says how a run treats each failure; the outcome code catches the base classes, never a list::

    VpsconformError
    ├── ConfigError        a configuration value is missing or malformed: one line, exit status 2
    ├── ReportError        a report.json is missing, unreadable or not a vpsconform report
    ├── NotACheckout       `--record` asked of an installed package
    ├── KeyProblem         a signing or verifying key file cannot be used
    ├── Stop               ends a command with a one-line message and an exit status
    ├── TargetProblem      the target is not the API the run can judge (a web page, 403 or 5xx to
    │                      everything, a clock other than --time-scale): the run stops with one line
    ├── UnsafeRequest      the interlock refused a request that could touch what the run did not create:
    │                      a defect of the suite, so the test's open requirements are ``error``
    ├── ObservationFailed  our observation failed, not the target: open requirements are ``inconclusive``
    │   ├── NoAnswer           a request got no answer (unreachable, connection lost, timeout)
    │   │   └── TargetSilent       nor did the check that followed a streak of them: the target stopped
    │   │                          answering, and the run gives up (verdict ``error``) instead of waiting on
    │   ├── ObservationError   a helper read (a listing, the servers API) could not be made or understood
    │   ├── ProbeError         a data probe command failed, timed out or printed nothing usable
    │   └── ReusedId           the interlock refused to name a deleted id that the target gave to another
    │                          snapshot: the target may reuse ids, so what the request was to observe is
    │                          unobserved (not a defect of the suite, hence not an UnsafeRequest)
    └── StopCheck          a ``stop=True`` check failed: what follows in the test cannot be evaluated

Outside the tree, a BaseException like pytest's own outcomes (control flow, not a failure)::

    Undecidable            ``check.undecidable(reason)`` in a test body: its undecided requirements are
                           ``inconclusive`` with the reason, and the test ends as if it had returned

The reference target's own exceptions (answers it gives, connections it drops) live in
``vpsconform.reference``: they belong to a test double, never to a run.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "KeyProblem",
    "NoAnswer",
    "NotACheckout",
    "ObservationError",
    "ObservationFailed",
    "ProbeError",
    "ReportError",
    "ReusedId",
    "Stop",
    "StopCheck",
    "TargetProblem",
    "TargetSilent",
    "Undecidable",
    "UnsafeRequest",
    "VpsconformError",
]


class VpsconformError(Exception):
    """Base of every exception vpsconform raises on purpose."""


class ConfigError(VpsconformError, ValueError):
    """A configuration value is missing or malformed; the message is one line meant for the user."""


class ReportError(VpsconformError, ValueError):
    """A report.json that is missing, unreadable or not a vpsconform report."""


class NotACheckout(VpsconformError, ValueError):
    """`--record` was asked of an installed package: the published figure lives in the source tree."""


class KeyProblem(VpsconformError, ValueError):
    """A key file that cannot be used; the message is one line naming the file."""


class TargetProblem(VpsconformError):
    """The target is not the API the run can judge (or no longer answers); the message is one line."""


class Stop(VpsconformError):
    """Ends the command with a one-line message and an exit status."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


class UnsafeRequest(VpsconformError, RuntimeError):
    """A request the interlock refused: it could touch something this run did not create."""


class ObservationFailed(VpsconformError, RuntimeError):
    """Our own observation failed: the event could not be seen either way.

    A test that lets it escape ends with its undecided requirements ``inconclusive`` and this reason; it is
    never a verdict on the target.
    """


class NoAnswer(ObservationFailed):
    """A request got no answer: the target could not be reached, the connection broke, or time ran out."""


class TargetSilent(NoAnswer):
    """The target stopped answering: the run gives up (verdict ``error``) instead of waiting on."""


class ObservationError(ObservationFailed):
    """A helper read (a listing, the servers API, a probe's meaning) could not be made or understood."""


class ProbeError(ObservationFailed):
    """A probe command failed, timed out or printed nothing usable."""


class ReusedId(ObservationFailed):
    """A snapshot id the run deleted now names something else (a provider may reuse ids), or could not be
    shown not to: the request was refused, and what it was to observe stays unobserved."""


class StopCheck(VpsconformError, AssertionError):
    """Raised by a check marked ``stop=True`` when what follows cannot be evaluated."""


class Undecidable(BaseException):
    """Raised by :meth:`Checker.undecidable` in a test body: the test ends as if it had returned, neither
    failed nor broken. A BaseException, like pytest's skip, so that no ``except Exception`` swallows it."""
