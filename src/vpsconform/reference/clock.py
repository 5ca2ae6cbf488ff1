"""Scaled clock: documented minutes become 60 * `time_scale` real seconds, on the monotonic clock."""

from __future__ import annotations

import time
from datetime import UTC, datetime


class ScaledClock:
    """Monotonic time for lifecycles, wall-clock UTC for timestamps shown to clients."""

    def __init__(self, time_scale: float) -> None:
        self.time_scale = time_scale

    def now(self) -> float:
        """Monotonic seconds; lifecycle deadlines are compared against this."""
        return time.monotonic()

    def seconds(self, minutes: float) -> float:
        """Real seconds that `minutes` documented minutes last at this scale."""
        return minutes * 60.0 * self.time_scale

    def wall(self) -> datetime:
        """Current UTC wall-clock time (real, not scaled) for `created_at`."""
        return datetime.now(UTC)
