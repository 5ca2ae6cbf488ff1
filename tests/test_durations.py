"""Where a run's time went: requirement times, the slowest tests, the longest wait chain."""

from __future__ import annotations

from vpsconform.reporting.durations import SLOWEST, add_durations, requirement_seconds, timing_section

TESTS = [
    {"test": "t::auth", "requirements": ["AUTH-01"], "duration_s": 0.5, "waits_minutes": 0.0},
    {
        "test": "t::restore",
        "requirements": ["RESTORE-01", "TIME-02"],
        "duration_s": 9.0,
        "waits_minutes": 40.0,
    },
    {
        "test": "t::create",
        "requirements": ["CREATE-01", "TIME-02"],
        "duration_s": 12.0,
        "waits_minutes": 15.0,
    },
    {"test": "t::old", "requirements": ["LIST-01"]},  # a report from before durations were recorded
]


def test_requirement_time_sums_its_judging_tests_and_says_none_without_data() -> None:
    assert requirement_seconds(["t::restore", "t::create"], TESTS) == 21.0
    assert requirement_seconds(["t::old"], TESTS) is None
    assert requirement_seconds(["(session)"], TESTS) is None


def test_timing_puts_the_wall_time_beside_the_longest_documented_chain() -> None:
    timing = timing_section(TESTS, wall_s=14.25, time_scale=0.01)
    assert (timing["wall_s"], timing["tests_s"], timing["timed_tests"]) == (14.25, 21.5, 3)
    assert [t["test"] for t in timing["slowest"]] == ["t::create", "t::restore", "t::auth"]
    chain = timing["longest_chain"]
    assert chain["test"] == "t::restore" and chain["waits_minutes"] == 40.0 and chain["duration_s"] == 9.0
    assert chain["documented_s"] == 24.0  # 40 production minutes on a clock 100 times faster
    many = [{"test": f"t::{n}", "duration_s": float(n)} for n in range(SLOWEST + 5)]
    assert len(timing_section(many, 1.0, 1.0)["slowest"]) == SLOWEST
    assert timing_section(many, 1.0, 1.0)["longest_chain"] is None


def test_add_durations_fills_each_requirement_and_the_timing_section() -> None:
    report = {
        "duration_s": 14.25,
        "target": {"time_scale": 0.01},
        "tests": TESTS,
        "requirements": [
            {"id": "TIME-02", "tests": ["t::restore", "t::create"]},
            {"id": "X-01", "tests": []},
        ],
    }
    add_durations(report)
    assert [e["time_s"] for e in report["requirements"]] == [21.0, None]
    assert report["timing"]["longest_chain"]["documented_s"] == 24.0
