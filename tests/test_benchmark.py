"""The production-time benchmark: fit, projection and serve parsing on synthetic numbers; one tiny run."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCHMARK = Path(__file__).resolve().parents[1] / "benchmarks" / "production_time.py"


def _load() -> ModuleType:
    """Import benchmarks/production_time.py (a script, not a package) as a module."""
    spec = importlib.util.spec_from_file_location("production_time", BENCHMARK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


bench = _load()

SERVE_OUTPUT = """\
VPS.org Snapshots API reference target at http://127.0.0.1:38795
  base path: http://127.0.0.1:38795/api/v1/snapshots/
  time scale: 0.02 (a documented minute lasts 1.2 s)
  variants: (none)
  faults: (none)
  account main:
    token: main-token
    server 12345 web-server-01: 25 GB, active, snapshot 3 min, restore 5 min
    server 12346 db-server-01: 50 GB, active, snapshot 5 min, restore 8 min
  account foreign:
    token: foreign-token
    server 23456 foreign-web-01: 25 GB, active, snapshot 3 min, restore 5 min
  data probe:
    write: /py -m vpsconform.reference.probe --url http://127.0.0.1:38795 write {server_id} {marker}
    read:  /py -m vpsconform.reference.probe --url http://127.0.0.1:38795 read {server_id}
"""


def test_two_points_give_the_exact_line() -> None:
    """Two scales: the line passes through both points."""
    fit = bench.fit_line([(0.005, 60.0 + 0.005 * 2000), (0.02, 60.0 + 0.02 * 2000)])
    assert fit.fixed_s == pytest.approx(60.0)
    assert fit.slope_s == pytest.approx(2000.0)
    assert fit.wall_at(1.0) == pytest.approx(2060.0)


def test_more_points_are_fitted_by_least_squares() -> None:
    """Noisy repeats: the fit is the least-squares line, and residuals sum to zero."""
    points = [(0.005, 69.0), (0.005, 71.0), (0.02, 99.0), (0.02, 101.0), (0.01, 80.0)]
    projection = bench.project("standard", points)
    assert projection.fit.points == 5
    assert projection.fit.slope_s == pytest.approx(2000.0, rel=0.02)
    assert sum(projection.residuals_s) == pytest.approx(0.0, abs=1e-9)


def test_one_scale_cannot_be_fitted() -> None:
    """Repeats at a single scale say nothing about the slope."""
    with pytest.raises(ValueError, match="two or more distinct scales"):
        bench.fit_line([(0.01, 50.0), (0.01, 52.0)])


def test_projection_against_the_chain_and_the_goals() -> None:
    """Minutes at scale 1, the ratio to the 35-minute chain, and each profile's goal."""
    standard = bench.project("standard", [(0.005, 40.0), (0.02, 70.0)])  # fixed 30 s, slope 2000 s
    assert standard.minutes == pytest.approx((30 + 2000) / 60)
    assert standard.chain_ratio == pytest.approx(standard.minutes / 35)
    assert standard.goal_minutes == 45 and standard.goal_met is True
    smoke = bench.project("smoke", [(0.005, 40.0), (0.02, 70.0)])
    assert smoke.goal_minutes == 3 and smoke.goal_met is False
    deep = bench.project("deep", [(0.005, 40.0), (0.02, 70.0)])
    assert deep.goal_met is None and "goal" not in bench.describe_projection(deep)


def test_serve_output_is_parsed_only_when_complete() -> None:
    """URL, tokens per account, server ids in order, probes; None before the read probe is printed."""
    lines = SERVE_OUTPUT.splitlines(keepends=True)
    assert bench.parse_serve(lines[:-1]) is None
    served = bench.parse_serve(lines)
    assert served.url == "http://127.0.0.1:38795"
    assert served.tokens == {"main": "main-token", "foreign": "foreign-token"}
    assert served.servers == {"main": ["12345", "12346"], "foreign": ["23456"]}
    assert served.probe_write.endswith("write {server_id} {marker}")
    assert served.probe_read.endswith("read {server_id}")


def test_judged_scope_comes_from_the_statement() -> None:
    """'judged N of M' when the report's scope statement has the numbers; nothing without a statement."""
    assert bench.judged_of({"scope": {"statement": "Judged 41 of 58 requirements; 17 skipped"}}) == (
        "judged 41 of 58"
    )
    assert bench.judged_of({"scope": {"statement": "everything"}}) == "everything"
    assert bench.judged_of({"verdict": "conformant"}) is None


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_tiny_benchmark_runs_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Smoke on two servers at two scales: two measured runs, one projection, no token in the output."""
    out = tmp_path / "bench.json"
    args = ["--profile", "smoke", "--servers", "2", "--scale", "0.005", "--scale", "0.01"]
    status = bench.main([*args, "--report-root", str(tmp_path / "reports"), "--json", str(out)])
    printed = capsys.readouterr().out
    numbers = json.loads(out.read_text())
    assert status == 0, printed
    assert [m["verdict"] for m in numbers["measurements"]] == ["conformant", "conformant"]
    assert len(numbers["projections"]) == 1 and "smoke" in printed and "35-min chain" in printed
    assert "token" not in out.read_text().lower() and "token:" not in printed
