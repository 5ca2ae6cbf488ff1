"""The five-snapshot limit of a server, as the reference target counts it (and as its faults miscount it)."""

from __future__ import annotations

import math
from collections.abc import Iterable

from vpsconform.reference.errors import ApiError, invalid
from vpsconform.reference.options import TargetOptions
from vpsconform.reference.rows import ServerRow, SnapshotRow
from vpsconform.reference.seed import Account

SNAPSHOT_LIMIT = 5


def limit_reached(
    options: TargetOptions, snapshots: Iterable[SnapshotRow], server: ServerRow, account: Account, now: float
) -> bool:
    """Whether the server already holds the maximum, counting snapshots in every state."""
    if options.fault("limit-per-account"):
        rows = [s for s in snapshots if s.server.account == account.name]
    else:
        rows = [s for s in snapshots if s.server is server]
    if options.fault("limit-completed-only"):
        rows = [s for s in rows if now >= s.ready_at]
    if options.fault("limit-in-progress-only"):
        rows = [s for s in rows if now < s.ready_at]
    if options.fault("limit-delete-frees-late") and server.full_flag:
        if now < server.recount_at:
            return True  # the cached flag still says full
        server.full_flag, server.recount_at = False, math.inf  # the recount job has run
    if options.fault("limit-off-by-one"):
        return len(rows) > SNAPSHOT_LIMIT
    if options.fault("limit-off-by-one-low"):
        return len(rows) >= SNAPSHOT_LIMIT - 1
    return len(rows) >= SNAPSHOT_LIMIT


def limit_error() -> ApiError:
    """The 400 of a create on a full server."""
    return invalid(f"Snapshot limit reached ({SNAPSHOT_LIMIT} per server).", "snapshot_limit_reached")
