"""The cleanup ledger: every snapshot the run creates, until the run has deleted it.

Snapshots are recorded the moment a create answers 2xx (whichever client or generator sent it) and struck
off when a delete answers 204 or 404, or a listing shows them gone. The journal (``ledger.jsonl``) starts
with a header naming the target, the servers and the run's name prefix (never a token), so
``vpsconform cleanup`` can finish the work of a run that was killed outright.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from pathlib import Path
from typing import Any

import httpx

from vpsconform.client import json_or_none


@dataclasses.dataclass
class Entry:
    """One snapshot the run created."""

    snapshot_id: int
    account: str
    server_id: int | None
    alive: bool = True


def snapshot_id_of(value: Any) -> int | None:
    """A snapshot or server id as a provider may send it: an integer, or a string of ASCII digits ("801")."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    return None


def same_id(value: Any, other: Any) -> bool:
    """Whether two ids name the same snapshot or server: the one id comparison (801 and "801" are the same;
    whether an id has the documented type is the schema checks' business, not identity's)."""
    read = snapshot_id_of(value)
    return read is not None and read == snapshot_id_of(other)


def landed(response: httpx.Response) -> int | None:
    """The id of the snapshot a create's answer says now exists: any 2xx naming a readable id, conformant
    or not. What the run must delete again (a 201 with an integer id is what the contract promises)."""
    body = json_or_none(response)
    if not 200 <= response.status_code < 300 or not isinstance(body, dict):
        return None
    return snapshot_id_of(body.get("id"))


class Ledger:
    """Thread-safe record of created snapshots, journaled to a file as it goes when given one."""

    def __init__(
        self, journal: Path | None = None, header: dict[str, Any] | None = None, *, run: str | None = None
    ) -> None:
        self._entries: dict[tuple[str, int], Entry] = {}
        self._lock = threading.Lock()
        self._journal = journal
        self._run = run  # tags each line with the run's prefix, for a journal that holds several runs
        if journal is not None and header is not None:
            self._append({"event": "run", **header})

    @classmethod
    def replay(cls, journal: Path) -> tuple[dict[str, Any], Ledger]:
        """The header and the entries of the last run a journal holds (appended to from now on)."""
        return cls.runs(journal)[-1]

    @classmethod
    def runs(cls, journal: Path) -> list[tuple[dict[str, Any], Ledger]]:
        """Every run a journal holds, each with its header and its entries, oldest first.

        A line tagged with a run's prefix belongs to that run; an untagged one to the run whose header came
        last before it. A folder reused before runs were refused in it holds several runs in one journal.
        """
        runs: dict[str, tuple[dict[str, Any], Ledger]] = {}
        current: Ledger | None = None
        for number, line in enumerate(journal.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                if record["event"] == "run":
                    prefix = str(record["prefix"])
                    current = runs.setdefault(prefix, (record, cls(journal, run=prefix)))[1]
                    continue
                owner = runs[record["run"]][1] if "run" in record else current
                if owner is None:
                    raise ValueError(f"{journal}: no run header before line {number}; not a ledger")
                owner._replay(record)
            except (KeyError, TypeError, json.JSONDecodeError):
                raise ValueError(f"{journal}:{number}: not a ledger line") from None
        if not runs:
            raise ValueError(f"{journal}: no run header; not a vpsconform ledger")
        return list(runs.values())

    def _replay(self, record: dict[str, Any]) -> None:
        """Apply one journaled event."""
        event, key = record["event"], (record["account"], record["snapshot_id"])
        if event == "created":
            self._entries[key] = Entry(record["snapshot_id"], record["account"], record.get("server_id"))
        elif event == "deleted" and key in self._entries:
            self._entries[key].alive = False

    @property
    def journal(self) -> Path | None:
        """The journal file, if any."""
        return self._journal

    def _append(self, line: dict[str, Any]) -> None:
        if self._journal is None:
            return
        self._journal.parent.mkdir(parents=True, exist_ok=True)
        with self._journal.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(line) + "\n")

    def _write(self, event: str, entry: Entry) -> None:
        line = {
            "event": event,
            "snapshot_id": entry.snapshot_id,
            "account": entry.account,
            "server_id": entry.server_id,
        }
        self._append(line | ({"run": self._run} if self._run else {}))

    def created(self, account: str, snapshot_id: int, server_id: int | None) -> None:
        """Record a snapshot the run created, or one struck off that a listing shows again."""
        with self._lock:
            entry = self._entries.get((account, snapshot_id))
            if entry is not None:
                if not entry.alive:
                    entry.alive = True
                    self._write("created", entry)
                return
            entry = Entry(snapshot_id, account, server_id)
            self._entries[(account, snapshot_id)] = entry
            self._write("created", entry)

    def gone(self, account: str, snapshot_id: int) -> None:
        """Strike off a snapshot that was deleted (or found absent)."""
        with self._lock:
            entry = self._entries.get((account, snapshot_id))
            if entry is not None and entry.alive:
                entry.alive = False
                self._write("deleted", entry)

    def owns(self, account: str, snapshot_id: int) -> bool:
        """True when the run created this snapshot (alive or not)."""
        with self._lock:
            return (account, snapshot_id) in self._entries

    def ids(self, account: str | None = None) -> set[int]:
        """Every snapshot id the run created (in one account or any), alive or deleted."""
        with self._lock:
            return {sid for owner, sid in self._entries if account in (None, owner)}

    def retired(self) -> set[int]:
        """Snapshot ids the run created and has since deleted (in any account)."""
        with self._lock:
            return {sid for (_, sid), e in self._entries.items() if not e.alive}

    def alive(self, account: str | None = None) -> list[Entry]:
        """Snapshots the run created and has not deleted yet."""
        with self._lock:
            return [e for e in self._entries.values() if e.alive and account in (None, e.account)]

    def counts(self) -> dict[str, int]:
        """Created and deleted counts for the report (what is left is measured by listing)."""
        with self._lock:
            created = len(self._entries)
            alive = sum(e.alive for e in self._entries.values())
        return {"created": created, "deleted": created - alive}
