"""The kill matrix: the suite against the faithful target, every faithful variant and every injected fault.

Each cell is a real `vpsconform run` in its own process against its own embedded target, so cells run in
parallel and cannot disturb one another. A fault is *killed* when the run is nonconformant, and
*attributed* when the failed requirements include every requirement the fault declares it breaks. A variant
(or the plain faithful target) is a *false alarm* when its run is anything but conformant.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from vpsconform import __version__
from vpsconform.catalog import spec_hash
from vpsconform.reference.faults import FAULTS
from vpsconform.reference.variants import VARIANTS

STRENGTH_FILE = Path(__file__).with_name("strength.json")
CELL_TIMEOUT = 600


@dataclasses.dataclass
class Cell:
    """One run of the matrix and what came of it."""

    kind: str  # "faithful", "variant" or "fault"
    name: str
    declared: tuple[str, ...] = ()
    verdict: str = "error"
    exit_code: int | None = None
    failed: list[str] = dataclasses.field(default_factory=list)
    seconds: float = 0.0
    problem: str = ""

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
        """A faithful run was judged anything but conformant."""
        return self.verdict != "conformant"


def _run_cell(cell: Cell, report_dir: Path, seed: int, profile: str) -> Cell:
    flag = {"fault": ["--fault", cell.name], "variant": ["--variant", cell.name], "faithful": []}[cell.kind]
    args = [
        sys.executable,
        "-m",
        "vpsconform",
        "run",
        *flag,
        "--report-dir",
        str(report_dir),
        "--seed",
        str(seed),
        "--profile",
        profile,
    ]
    started = time.monotonic()
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=CELL_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        cell.problem = f"no result within {CELL_TIMEOUT} s"
        return cell
    cell.seconds = time.monotonic() - started
    cell.exit_code = done.returncode
    report_file = report_dir / "report.json"
    if not report_file.is_file():
        tail = (done.stderr or done.stdout).strip().splitlines()
        cell.problem = tail[-1] if tail else f"exit {done.returncode}, no report"
        return cell
    report = json.loads(report_file.read_text(encoding="utf-8"))
    cell.verdict = report["verdict"]
    cell.failed = [r["id"] for r in report["requirements"] if r["verdict"] == "fail"]
    return cell


def plan(only: Iterable[str] = ()) -> list[Cell]:
    """The cells to run: the faithful target, each variant, each fault (or just those named in ``only``)."""
    wanted = set(only)
    cells = [Cell("faithful", "faithful")]
    cells += [Cell("variant", name) for name in sorted(VARIANTS)]
    cells += [Cell("fault", name, tuple(fault.breaks)) for name, fault in sorted(FAULTS.items())]
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
    """The figures of the matrix: killed, attributed and false alarms, with the slowest cell."""
    faults = [c for c in cells if c.kind == "fault"]
    faithful = [c for c in cells if c.kind != "fault"]
    slowest = max(cells, key=lambda c: c.seconds, default=None)
    return {
        "faults": len(faults),
        "killed": sum(c.killed for c in faults),
        "attributed": sum(c.attributed for c in faults),
        "variants": len(faithful),
        "false_alarms": sum(c.false_alarm for c in faithful),
        "missed": [c.name for c in faults if not c.killed],
        "unattributed": [c.name for c in faults if c.killed and not c.attributed],
        "falsely_failed": [c.name for c in faithful if c.false_alarm],
        "slowest": {"name": slowest.name, "seconds": round(slowest.seconds, 1)} if slowest else None,
    }


def summary_line(figures: dict[str, Any]) -> str:
    """`killed K/F attributed A/F false-alarms X/V`."""
    f, v = figures["faults"], figures["variants"]
    return (
        f"killed {figures['killed']}/{f} attributed {figures['attributed']}/{f} "
        f"false-alarms {figures['false_alarms']}/{v}"
    )


def perfect(figures: dict[str, Any]) -> bool:
    """Every fault killed and attributed, no false alarm."""
    return figures["killed"] == figures["attributed"] == figures["faults"] and figures["false_alarms"] == 0


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


def current_strength() -> dict[str, Any] | None:
    """The recorded kill score, marked stale when the spec or the fault set changed since it was measured."""
    if not STRENGTH_FILE.is_file():
        return None
    record = json.loads(STRENGTH_FILE.read_text(encoding="utf-8"))
    record["stale"] = record.get("spec_hash") != spec_hash() or record.get("faults") != len(FAULTS)
    return record
