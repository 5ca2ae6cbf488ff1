"""Findings and verdicts: what each test observed about each requirement, and the run's conclusion.

A test records findings through a :class:`Checker` (one per test). A finding against a MUST requirement
fails the test; a deviation from an interpretation is a warning and never does. :func:`aggregate` folds
every finding of the run into one verdict per catalog requirement.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterable, Iterator, Sequence
from enum import StrEnum
from typing import Any, NoReturn

import httpx

from vpsconform.catalog import Requirement
from vpsconform.client import EXCHANGE, Exchange
from vpsconform.errors import StopCheck, Undecidable


class Verdict(StrEnum):
    """A requirement's verdict, and a finding's outcome."""

    PASS = "pass"
    FAIL = "fail"
    WARN = "warn"
    SKIP = "skip"
    INCONCLUSIVE = "inconclusive"
    ERROR = "error"


#: When several findings speak of one requirement, the first of these present wins.
PRECEDENCE = (Verdict.FAIL, Verdict.ERROR, Verdict.WARN, Verdict.PASS, Verdict.INCONCLUSIVE, Verdict.SKIP)


@dataclasses.dataclass
class Finding:
    """One observation about one requirement by one test."""

    requirement: str
    verdict: Verdict
    message: str
    test: str
    evidence: list[Exchange] = dataclasses.field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form for reports."""
        return {
            "requirement": self.requirement,
            "verdict": self.verdict.value,
            "message": self.message,
            "test": self.test,
            "evidence": [exchange.to_dict() for exchange in self.evidence],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Finding:
        """Rebuild a finding from :meth:`to_dict` (how findings cross from parallel workers)."""
        evidence = [Exchange.from_dict(e) for e in data["evidence"]]
        return cls(data["requirement"], Verdict(data["verdict"]), data["message"], data["test"], evidence)


class Findings:
    """The run's findings, appended from any thread."""

    def __init__(self) -> None:
        self._items: list[Finding] = []
        self._lock = threading.Lock()

    def add(self, finding: Finding) -> None:
        """Record one finding."""
        with self._lock:
            self._items.append(finding)

    def __iter__(self) -> Iterator[Finding]:
        with self._lock:
            return iter(list(self._items))

    def for_test(self, test: str) -> list[Finding]:
        """The findings one test recorded."""
        return [f for f in self if f.test == test]


def status_matches(status: int, patterns: Iterable[int | str]) -> bool:
    """True when ``status`` is one of ``patterns`` (integers, or ``4xx``-style classes)."""
    for pattern in patterns:
        if isinstance(pattern, int) and status == pattern:
            return True
        if (
            isinstance(pattern, str)
            and len(pattern) == 3
            and pattern.endswith("xx")
            and str(status)[0] == pattern[0]
        ):
            return True
    return False


class Checker:
    """Records one test's findings against the catalog's requirements."""

    def __init__(
        self,
        catalog: dict[str, Requirement],
        test: str,
        findings: Findings,
        recent: list[Exchange] | None = None,
        *,
        declared: Sequence[str] = (),
    ) -> None:
        self.catalog = catalog
        self.test = test
        self.declared = tuple(declared)
        self._findings = findings
        # Shared with the plugin, which appends every exchange of the test as it happens.
        self.recent: list[Exchange] = recent if recent is not None else []

    def _requirement(self, requirement: str) -> Requirement:
        try:
            return self.catalog[requirement]
        except KeyError:
            raise KeyError(
                f"{self.test} checks {requirement!r}, which is not in spec/requirements.yaml"
            ) from None

    def _evidence(self, evidence: Exchange | httpx.Response | Sequence[Exchange] | None) -> list[Exchange]:
        if evidence is None:
            return self.recent[-3:]
        if isinstance(evidence, Exchange):
            return [evidence]
        if isinstance(evidence, httpx.Response):
            exchange = evidence.extensions.get(EXCHANGE)
            return [exchange] if exchange is not None else self.recent[-1:]
        return list(evidence)

    def record(
        self,
        requirement: str,
        verdict: Verdict,
        message: str,
        evidence: Exchange | httpx.Response | Sequence[Exchange] | None = None,
    ) -> None:
        """Record a finding as it is (no level logic)."""
        self._requirement(requirement)
        attached = self._evidence(evidence) if verdict in (Verdict.FAIL, Verdict.WARN, Verdict.ERROR) else []
        self._findings.add(Finding(requirement, verdict, message, self.test, attached))

    def that(
        self,
        requirement: str,
        ok: bool,
        message: str,
        *,
        evidence: Exchange | httpx.Response | Sequence[Exchange] | None = None,
        stop: bool = False,
    ) -> bool:
        """Pass, or fail (MUST) or warn (interpretation); ``stop`` ends the test on failure."""
        binding = self._requirement(requirement).binding
        if ok:
            self.record(requirement, Verdict.PASS, message)
            return True
        verdict = Verdict.FAIL if binding else Verdict.WARN
        self.record(requirement, verdict, message, evidence)
        if stop:
            raise StopCheck(f"{requirement}: {message}")
        return False

    def status(
        self,
        requirement: str,
        response: httpx.Response,
        what: str,
        *,
        expected: Sequence[int | str] | None = None,
        stop: bool = False,
    ) -> bool:
        """Check a response status against the requirement's ``accept`` (and ``warn``) outcomes."""
        entry = self._requirement(requirement)
        accept = expected if expected is not None else entry.accept
        if not accept:
            raise ValueError(f"{requirement} declares no accepted statuses; pass expected=")
        code = response.status_code
        message = f"{what}: got {code}, expected {' or '.join(str(a) for a in accept)}"
        if status_matches(code, accept):
            self.record(requirement, Verdict.PASS, message)
            return True
        if entry.warn and status_matches(code, entry.warn):
            self.record(requirement, Verdict.WARN, message + " (tolerated)", response)
            return False
        return self.that(requirement, False, message, evidence=response, stop=stop)

    def warn(self, requirement: str, message: str, evidence: Any = None) -> None:
        """Record a tolerated deviation."""
        self.record(requirement, Verdict.WARN, message, evidence)

    def inconclusive(self, requirement: str, reason: str) -> None:
        """Record that the requirement could not be decided here, and why."""
        self.record(requirement, Verdict.INCONCLUSIVE, reason)

    def inconclusive_all(self, requirements: Iterable[str], reason: str) -> None:
        """Record that none of these requirements could be decided here, and why."""
        for requirement in requirements:
            self.inconclusive(requirement, reason)

    def undecidable(self, reason: str, requirements: Iterable[str] | None = None) -> NoReturn:
        """End the test here: the target leaves no room to decide ``requirements`` (by default, every
        declared requirement the test has not judged yet), which are recorded inconclusive with the reason."""
        if requirements is None:
            judged = {f.requirement for f in self._findings.for_test(self.test)}
            requirements = [rid for rid in self.declared if rid not in judged]
        self.inconclusive_all(requirements, reason)
        raise Undecidable(reason)

    def failures(self) -> list[Finding]:
        """This test's failed findings so far."""
        return [f for f in self._findings.for_test(self.test) if f.verdict is Verdict.FAIL]


@dataclasses.dataclass
class RequirementResult:
    """The verdict of one catalog requirement and what it rests on."""

    requirement: Requirement
    verdict: Verdict
    message: str
    tests: list[str]
    findings: list[Finding]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form for reports: decisive findings carry their evidence."""
        decisive = [f for f in self.findings if f.verdict is self.verdict]
        return {
            "id": self.requirement.id,
            "title": self.requirement.title,
            "level": self.requirement.level,
            "verdict": self.verdict.value,
            "message": self.message,
            "tests": self.tests,
            "findings": [f.to_dict() for f in decisive[:5]],
            "counts": {
                v.value: sum(f.verdict is v for f in self.findings) for v in Verdict if v is not Verdict.SKIP
            },
        }


def aggregate(
    catalog: dict[str, Requirement], findings: Iterable[Finding], not_run_reason: str
) -> list[RequirementResult]:
    """One result per catalog requirement, in catalog order; requirements nobody checked are skipped."""
    by_requirement: dict[str, list[Finding]] = {rid: [] for rid in catalog}
    for finding in findings:
        by_requirement.setdefault(finding.requirement, []).append(finding)
    results = []
    for rid, requirement in catalog.items():
        found = by_requirement[rid]
        if not found:
            results.append(RequirementResult(requirement, Verdict.SKIP, not_run_reason, [], []))
            continue
        verdict = next(v for v in PRECEDENCE if any(f.verdict is v for f in found))
        decisive = [f for f in found if f.verdict is verdict]
        messages = list(dict.fromkeys(f.message for f in decisive))
        message = "; ".join(messages[:3]) + (f" (+{len(messages) - 3} more)" if len(messages) > 3 else "")
        tests = list(dict.fromkeys(f.test for f in found))
        results.append(RequirementResult(requirement, verdict, message, tests, found))
    return results
