"""The store's rows (mutable server and snapshot state) and the frozen views clients are shown."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from vpsconform.reference import lifecycle
from vpsconform.reference.clock import ScaledClock
from vpsconform.reference.options import TargetOptions

TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
# Renderings that only injected faults use: no zone designator, and DRF's default microsecond precision.
NAIVE_TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S"
PRECISE_TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


@dataclass
class ServerRow:
    """Mutable server state; `restore_*` fields are set while a restore runs."""

    id: int
    account: str
    name: str
    disk_gb: int
    status: str
    marker: str
    restore_until: float = 0.0
    restore_marker: str = ""
    resume_status: str = ""
    # A cached "full" flag and when a recount job clears it (used by the limit-delete-frees-late fault only).
    full_flag: bool = False
    recount_at: float = math.inf


@dataclass
class SnapshotRow:
    """A snapshot row: its captured data marker and the monotonic moment it completes."""

    id: int
    server: ServerRow
    name: str
    description: str | None
    marker: str
    created_wall: datetime
    ready_at: float
    ready_after: timedelta
    size_mb: int
    copy_pending: bool = False  # the data is copied when the job completes (a fault), not at creation
    reads: int = 0  # completed-state listings, for the lagging read replica of a fault
    by_api: bool = True  # False for customer snapshots seeded at start (never created through the API)
    regressed_until: float = 0.0  # shown in progress again until then (a fault, after a restore)


@dataclass(frozen=True)
class ServerView:
    """A server as a client sees it at one instant."""

    id: int
    name: str
    status: str
    disk_gb: int


@dataclass(frozen=True)
class SnapshotView:
    """A snapshot as a client sees it at one instant."""

    id: int
    server_id: int
    server_name: str
    name: str
    status: str
    size_mb: int | None
    created_at: str
    updated_at: str
    description: str | None


@dataclass(frozen=True)
class RestoreView:
    """What a started restore reports: the snapshot, the server and when the restore began."""

    snapshot: SnapshotView
    server: ServerView
    started_at: str


def lagging_replica(snapshot: SnapshotRow, view: SnapshotView) -> SnapshotView:
    """Every third listing of a completed snapshot comes from a replica that still has it in progress."""
    if view.status != "completed":
        return view
    snapshot.reads += 1
    if snapshot.reads % 3:
        return view
    return replace(view, status="in_progress", size_mb=None)


def snapshot_view(snapshot: SnapshotRow, now: float, options: TargetOptions) -> SnapshotView:
    """Freeze a snapshot's client-visible state at `now`."""
    done = now >= max(snapshot.ready_at, snapshot.regressed_until)
    updated = snapshot.created_wall + snapshot.ready_after if done else snapshot.created_wall
    created, stamp = snapshot.created_wall, TIMESTAMP_FORMAT
    if options.fault("lifecycle-created-at-moves"):  # auto_now, rendered at DRF's microseconds
        created, stamp = updated, PRECISE_TIMESTAMP_FORMAT
    if options.fault("time-local-offset"):  # Europe/Berlin summer time written with a Z
        created += timedelta(hours=2)
    if options.fault("time-naive-timestamp"):
        stamp = NAIVE_TIMESTAMP_FORMAT
    if done:
        status = "failed" if options.fault("lifecycle-fails") else "completed"
    else:
        status = "pending" if options.fault("create-pending-status") else "in_progress"
    return SnapshotView(
        id=snapshot.id,
        server_id=snapshot.server.id,
        server_name=snapshot.server.name,
        name=snapshot.name,
        status=status,
        size_mb=snapshot.size_mb if status == "completed" else None,
        created_at=created.strftime(stamp),
        updated_at=updated.strftime(TIMESTAMP_FORMAT),
        description=snapshot.description,
    )


def server_view(server: ServerRow) -> ServerView:
    """Freeze a server's client-visible state."""
    return ServerView(server.id, server.name, server.status, server.disk_gb)


def customer_row(snapshot_id: int, server: ServerRow, name: str, clock: ScaledClock) -> SnapshotRow:
    """A completed snapshot that was never created through the API: customer data no run may touch."""
    return SnapshotRow(
        id=snapshot_id,
        server=server,
        name=name,
        description="customer data",
        marker=f"customer-{snapshot_id}",
        created_wall=clock.wall() - timedelta(days=30),
        ready_at=clock.now(),
        ready_after=timedelta(minutes=5),
        size_mb=lifecycle.snapshot_size_mb(server.disk_gb, snapshot_id),
        by_api=False,
    )


def settle(
    options: TargetOptions, now: float, snapshots: Iterable[SnapshotRow], servers: Iterable[ServerRow]
) -> None:
    """Bring rows up to ``now``: a late data copy lands (a fault), restores whose time is up finish."""
    if options.fault("data-copy-at-completion"):
        for snapshot in snapshots:
            if snapshot.copy_pending and now >= snapshot.ready_at:
                snapshot.marker = snapshot.server.marker
                snapshot.copy_pending = False
    if options.fault("restore-never-ends"):
        return
    for server in servers:
        if server.status == "restoring" and now >= server.restore_until:
            if not options.fault("data-no-overwrite"):
                server.marker = server.restore_marker
            server.status = server.resume_status
