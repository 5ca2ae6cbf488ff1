"""The network side of a faithful target: a throttled servers API, a network that drops answers, and a meter
of the request rate a run puts on it (its busiest second, to hold a run to its rate cap).

Both are seeded, so a run meets the same sequence of refusals and drops each time (given the same order of
requests), and bounded: the same server is never refused twice in a row and no two drops are consecutive,
so a client that retries once always gets through.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import deque
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vpsconform.reference.errors import ApiError
from vpsconform.reference.options import TargetOptions

CHAOS_SEED = 8
#: The production Retry-After of a throttled servers call, in seconds (scaled with the target's clock).
RETRY_AFTER_SECONDS = 1.0
#: Chance that a servers call is throttled when the previous one for that server was not: ~20% overall.
THROTTLE_CHANCE = 0.25
#: Chance that an API request loses its connection: half before the target acts, half after.
DROP_CHANCE = 0.03
#: Content-Length announced by a dropped answer, which then never comes.
_ANNOUNCED_BYTES = b"64"


class DroppedConnection(Exception):
    """Raised after a response has started so that uvicorn cuts the connection (the flaky-network mode)."""


class _QuietDrops(logging.Filter):
    """Keeps uvicorn's "Exception in ASGI application" record of a deliberate drop out of the log."""

    def filter(self, record: logging.LogRecord) -> bool:
        """False for records of a DroppedConnection."""
        return not (record.exc_info and isinstance(record.exc_info[1], DroppedConnection))


def _silence_drops() -> None:
    """Install the filter on uvicorn's error logger once."""
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _QuietDrops) for f in logger.filters):
        logger.addFilter(_QuietDrops())


class Chaos:
    """The seeded decisions of the servers-api-429 and flaky-network variants, and their counters."""

    def __init__(self, options: TargetOptions, seed: int = CHAOS_SEED) -> None:
        self.options = options
        self._lock = threading.Lock()
        self._throttle_rng = random.Random(seed)
        self._drop_rng = random.Random(seed + 1)
        self._throttled_last: set[str] = set()
        self._dropped_last = False
        self._counts = {"throttled": 0, "dropped_before": 0, "dropped_after": 0, "busiest_second": 0}
        self._arrivals: deque[float] = deque()

    def arrived(self) -> None:
        """Count an API request; the busiest second is the most requests that arrived within one second."""
        now = time.monotonic()
        with self._lock:
            self._arrivals.append(now)
            while self._arrivals[0] <= now - 1.0:
                self._arrivals.popleft()
            self._counts["busiest_second"] = max(self._counts["busiest_second"], len(self._arrivals))

    def throttle(self, server: str) -> None:
        """Raise a 429 with Retry-After for some calls of the servers API (servers-api-429 only)."""
        if not self.options.variant("servers-api-429"):
            return
        with self._lock:
            if server in self._throttled_last:
                self._throttled_last.discard(server)
                return
            if self._throttle_rng.random() >= THROTTLE_CHANCE:
                return
            self._throttled_last.add(server)
            self._counts["throttled"] += 1
        wait = max(0, round(RETRY_AFTER_SECONDS * self.options.time_scale))
        raise ApiError(
            429,
            "throttled",
            f"Request was throttled. Expected available in {wait} seconds.",
            {"Retry-After": str(wait)},
        )

    def drop(self) -> str | None:
        """Whether this request loses its connection: "before" or "after" the target acts, or None."""
        if not self.options.variant("flaky-network"):
            return None
        with self._lock:
            if self._dropped_last:
                self._dropped_last = False
                return None
            draw = self._drop_rng.random()
            if draw >= DROP_CHANCE:
                return None
            fate = "before" if draw < DROP_CHANCE / 2 else "after"
            self._dropped_last = True
            self._counts[f"dropped_{fate}"] += 1
            return fate

    def stats(self) -> dict[str, Any]:
        """Calls throttled, answers dropped before and after acting, and the busiest second's requests."""
        with self._lock:
            return dict(self._counts)


class Network:
    """ASGI wrapper metering every API request and, in the flaky-network variant, losing the connection of a
    few (never the data plane or the control plane).

    A drop sends the start of a 200 answer announcing a body, then raises: uvicorn closes the connection and
    the client sees an incomplete answer (a transport error), never a status it could judge.
    """

    def __init__(self, app: ASGIApp, chaos: Chaos) -> None:
        self.app = app
        self.chaos = chaos
        _silence_drops()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the request, or drop it before or after the app acted."""
        api = scope["type"] == "http" and scope["path"].startswith("/api/")
        if api:
            self.chaos.arrived()
        fate = self.chaos.drop() if api and scope["method"] != "HEAD" else None
        if fate is None:
            await self.app(scope, receive, send)
            return
        if fate == "after":

            async def discard(message: Message) -> None:
                """Swallow the app's answer: it acted, but the client never hears of it."""

            await self.app(scope, receive, discard)
        headers = [(b"content-type", b"application/json"), (b"content-length", _ANNOUNCED_BYTES)]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        raise DroppedConnection(fate)
