"""The kill matrix: the suite against the faithful target, every faithful variant, chaos mode and fault.

Each cell is a real `vpsconform run` in its own process against its own embedded target, so cells run in
parallel and cannot disturb one another. The faithful, variant and chaos cells run the whole suite; a fault's
cell runs only the tests of the areas its fault breaks (``--select "DELETE-"``), and the generated-request
tests when one of them has a ``fuzz`` key, since only a failure of a requirement it breaks can attribute it.
The tests left out are out of the narrowed run's scope, never misses. A fault breaking a requirement judged
run-wide (any 5xx, the documented windows), which any test may observe, runs the whole suite. A fault is
*killed* when the run is nonconformant, and *attributed* when the failed requirements include every
requirement the fault declares it breaks. A variant (or the plain faithful target) is a *false alarm* unless
its run is conformant; a chaos mode (lost connections, reused ids) is one when its run is nonconformant,
leaves snapshots behind or does not finish.

Whatever the verdict, every cell is also held to what the target counted (its stats file): no restore or
delete may reach customer data the run was never given, and the report's `cleanup.left` must equal the
API-created snapshots the target still holds (both zero unless the fault keeps deleted snapshots).
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from vpsconform import __version__, strength
from vpsconform.catalog import FUZZES, Requirement, load_requirements, spec_hash
from vpsconform.embedded import STATS_ENV
from vpsconform.reference.faults import FAULTS
from vpsconform.reference.variants import VARIANTS
from vpsconform.reporting.model import area_of

CELL_TIMEOUT = 600
STATS_FILE_NAME = "target-stats.json"


@dataclasses.dataclass
class Cell:
    """One run of the matrix and what came of it."""

    kind: str  # "faithful", "variant", "chaos" or "fault"
    name: str
    declared: tuple[str, ...] = ()
    keeps_snapshots: bool = False  # the fault keeps deleted snapshots: leftovers are not the suite's doing
    select: str | None = None  # the run's --select: a fault cell's areas (None: the whole suite)
    verdict: str = "error"
    failed: list[str] = dataclasses.field(default_factory=list)
    seconds: float = 0.0
    problem: str = ""
    left: int | None = None  # the report's cleanup.left (None: no report or not measured)
    caught_by: str = ""  # the oracle that failed the declared requirements: scenario, model or both
    stats: dict[str, Any] | None = None  # the target's counters (None: the target wrote none)

    @property
    def killed(self) -> bool:
        """A fault's run was judged nonconformant."""
        return self.verdict == "nonconformant"

    @property
    def attributed(self) -> bool:
        """A fault's run failed every requirement the fault declares."""
        return self.killed and set(self.declared) <= set(self.failed)

    @property
    def false_alarm(self) -> bool:
        """A faithful run judged anything but conformant; a chaos run nonconformant, unfinished or untidy."""
        if self.kind == "chaos":
            return bool(self.problem) or self.verdict == "nonconformant" or self.left != 0
        return self.verdict != "conformant"

    @property
    def foreign_touches(self) -> int:
        """Restores and deletes the target saw reach customer snapshots (never given to the run)."""
        if self.stats is None:
            return 0
        return int(self.stats.get("foreign_restores", 0)) + int(self.stats.get("foreign_deletes", 0))

    @property
    def held(self) -> int | None:
        """API-created snapshots the target still held when it stopped."""
        return None if self.stats is None else self.stats.get("held_by_api")

    @property
    def left_mismatch(self) -> bool:
        """The report's left is unknown or differs from what the target holds.

        Where the fault keeps listing deleted snapshots, the report may count more than the target holds,
        never fewer.
        """
        if self.left is None or self.held is None:
            return True
        return self.left < self.held if self.keeps_snapshots else self.left != self.held

    @property
    def left_behind(self) -> int:
        """Snapshots the run left although the target deletes faithfully."""
        return 0 if self.keeps_snapshots else (self.left or 0)


def _read_json(path: Path) -> dict[str, Any] | None:
    """A JSON object from `path`, or None when it is missing or unreadable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def ensure_fresh(root: Path) -> None:
    """Refuse a report folder holding an earlier selftest's runs: each cell's run would refuse its folder."""
    used = sorted(cell.parent.name for cell in root.glob("*/ledger.jsonl"))
    if used:
        raise ValueError(f"--report-dir {root} already holds selftest runs ({used[0]}): give a new folder")


def _run_cell(cell: Cell, report_dir: Path, seed: int, profile: str) -> Cell:
    """Run one cell's `vpsconform run` and read its report and its target's stats."""
    flag = {"fault": ["--fault", cell.name], "faithful": []}.get(cell.kind, ["--variant", cell.name])
    args = [sys.executable, "-m", "vpsconform", "run", *flag]
    args += ["--select", cell.select] if cell.select else []
    args += ["--report-dir", str(report_dir), "--seed", str(seed), "--profile", profile]
    stats_file = report_dir / STATS_FILE_NAME
    stats_file.unlink(missing_ok=True)
    env = os.environ | {STATS_ENV: str(stats_file)}
    started = time.monotonic()
    try:
        done = subprocess.run(
            args, capture_output=True, text=True, timeout=CELL_TIMEOUT, check=False, env=env
        )
    except subprocess.TimeoutExpired:
        cell.problem = f"no result within {CELL_TIMEOUT} s"
        cell.seconds = time.monotonic() - started
        cell.stats = _read_json(stats_file)
        return cell
    cell.seconds = time.monotonic() - started
    cell.stats = _read_json(stats_file)
    if cell.stats is None:
        cell.problem = "the target wrote no stats"
    report = _read_json(report_dir / "report.json")
    if report is None:
        tail = (done.stderr or done.stdout).strip().splitlines()
        cell.problem = tail[-1] if tail else f"exit {done.returncode}, no report"
        return cell
    cell.verdict = report["verdict"]
    cell.failed = [r["id"] for r in report["requirements"] if r["verdict"] == "fail"]
    cell.caught_by = caught_by(report, cell.declared)
    left = (report.get("cleanup") or {}).get("left")
    cell.left = left if isinstance(left, int) and not isinstance(left, bool) else None
    return cell


def areas_selection(
    breaks: Iterable[str], catalog: Mapping[str, Requirement], shows_in: Iterable[str] = ()
) -> str | None:
    """The --select of a fault's cell: the areas of the requirements it breaks (``"DATA- or TIME-"``) and
    those it shows in, or None (the whole suite) when one of them is judged run-wide, by whichever test
    observes it."""
    if any(catalog[rid].judges for rid in breaks):
        return None
    chosen = [f"{area}-" for area in sorted({area_of(rid) for rid in breaks} | set(shows_in))]
    if any(catalog[rid].fuzz for rid in breaks):  # judged by the generated requests as well
        chosen.append(FUZZES)
    return " or ".join(chosen)


def caught_by(report: dict[str, Any], declared: Iterable[str]) -> str:
    """Which oracle failed the declared requirements: ``scenario``, ``model`` or ``both`` (empty: none)."""
    labels = {r.get("failed_by") for r in report["requirements"] if r["id"] in set(declared)} - {None}
    oracles = {part for label in labels for part in (("scenario", "model") if label == "both" else (label,))}
    return "both" if len(oracles) > 1 else next(iter(oracles), "")


def plan(only: Iterable[str] = ()) -> list[Cell]:
    """The cells: the faithful target, each variant and chaos mode, each fault (or those in ``only``)."""
    wanted = set(only)
    catalog = load_requirements()
    cells = [Cell("faithful", "faithful")]
    cells += [Cell("chaos" if v.chaos else "variant", name) for name, v in sorted(VARIANTS.items())]
    cells += [
        Cell("fault", name, f.breaks, f.keeps_snapshots, areas_selection(f.breaks, catalog, f.shows_in))
        for name, f in sorted(FAULTS.items())
    ]
    unknown = wanted - {c.name for c in cells}
    if unknown:
        raise ValueError(f"unknown fault or variant: {', '.join(sorted(unknown))}")
    return [c for c in cells if not wanted or c.name in wanted]


def run_matrix(
    cells: list[Cell],
    *,
    jobs: int,
    seed: int,
    profile: str,
    report_root: Path,
    on_cell: Callable[[Cell], None] = lambda cell: None,
) -> list[Cell]:
    """Run every cell, ``jobs`` at a time; ``on_cell`` hears of each as it finishes."""

    def work(cell: Cell) -> Cell:
        result = _run_cell(cell, report_root / f"{cell.kind}-{cell.name}", seed, profile)
        on_cell(result)
        return result

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(work, cells))


def score(cells: list[Cell]) -> dict[str, Any]:
    """The figures of the matrix: killed, attributed, false alarms, foreign touches and leftovers."""
    faults = [c for c in cells if c.kind == "fault"]
    faithful = [c for c in cells if c.kind != "fault"]
    slowest = max(cells, key=lambda c: c.seconds, default=None)
    return {
        "faults": len(faults),
        "killed": sum(c.killed for c in faults),
        "attributed": sum(c.attributed for c in faults),
        "variants": len(faithful),
        "false_alarms": sum(c.false_alarm for c in faithful),
        "foreign_touches": sum(c.foreign_touches for c in cells),
        "left": sum(c.left_behind for c in cells),
        "missed": [c.name for c in faults if not c.killed],
        "unattributed": [c.name for c in faults if c.killed and not c.attributed],
        "falsely_failed": [c.name for c in faithful if c.false_alarm],
        "touched_customer_data": [c.name for c in cells if c.foreign_touches],
        "left_mismatch": {c.name: {"left": c.left, "held_by_api": c.held} for c in cells if c.left_mismatch},
        "slowest": {"name": slowest.name, "seconds": round(slowest.seconds, 1)} if slowest else None,
    }


def summary_line(figures: dict[str, Any]) -> str:
    """`killed K/F attributed A/F false-alarms X/V foreign-touches T left L`."""
    f, v = figures["faults"], figures["variants"]
    return (
        f"killed {figures['killed']}/{f} attributed {figures['attributed']}/{f} "
        f"false-alarms {figures['false_alarms']}/{v} "
        f"foreign-touches {figures['foreign_touches']} left {figures['left']}"
    )


def perfect(figures: dict[str, Any]) -> bool:
    """Every fault killed and attributed, no false alarm, no customer data touched, nothing left over."""
    caught = figures["killed"] == figures["attributed"] == figures["faults"]
    clean = figures["foreign_touches"] == 0 and figures["left"] == 0 and not figures["left_mismatch"]
    return caught and figures["false_alarms"] == 0 and clean


def strength_record(figures: dict[str, Any], wall_seconds: float) -> dict[str, Any]:
    """What a normal run's report carries under suite.strength."""
    return {
        "summary": summary_line(figures),
        "faults": figures["faults"],
        "killed": figures["killed"],
        "attributed": figures["attributed"],
        "variants": figures["variants"],
        "false_alarms": figures["false_alarms"],
        "suite_version": __version__,
        "spec_hash": spec_hash(),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "wall_seconds": round(wall_seconds, 1),
    }


def record_strength(figures: dict[str, Any], wall_seconds: float) -> Path:
    """Publish the score in the source checkout's strength.json; strength.NotACheckout when installed."""
    return strength.publish(strength_record(figures, wall_seconds))
