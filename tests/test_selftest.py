"""The kill matrix: its bookkeeping (cells, figures, summary, published strength) and, slowly, the matrix."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from vpsconform import selftest, strength
from vpsconform.catalog import FUZZES, load_requirements, spec_hash
from vpsconform.reference.faults import FAULTS
from vpsconform.reference.variants import VARIANTS


def test_every_must_requirement_is_broken_by_some_fault() -> None:
    broken = {rid for fault in FAULTS.values() for rid in fault.breaks}
    musts = {rid for rid, req in load_requirements().items() if req.level == "MUST"}
    assert musts - broken == set()


def test_the_published_strength_counts_every_fault_and_variant() -> None:
    recorded = json.loads(strength.STRENGTH_FILE.read_text(encoding="utf-8"))
    cells = selftest.plan()
    assert recorded["faults"] == len(FAULTS), "run `vpsconform selftest --record`"
    assert recorded["variants"] == len(cells) - len(FAULTS) == len(VARIANTS) + 1


def test_current_strength_is_stale_when_the_spec_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    published = tmp_path / "strength.json"
    monkeypatch.setattr(strength, "STRENGTH_FILE", published)
    assert strength.current_strength() is None
    published.write_text(json.dumps({"summary": "s", "spec_hash": spec_hash()}))
    assert strength.current_strength() == {"summary": "s", "spec_hash": spec_hash(), "stale": False}
    published.write_text(json.dumps({"summary": "s", "spec_hash": "000000000000"}))
    assert strength.current_strength()["stale"] is True


def test_reading_the_strength_does_not_load_the_reference_target() -> None:
    code = (
        "import sys, vpsconform.strength as s; s.current_strength(); "
        "sys.exit(any(m.startswith('vpsconform.reference') for m in sys.modules))"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_record_writes_only_into_a_source_checkout(monkeypatch: pytest.MonkeyPatch) -> None:
    assert strength.source_checkout() == Path(__file__).resolve().parents[1]  # this editable checkout
    monkeypatch.setattr(strength, "source_checkout", lambda: None)
    with pytest.raises(strength.NotACheckout) as refused:
        selftest.record_strength(selftest.score([]), 1.0)
    assert "\n" not in str(refused.value) and "--record" in str(refused.value)


def test_plan_has_a_chaos_cell_and_plain_variants() -> None:
    kinds = {cell.name: cell.kind for cell in selftest.plan()}
    assert kinds["faithful"] == "faithful" and kinds["servers-api-429"] == "variant"
    assert kinds["flaky-network"] == "chaos" and kinds["lenient-ids"] == "fault"
    assert [c.keeps_snapshots for c in selftest.plan(["delete-noop", "lenient-ids"])] == [True, False]
    with pytest.raises(ValueError, match="unknown"):
        selftest.plan(["no-such-cell"])


def test_a_fault_cell_runs_the_areas_it_breaks_and_every_other_cell_runs_everything() -> None:
    cells = {cell.name: cell for cell in selftest.plan()}
    assert cells["data-no-overwrite"].select == "DATA-"
    assert cells["list-bare-array"].select == "LIST- or SCHEMA- or fuzzes"  # SCHEMA-01 is fuzzed as well
    assert cells["time-slow-create"].select is None  # a window: whichever test waits on a create sees it
    assert cells["robust-filter-500"].select is None  # any 5xx, whichever test provokes it
    # Where the defect shows beyond its requirements' areas: it regresses only after a restore.
    assert cells["lifecycle-regresses-after-restore"].select == "LIFECYCLE- or RESTORE-"
    assert all(cell.select is None for cell in cells.values() if cell.kind != "fault")
    for cell in cells.values():
        if cell.select is not None:  # every requirement the fault breaks is judged by the narrowed run
            shown = {f"{area}-" for area in FAULTS[cell.name].shows_in}
            assert {f"{rid.split('-')[0]}-" for rid in cell.declared} | shown == set(
                cell.select.split(" or ")
            ) - {FUZZES}


def _cell(kind: str, name: str, verdict: str, left: int | None = 0, **stats: int) -> selftest.Cell:
    """A finished cell with its target's counters (zero unless given)."""
    counters = {"foreign_restores": 0, "foreign_deletes": 0, "held_by_api": 0} | stats
    return selftest.Cell(kind, name, verdict=verdict, left=left, stats=counters)


def test_score_holds_every_cell_to_the_targets_counters() -> None:
    cells = [
        _cell("faithful", "faithful", "conformant"),
        _cell("variant", "servers-api-429", "incomplete"),  # a plain variant must be conformant
        _cell("chaos", "flaky-network", "incomplete"),  # chaos may leave requirements unjudged
        _cell("fault", "lenient-ids", "nonconformant", foreign_deletes=1),  # killed, but it touched data
        _cell("fault", "delete-noop", "nonconformant", left=3, held_by_api=3),
        _cell("fault", "tenant-list-leak", "nonconformant", left=1, held_by_api=2),
    ]
    cells[3].declared = ("NOTFOUND-04",)
    cells[3].failed = ["NOTFOUND-04"]
    cells[4].keeps_snapshots = True
    figures = selftest.score(cells)
    assert figures["falsely_failed"] == ["servers-api-429"]
    assert figures["foreign_touches"] == 1 and figures["touched_customer_data"] == ["lenient-ids"]
    assert figures["left"] == 1  # delete-noop keeps what it was asked to delete: not the suite's doing
    assert figures["left_mismatch"] == {"tenant-list-leak": {"left": 1, "held_by_api": 2}}
    assert selftest.summary_line(figures) == (
        "killed 3/3 attributed 3/3 false-alarms 1/3 foreign-touches 1 left 1"
    )
    assert not selftest.perfect(figures)


def test_a_chaos_cell_fails_when_nonconformant_untidy_or_unfinished() -> None:
    assert not _cell("chaos", "c", "incomplete").false_alarm
    assert _cell("chaos", "c", "nonconformant").false_alarm
    assert _cell("chaos", "c", "conformant", left=2, held_by_api=2).false_alarm
    hung = _cell("chaos", "c", "error", left=None)
    hung.problem = "no result within 600 s"
    assert hung.false_alarm and hung.left_mismatch


def test_a_perfect_matrix() -> None:
    cells = [_cell("faithful", "faithful", "conformant"), _cell("chaos", "flaky-network", "conformant")]
    fault = _cell("fault", "delete-noop", "nonconformant", left=2, held_by_api=2)
    fault.declared, fault.failed, fault.keeps_snapshots = ("DELETE-03",), ["DELETE-03"], True
    figures = selftest.score([*cells, fault])
    assert selftest.perfect(figures)
    assert selftest.summary_line(figures).endswith("false-alarms 0/2 foreign-touches 0 left 0")


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_cell_reads_its_report_and_its_targets_stats(tmp_path: Path) -> None:
    cell = selftest.run_matrix(
        selftest.plan(["lenient-ids"]), jobs=1, seed=1, profile="smoke", report_root=tmp_path
    )[0]
    assert cell.stats is not None and cell.stats["customer_snapshots"] == [1, 123, 1000], cell.problem
    assert cell.foreign_touches == 0
    assert (tmp_path / "fault-lenient-ids" / selftest.STATS_FILE_NAME).is_file()
    assert cell.select == "NOTFOUND-" and cell.killed and cell.attributed, (cell.verdict, cell.failed)
    report = json.loads((tmp_path / "fault-lenient-ids" / "report.json").read_text(encoding="utf-8"))
    left = {entry["id"]: entry["reason"] for entry in report["scope"]["out_of_scope"]}
    assert left["AUTH-01"].startswith("not selected")  # the narrowed run's other areas: out of scope, no miss
    assert not any(rid.startswith("NOTFOUND-") for rid in left)


@pytest.mark.slow
@pytest.mark.timeout(1800)  # ~90 runs: 25 of the whole suite, 65 narrowed to a fault's areas
def test_kill_matrix_is_perfect_and_the_published_strength_is_current(tmp_path: Path) -> None:
    jobs = int(os.environ.get("VPSCONFORM_SELFTEST_JOBS", "4"))
    cells = selftest.run_matrix(selftest.plan(), jobs=jobs, seed=1, profile="standard", report_root=tmp_path)
    figures = selftest.score(cells)
    problems = {
        c.name: (c.verdict, c.failed, c.problem, c.foreign_touches, c.left, c.held)
        for c in cells
        if (c.kind == "fault" and not c.attributed)
        or (c.kind != "fault" and c.false_alarm)
        or c.foreign_touches
        or c.left_mismatch
        or c.left_behind
    }
    assert selftest.perfect(figures), problems
    recorded = json.loads(strength.STRENGTH_FILE.read_text(encoding="utf-8"))
    assert recorded["summary"] == selftest.summary_line(figures), "run `vpsconform selftest --record`"
    assert not strength.current_strength()["stale"]
