"""The run's request rate cap: no second holds more requests than ``--max-rps``, bursts and workers included.

A request takes a slot at the moment it is released, and the next slot opens a little over ``1 / max_rps``
seconds later, so a sender that stalls never releases a backlog at once. Parallel workers share one slot
table (a small file under an exclusive lock), so the cap is the run's, not each worker's. A deliberate burst
(concurrent creates racing for the last snapshot slots) is paid for as that many requests: it goes out only
when the second before it is quiet enough, and the second after it stays so.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

#: A slot table ahead of now by more than this is not this boot's (monotonic clocks restart at boot).
_STALE_SECONDS = 60.0
#: ``max_rps`` slots span this many seconds more than one. A request reaches the target some milliseconds
#: after its slot (scheduling, the network, the target's own queue); when an early one arrives late and a
#: later one promptly, requests spaced exactly ``1 / max_rps`` apart put one more than the cap into a second
#: there. On a loaded 2-core machine arrivals ran up to 34 ms closer than their slots; this absorbs 100 ms.
_ARRIVAL_JITTER = 0.1


class RateLimiter:
    """Spaces requests a little over ``1 / max_rps`` seconds apart across threads and, given ``shared``,
    across the processes that name the same file; 0 means no limit."""

    def __init__(self, max_rps: float, shared: Path | None = None) -> None:
        self._cap = max(max_rps, 0.0)
        self._interval = (1.0 + _ARRIVAL_JITTER) / max_rps if max_rps > 0 else 0.0
        self._shared = shared
        self._next = 0.0
        self._lock = threading.Lock()
        self._prepaid = 0

    def allows(self, size: int) -> bool:
        """Whether ``size`` requests sent together fit under the cap (always, without one)."""
        return not self._cap or size <= self._cap

    def wait(self) -> None:
        """Block until the next request may go out, and take its slot."""
        if not self._interval:
            return
        with self._lock:
            if self._prepaid:
                self._prepaid -= 1
                return
        self._take(1)

    @contextlib.contextmanager
    def burst(self, size: int) -> Iterator[None]:
        """Let the next ``size`` requests, from any thread, go out together (a bounded, deliberate burst).

        They are paid for as ``size`` spaced requests: entering waits until the last ``size`` slots before
        now are free, and the slots after are taken, so no second around the burst holds more than the cap
        (when :meth:`allows` it). Slots the burst leaves unused are not handed on.
        """
        if self._interval:
            self._take(size)
            with self._lock:
                self._prepaid = size
        try:
            yield
        finally:
            with self._lock:
                self._prepaid = 0

    def _take(self, size: int) -> None:
        """Sleep until ``size`` slots end now, then book them (the next opens ``size`` intervals later)."""
        while True:
            with self._lock, self._table() as table:
                now = time.monotonic()
                ready = table[0] + (size - 1) * self._interval
                if now >= ready:
                    table[0] = now + size * self._interval
                    return
            time.sleep(ready - now)

    @contextlib.contextmanager
    def _table(self) -> Iterator[list[float]]:
        """When the next slot opens, as a one-item list to update: this process's, or the shared file's."""
        if self._shared is None:
            table = [self._next]
            yield table
            self._next = table[0]
            return
        self._shared.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(self._shared, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            try:
                opens = float(os.pread(descriptor, 64, 0) or b"0")
            except ValueError:
                opens = 0.0
            table = [0.0 if opens > time.monotonic() + _STALE_SECONDS else opens]
            yield table
            os.ftruncate(descriptor, 0)
            os.pwrite(descriptor, repr(table[0]).encode(), 0)
        finally:
            os.close(descriptor)  # closing the descriptor lets the lock go
