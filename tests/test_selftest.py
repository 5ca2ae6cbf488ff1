"""The kill matrix: every fault caught and attributed, every faithful variant passed — on every CI run."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from vpsconform import selftest
from vpsconform.catalog import load_requirements
from vpsconform.reference.faults import FAULTS


def test_every_must_requirement_is_broken_by_some_fault() -> None:
    broken = {rid for fault in FAULTS.values() for rid in fault.breaks}
    musts = {rid for rid, req in load_requirements().items() if req.level == "MUST"}
    assert musts - broken == set()


@pytest.mark.timeout(1800)  # ~80 full runs of the suite; ~6-7 min on 2 cores
def test_kill_matrix_is_perfect_and_the_published_strength_is_current(tmp_path: Path) -> None:
    jobs = int(os.environ.get("VPSCONFORM_SELFTEST_JOBS", "4"))
    cells = selftest.run_matrix(selftest.plan(), jobs=jobs, seed=1, profile="standard", report_root=tmp_path)
    figures = selftest.score(cells)
    problems = {
        c.name: (c.verdict, c.failed, c.problem)
        for c in cells
        if (c.kind == "fault" and not c.attributed) or (c.kind != "fault" and c.false_alarm)
    }
    assert selftest.perfect(figures), problems
    recorded = json.loads(selftest.STRENGTH_FILE.read_text())
    assert recorded["summary"] == selftest.summary_line(figures), "run `vpsconform selftest --record`"
    assert not selftest.current_strength()["stale"]
