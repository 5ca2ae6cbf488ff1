"""Where a run's time went: each requirement's test time, the slowest tests, and the longest wait chain.

Test durations are pytest's (setup, call and teardown together), recorded by the plugin per test. A test
that judges several requirements counts toward each of them, so requirement times overlap.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

#: How many of the slowest tests report.json and report.html list.
SLOWEST = 10


def _seconds(test: dict[str, Any]) -> float:
    return float(test.get("duration_s") or 0.0)


def requirement_seconds(judged_by: Iterable[str], tests: list[dict[str, Any]]) -> float | None:
    """The time of the tests that judged a requirement (None when no judging test has a duration)."""
    timed = {t["test"]: _seconds(t) for t in tests if "duration_s" in t}
    found = [timed[name] for name in judged_by if name in timed]
    return round(sum(found), 3) if found else None


def timing_section(tests: list[dict[str, Any]], wall_s: float, time_scale: float) -> dict[str, Any]:
    """The run's wall time beside its test time, its slowest tests, and the longest documented wait chain.

    The chain is the test whose documented waits (``@pytest.mark.waits``, production minutes) are longest:
    no schedule can finish the run before it, so it is what a parallel run waits for at least.
    """
    timed = [t for t in tests if "duration_s" in t]
    slowest = sorted(timed, key=_seconds, reverse=True)[:SLOWEST]
    chained = [t for t in timed if t.get("waits_minutes")]
    chain = max(chained, key=lambda t: float(t["waits_minutes"]), default=None)
    return {
        "wall_s": round(wall_s, 2),
        "tests_s": round(sum(_seconds(t) for t in timed), 2),
        "timed_tests": len(timed),
        "slowest": [_brief(t) for t in slowest],
        "longest_chain": None
        if chain is None
        else {
            **_brief(chain),
            "waits_minutes": chain["waits_minutes"],
            "documented_s": round(float(chain["waits_minutes"]) * 60 * time_scale, 2),
        },
    }


def _brief(test: dict[str, Any]) -> dict[str, Any]:
    return {"test": test["test"], "duration_s": _seconds(test), "requirements": test.get("requirements", [])}


def add_durations(report: dict[str, Any]) -> dict[str, Any]:
    """``report`` with each requirement's ``time_s`` and the run's ``timing`` section filled in."""
    tests = report.get("tests") or []
    for entry in report["requirements"]:
        entry["time_s"] = requirement_seconds(entry.get("tests") or [], tests)
    scale = float(report.get("target", {}).get("time_scale") or 1.0)
    report["timing"] = timing_section(tests, float(report.get("duration_s") or 0.0), scale)
    return report
