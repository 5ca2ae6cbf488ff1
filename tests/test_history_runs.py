"""End to end: the history of real runs, and the three faults a model of the whole history must see."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from vpsconform.reference.faults import FAULTS


def run(report_dir: Path, *options: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """`vpsconform run` on the embedded target: the finished process and its JSON report."""
    args = [sys.executable, "-m", "vpsconform", "run", "--report-dir", str(report_dir), *options]
    done = subprocess.run(args, capture_output=True, text=True, timeout=600, check=False)
    return done, json.loads((report_dir / "report.json").read_text())


def history(report_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (report_dir / "history.jsonl").read_text().splitlines()]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("fault", "selection"),
    [
        ("lifecycle-regresses-after-restore", "test_restore_lifecycle"),
        ("delete-neighbour", "test_delete_removes_exactly_that_snapshot"),
        ("notfound-create-invents-server", "test_create_on_a_server_that_does_not_exist"),
    ],
)
def test_the_model_fails_what_each_new_fault_breaks(fault: str, selection: str, tmp_path: Path) -> None:
    done, report = run(tmp_path, "--fault", fault, "--select", selection)
    assert done.returncode == 1, done.stdout[-2000:]
    entries = {entry["id"]: entry for entry in report["requirements"]}
    for requirement in FAULTS[fault].breaks:
        assert entries[requirement]["verdict"] == "fail"
        assert entries[requirement]["failed_by"] in ("model", "both")
        model = [f for f in entries[requirement]["findings"] if f["test"] == "(model)"]
        assert model and all(e["seq"] for f in model for e in f["evidence"])
    assert report["cleanup"]["left"] == 0


@pytest.mark.slow
def test_parallel_workers_write_one_history_in_answer_order_without_a_token(tmp_path: Path) -> None:
    selection = "test_delete_removes_exactly_that_snapshot or test_limit or test_list"
    done, report = run(tmp_path, "--jobs", "2", "--select", selection)
    assert done.returncode == 0, done.stdout[-2000:]
    records = history(tmp_path)
    assert [r["seq"] for r in records] == list(range(1, len(records) + 1))
    assert [r["t1"] for r in records] == sorted(r["t1"] for r in records)
    assert {r["ref"].split(":")[0] for r in records} >= {"main", "gw0", "gw1"}
    assert not (tmp_path / ".history").exists()
    text = (tmp_path / "history.jsonl").read_text()
    assert "Bearer ${VPSCONFORM_TOKEN}" in text and not re.search(r"Bearer [A-Za-z0-9_-]{32}", text)
    assert all(r.get("auth") is None or "${" in r["auth"] or r["auth"].startswith("<") for r in records)
    judged = [e for e in report["requirements"] if e.get("oracle") in ("model", "both")]
    assert judged and all(e["evidence"] for e in judged)
