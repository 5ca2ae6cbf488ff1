"""The cleanup ledger: every snapshot the run creates, until the run has deleted it.

Snapshots are recorded the moment a create answers 201 (whichever test or generator sent it) and struck off
when a delete answers 204 or 404. What is still alive at the end is deleted by the sweep; what cannot be
deleted is reported as left behind, with its id. Nothing the run did not create is ever recorded, so nothing
else is ever touched.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from pathlib import Path


@dataclasses.dataclass
class Entry:
    """One snapshot the run created."""

    snapshot_id: int
    account: str
    server_id: int | None
    alive: bool = True


class Ledger:
    """Thread-safe record of created snapshots, optionally journaled to a file as it goes."""

    def __init__(self, journal: Path | None = None) -> None:
        self._entries: dict[tuple[str, int], Entry] = {}
        self._lock = threading.Lock()
        self._journal = journal

    def _write(self, event: str, entry: Entry) -> None:
        if self._journal is None:
            return
        self._journal.parent.mkdir(parents=True, exist_ok=True)
        line = {
            "event": event,
            "snapshot_id": entry.snapshot_id,
            "account": entry.account,
            "server_id": entry.server_id,
        }
        with self._journal.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(line) + "\n")

    def created(self, account: str, snapshot_id: int, server_id: int | None) -> None:
        """Record a snapshot the run just created."""
        with self._lock:
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

    def alive(self, account: str | None = None) -> list[Entry]:
        """Snapshots the run created and has not deleted yet."""
        with self._lock:
            return [e for e in self._entries.values() if e.alive and account in (None, e.account)]

    def counts(self) -> dict[str, int]:
        """Created, deleted and left counts for the report."""
        with self._lock:
            created = len(self._entries)
            left = sum(e.alive for e in self._entries.values())
        return {"created": created, "deleted": created - left, "left": left}
