"""Exclusive holds on servers across the parallel workers of one run: lock files in the report folder.

A hold is re-entrant within a process (a test may lease inside a lease) and, once a lease ends, is parked
until the test's teardown has deleted its snapshots, so the next scenario on that server finds it as the
previous one left it.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path


class ServerLocks:
    """Counted, re-entrant holds on servers; the lock is let go when the last hold is released."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._held: dict[int, tuple[int, int]] = {}  # server -> (descriptor, holds)
        self._parked: list[int] = []

    def try_hold(self, server_id: int) -> bool:
        """Hold a server unless another process of this run does."""
        if server_id in self._held:
            descriptor, holds = self._held[server_id]
            self._held[server_id] = (descriptor, holds + 1)
            return True
        self._directory.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(self._directory / str(server_id), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(descriptor)
            return False
        self._held[server_id] = (descriptor, 1)
        return True

    def holding(self) -> int:
        """How many servers this process holds, parked ones included."""
        return len(self._held)

    def release(self, server_id: int) -> None:
        """Drop one hold; the last one lets other processes have the server."""
        if server_id not in self._held:
            return
        descriptor, holds = self._held.pop(server_id)
        if holds > 1:
            self._held[server_id] = (descriptor, holds - 1)
            return
        fcntl.flock(descriptor, fcntl.LOCK_UN)
        os.close(descriptor)

    def park(self, server_id: int) -> None:
        """Release this hold when the running test's teardown is done."""
        self._parked.append(server_id)

    def release_parked(self) -> None:
        """The test is torn down (its snapshots deleted): let its servers go."""
        while self._parked:
            self.release(self._parked.pop())
