"""The run's scope, stated before the first test: the MUST requirements it judges, and why not the rest.

Tests leave the run up front for a reason taken from the configuration — a profile, a selection, or a
``@pytest.mark.needs(...)`` the configuration cannot meet — so the report can say what was not judged and why.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

from vpsconform.catalog import Requirement
from vpsconform.config import RunConfig
from vpsconform.options import PROFILES

#: What a ``needs`` marker may ask for, and the reason given when the configuration lacks it.
NEEDS = {
    "foreign-account": "no foreign account configured (--foreign-token, --foreign-server-id)",
    "probes": "no data probes configured (--probe-write, --probe-read)",
}
SELECTED_OUT = "not selected (--select / -k)"
#: Where a parallel worker leaves the scope it collected, for the controller to state before the first test.
SCOPE_FILE = "scope.json"


def reason_to_leave(item: pytest.Item, config: RunConfig) -> str | None:
    """Why a test is out of this run's scope (profile or an unmet ``needs``), or None when it runs."""
    marker = item.get_closest_marker("profile")
    if marker and PROFILES.index(marker.args[0]) > PROFILES.index(config.profile):
        return f"not in profile {config.profile} (runs in {marker.args[0]} and above)"
    for needs in item.iter_markers("needs"):
        for need in needs.args:
            if need not in NEEDS:
                raise pytest.UsageError(f"{item.nodeid}: unknown needs({need!r}); known: {', '.join(NEEDS)}")
            if need == "foreign-account" and not config.has_foreign_account:
                return NEEDS[need]
            if need == "probes" and not config.has_probes:
                return NEEDS[need]
    return None


def out_of_scope(
    catalog: Mapping[str, Requirement],
    kept: Iterable[pytest.Item],
    left: Mapping[str, str],
    declared: dict[str, list[str]],
) -> dict[str, str]:
    """MUST requirements no kept test declares, each with the reason its tests left (first one found).

    ``left`` maps a left-out test's node id to its reason; ``declared`` maps every test to its requirements.
    Requirements judged run-wide (catalog key ``judges: every-response``) are in scope whenever a test runs.
    """
    kept_ids = {item.nodeid for item in kept}
    covered = {rid for nodeid in kept_ids for rid in declared.get(nodeid, [])}
    if kept_ids:
        covered |= {rid for rid, r in catalog.items() if r.judges == "every-response"}
    reasons: dict[str, str] = {}
    for nodeid, reason in left.items():
        for rid in declared.get(nodeid, []):
            reasons.setdefault(rid, reason)
    return {
        rid: reasons.get(rid, "no test checks it in this configuration")
        for rid, requirement in catalog.items()
        if requirement.binding and rid not in covered
    }


def scope_statement(catalog: Mapping[str, Requirement], left_out: Mapping[str, str]) -> str:
    """The run's scope before the first test: the MUST requirements it judges, and why not the others."""
    musts = sum(r.binding for r in catalog.values())
    line = f"scope: judging {musts - len(left_out)} of {musts} MUST requirements"
    by_reason: dict[str, list[str]] = {}
    for rid, reason in left_out.items():
        by_reason.setdefault(reason, []).append(rid)
    if by_reason:
        line += "; out of scope: " + "; ".join(f"{_ids(ids)} ({why})" for why, ids in by_reason.items())
    return line


def _ids(ids: list[str]) -> str:
    """A few requirement IDs as they are, many as areas with counts (``LIST (5), CREATE (4)``)."""
    if len(ids) <= 6:
        return ", ".join(ids)
    areas: dict[str, int] = {}
    for rid in ids:
        areas[rid.split("-")[0]] = areas.get(rid.split("-")[0], 0) + 1
    return ", ".join(f"{area} ({count})" for area, count in areas.items())


def write_scope(folder: Path, left_out: Mapping[str, str]) -> None:
    """A worker's collected scope, written whole (every worker collects the same tests)."""
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f"{SCOPE_FILE}.{os.getpid()}"
    partial.write_text(json.dumps(dict(left_out)), encoding="utf-8")
    partial.replace(folder / SCOPE_FILE)


def read_scope(folder: Path) -> dict[str, str] | None:
    """The scope a worker collected, or None when none has yet."""
    try:
        return dict(json.loads((folder / SCOPE_FILE).read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return None
