"""The history model's vocabulary: what it knows of the run, what a rule found, one snapshot's story."""

from __future__ import annotations

import contextlib
import dataclasses
import re
import unicodedata
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import unquote

from vpsconform.client import server_of as raw_server_of
from vpsconform.contract import SNAPSHOTS
from vpsconform.ledger import snapshot_id_of

ACCOUNTS = ("main", "foreign")
#: What a rule's subjects are, when not snapshots.
UNITS = {
    "no-server-error": "responses",
    "documented-status": "operations",
    "count-matches": "lists",
    "server-limit": "servers",
    "refused-leaves-nothing": "refused creates",
    "unknown-server": "servers",
    "tenant-ours-hidden": "lists",
    "tenant-theirs-hidden": "lists",
}


@dataclasses.dataclass
class RuleResult:
    """What one rule found: its violations (message, records), how much it checked, and of how many."""

    checks: int = 0
    subjects: set[Any] = dataclasses.field(default_factory=set)
    violations: list[tuple[str, list[dict[str, Any]]]] = dataclasses.field(default_factory=list)
    unit: str = "snapshots"

    def evidence(self) -> str:
        """``412 observations of 96 snapshots`` (in the rule's own units)."""
        if self.unit == "responses":
            return f"{self.checks} responses"
        return f"{self.checks} observations of {len(self.subjects)} {self.unit}"


@dataclasses.dataclass
class Context:
    """What the model knows besides the history: configured servers, documented codes and windows."""

    servers: Mapping[str, tuple[int, ...]]
    documented: Mapping[tuple[str, str], frozenset[int]]
    statuses: frozenset[str]
    create_max: float


@dataclasses.dataclass
class Snap:
    """One incarnation of a snapshot id, as the history shows it."""

    id: int
    name: Any
    server: Any
    born: float  # answer time of the first exchange that showed it existing
    created_t1: float | None = None  # answer time of its 201
    created_at: datetime | None = None
    completed_t1: float | None = None  # answer time of the first observation that showed it completed
    gone_t1: float | None = None  # answer time of a 204 delete of it
    refs: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    vanished: bool = False  # reported missing once already


def path_ids(segment: str) -> set[int]:
    """Every snapshot id a lenient provider might read from a path segment (digits, float, hex, Unicode)."""
    text = unquote(unquote(segment)).strip()
    found = {int(run) for run in re.findall(r"\d+", text) if run.isascii()}
    digits = "".join(str(unicodedata.digit(c)) for c in text if unicodedata.digit(c, None) is not None)
    found |= {int(digits)} if digits else set()
    for parse in (lambda s: int(float(s)), lambda s: int(s, 0)):
        with contextlib.suppress(ValueError, OverflowError):
            found.add(parse(text))
    return found


def when(value: Any) -> datetime | None:
    """An ISO 8601 timestamp as a datetime (None when it is not one)."""
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def template(path: str) -> str:
    """/api/v1/snapshots/801/restore/ -> /api/v1/snapshots/{snapshot_id}/restore/."""
    parts = path.split("/")
    if path.startswith(SNAPSHOTS) and len(parts) > 4 and parts[4]:
        parts[4] = "{snapshot_id}"
    return "/".join(parts)


def server_of(item: Any) -> int | None:
    """A snapshot object's server id as an integer (a provider may send "12345")."""
    return snapshot_id_of(raw_server_of(item))
