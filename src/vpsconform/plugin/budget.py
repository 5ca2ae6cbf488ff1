"""How many servers each parallel worker's scenario may hold at once, so leases never wait on each other.

A scenario reserves its declared need (`@pytest.mark.servers(n)`) before its first lease, holding nothing
while it waits; reservations never add up to more than the configured servers, so a lease within one always
finds a server no other worker holds. A lease beyond the reservation grows it by one; of such growers only
one at a time may wait (holding servers) for the budget, the others are refused at once. Together that
rules out the deadlock of two scenarios each holding a server and waiting for the other's.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from enum import Enum
from pathlib import Path
from typing import Any


class Grant(Enum):
    """The answer to a reservation: granted, wait and ask again, or refused (never waited for)."""

    GRANTED = "granted"
    WAIT = "wait"
    REFUSED = "refused"


class ServerBudget:
    """This process's share of the run's servers, kept beside the other workers' in one locked file."""

    def __init__(self, directory: Path, total: int, run_id: str, *, worker: int | None = None) -> None:
        """``worker``: the live process this share belongs to (this one unless given)."""
        self._directory = directory
        self._total = max(total, 1)
        self._run_id = run_id
        self._me = str(worker or os.getpid())
        self._listed = False
        self.need = 1
        self.reserved = 0

    def expect(self, need: int) -> None:
        """The next scenario holds at most ``need`` servers at once (clamped to the configured ones)."""
        self.need = min(max(need, 1), self._total)

    def reserve(self) -> Grant:
        """Ask for the scenario's declared need (holding no server); first come, first served."""
        with self._table() as table:
            entries = table["entries"]
            if self._me not in entries:
                entries[self._me] = {"reserved": 0, "ticket": table["next"], "state": "queued"}
                table["next"] += 1
            mine = entries[self._me]
            earlier = any(e["ticket"] < mine["ticket"] for e in self._others(entries, "queued"))
            growing = self._others(entries, "growing")
            if earlier or growing or self._taken(entries) + self.need > self._total:
                return Grant.WAIT
            mine.update(reserved=self.need, state="admitted")
        self.reserved = self.need
        return Grant.GRANTED

    def grow(self, *, wait: bool = True) -> Grant:
        """Ask for one server more than reserved (holding servers): only one grower at a time may wait."""
        with self._table() as table:
            entries = table["entries"]
            mine = entries.setdefault(
                self._me, {"reserved": self.reserved, "ticket": -1, "state": "admitted"}
            )
            if self._taken(entries) + 1 <= self._total:
                mine.update(reserved=mine["reserved"] + 1, state="admitted")
                self.reserved = mine["reserved"]
                return Grant.GRANTED
            if not wait or self._others(entries, "growing"):
                mine["state"] = "admitted"
                return Grant.REFUSED
            mine["state"] = "growing"
            return Grant.WAIT

    def give_up(self) -> None:
        """Stop waiting: a queued reservation leaves the queue, a grower keeps what it already holds."""
        with self._table() as table:
            mine = table["entries"].get(self._me)
            if mine is not None and mine["state"] == "queued":
                del table["entries"][self._me]
            elif mine is not None:
                mine["state"] = "admitted"

    def release(self) -> None:
        """The scenario is torn down: its servers are free for the other workers."""
        self.reserved, self.need = 0, 1
        if not self._listed:
            return
        self._listed = False
        with self._table() as table:
            table["entries"].pop(self._me, None)

    def _others(self, entries: dict[str, dict[str, Any]], state: str) -> list[dict[str, Any]]:
        """The other workers' entries in ``state`` (queued, admitted or growing)."""
        return [e for pid, e in entries.items() if pid != self._me and e["state"] == state]

    def _taken(self, entries: dict[str, dict[str, Any]]) -> int:
        """Servers reserved by admitted scenarios, this process's own included."""
        return sum(e["reserved"] for e in entries.values() if e["state"] != "queued")

    @contextlib.contextmanager
    def _table(self) -> Iterator[dict[str, Any]]:
        """The shared table, read and written under an exclusive lock; entries of dead workers dropped."""
        self._directory.mkdir(parents=True, exist_ok=True)
        path = self._directory / "budget.json"
        descriptor = os.open(self._directory / "budget.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            try:
                table = json.loads(path.read_text())
            except (OSError, ValueError):
                table = {}
            if table.get("run") != self._run_id:  # left by an earlier run in the same folder
                table = {"run": self._run_id, "entries": {}, "next": 0}
            self._listed = True
            table["entries"] = {pid: e for pid, e in table["entries"].items() if _alive(pid)}
            yield table
            path.write_text(json.dumps(table))
        finally:
            os.close(descriptor)  # closing the descriptor lets the lock go


def _alive(pid: str) -> bool:
    """Whether a worker process still runs (a killed worker's reservation must not block the others)."""
    try:
        os.kill(int(pid), 0)
    except (ProcessLookupError, ValueError):
        return False
    except PermissionError:
        return True
    return True
