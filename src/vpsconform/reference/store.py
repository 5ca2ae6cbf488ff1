"""Thread-safe in-memory state: servers, snapshots and restores, settled lazily from timestamps."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from vpsconform.reference import lifecycle
from vpsconform.reference.clock import ScaledClock
from vpsconform.reference.errors import invalid, not_found
from vpsconform.reference.options import TargetOptions
from vpsconform.reference.seed import Account

SNAPSHOT_LIMIT = 5
FIRST_SNAPSHOT_ID = 801
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


@dataclass
class _Server:
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


@dataclass
class _Snapshot:
    """A snapshot row: its captured data marker and the monotonic moment it completes."""

    id: int
    server: _Server
    name: str
    description: str | None
    marker: str
    created_wall: datetime
    ready_at: float
    ready_after: timedelta
    size_mb: int


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


class Store:
    """All target state behind one lock; every public method settles lifecycles first."""

    def __init__(self, options: TargetOptions, accounts: list[Account]) -> None:
        self.options = options
        self.clock = ScaledClock(options.time_scale)
        self._lock = threading.Lock()
        self._tokens = {a.token: a for a in accounts}
        self._servers = {
            s.id: _Server(s.id, a.name, s.name, s.disk_gb, s.status, f"initial-{s.id}")
            for a in accounts
            for s in a.servers
        }
        self._snapshots: dict[int, _Snapshot] = {}
        self._next_id = FIRST_SNAPSHOT_ID

    # --- auth -------------------------------------------------------------------------------------------

    def account_for_token(self, token: str) -> Account | None:
        """The account a bearer token belongs to, or None."""
        return self._tokens.get(token)

    # --- snapshots --------------------------------------------------------------------------------------

    def list_snapshots(self, account: Account, server_id: int | None) -> list[SnapshotView]:
        """The account's snapshots, newest first, optionally of one server (none if it isn't theirs)."""
        with self._lock:
            now = self._settle()
            rows = [
                s
                for s in self._snapshots.values()
                if s.server.account == account.name and (server_id is None or s.server.id == server_id)
            ]
            return [self._snapshot_view(s, now) for s in sorted(rows, key=lambda s: s.id, reverse=True)]

    def create_snapshot(
        self, account: Account, server_id: int, name: str, description: str | None
    ) -> SnapshotView:
        """Start a point-in-time snapshot; lookup, state and limit are checked and applied atomically."""
        with self._lock:
            now = self._settle()
            server = self._own_server(account, server_id, "Server does not exist.")
            if server.status == "restoring":
                raise invalid("Server is being restored; a snapshot cannot be created now.", "invalid_state")
            if self._limit_reached(server):
                raise invalid(
                    f"Snapshot limit reached ({SNAPSHOT_LIMIT} per server).", "snapshot_limit_reached"
                )
            minutes = lifecycle.create_minutes(server.disk_gb, self.options)
            snapshot = _Snapshot(
                id=self._next_id,
                server=server,
                name=name,
                description=description,
                marker=server.marker,
                created_wall=self.clock.wall(),
                ready_at=now + self.clock.seconds(minutes),
                ready_after=timedelta(seconds=self.clock.seconds(minutes)),
                size_mb=lifecycle.snapshot_size_mb(server.disk_gb, self._next_id),
            )
            self._next_id += 1
            self._snapshots[snapshot.id] = snapshot
            return self._snapshot_view(snapshot, now)

    def restore_snapshot(self, account: Account, snapshot_id: int) -> RestoreView:
        """Start restoring a completed snapshot onto its own server."""
        with self._lock:
            now = self._settle()
            snapshot = self._own_snapshot(account, snapshot_id)
            if now < snapshot.ready_at:
                raise invalid(
                    "Snapshot is not completed yet; only completed snapshots can be restored.",
                    "invalid_state",
                )
            server = snapshot.server
            if server.status == "restoring":
                raise invalid("Server is not in a valid state for restoration.", "invalid_state")
            minutes = lifecycle.restore_minutes(server.disk_gb, self.options)
            server.resume_status = (
                "stopped" if self.options.variant("stopped-after-restore") else server.status
            )
            server.status = "restoring"
            server.restore_until = now + self.clock.seconds(minutes)
            server.restore_marker = snapshot.marker
            return RestoreView(
                self._snapshot_view(snapshot, now),
                self._server_view(server),
                self.clock.wall().strftime(TIMESTAMP_FORMAT),
            )

    def delete_snapshot(self, account: Account, snapshot_id: int) -> None:
        """Delete a snapshot in any state; a restore already started from it still finishes."""
        with self._lock:
            self._settle()
            del self._snapshots[self._own_snapshot(account, snapshot_id).id]

    # --- servers ----------------------------------------------------------------------------------------

    def list_servers(self, account: Account) -> list[ServerView]:
        """The account's servers in id order."""
        with self._lock:
            self._settle()
            rows = [s for s in self._servers.values() if s.account == account.name]
            return [self._server_view(s) for s in sorted(rows, key=lambda s: s.id)]

    def get_server(self, account: Account, server_id: int) -> ServerView:
        """One of the account's servers (404 otherwise)."""
        with self._lock:
            self._settle()
            return self._server_view(self._own_server(account, server_id))

    # --- data plane -------------------------------------------------------------------------------------

    def read_marker(self, server_id: int) -> str:
        """The data marker currently on a server (any account)."""
        with self._lock:
            self._settle()
            return self._any_server(server_id).marker

    def write_marker(self, server_id: int, marker: str) -> None:
        """Overwrite a server's data marker (any account)."""
        with self._lock:
            self._settle()
            self._any_server(server_id).marker = marker

    # --- decision points (called with the lock held) ----------------------------------------------------

    def _settle(self) -> float:
        """Finish every restore whose time is up and return the instant the caller must use."""
        now = self.clock.now()
        for server in self._servers.values():
            if server.status == "restoring" and now >= server.restore_until:
                server.marker = server.restore_marker
                server.status = server.resume_status
        return now

    def _any_server(self, server_id: int) -> _Server:
        """A server of any account, for the data plane."""
        server = self._servers.get(server_id)
        if server is None:
            raise not_found("Server does not exist.")
        return server

    def _own_server(self, account: Account, server_id: int, message: str = "Not found.") -> _Server:
        """A server of `account`; another account's server is as absent as a missing one."""
        server = self._servers.get(server_id)
        if server is None or server.account != account.name:
            raise not_found(message)
        return server

    def _own_snapshot(self, account: Account, snapshot_id: int) -> _Snapshot:
        """A snapshot on one of `account`'s servers; anything else is 404."""
        snapshot = self._snapshots.get(snapshot_id)
        if snapshot is None or snapshot.server.account != account.name:
            raise not_found("Snapshot does not exist.")
        return snapshot

    def _limit_reached(self, server: _Server) -> bool:
        """Whether the server already holds the maximum, counting snapshots in every state."""
        return sum(1 for s in self._snapshots.values() if s.server is server) >= SNAPSHOT_LIMIT

    def _snapshot_view(self, snapshot: _Snapshot, now: float) -> SnapshotView:
        """Freeze a snapshot's client-visible state at `now`."""
        done = now >= snapshot.ready_at
        updated = snapshot.created_wall + snapshot.ready_after if done else snapshot.created_wall
        return SnapshotView(
            id=snapshot.id,
            server_id=snapshot.server.id,
            server_name=snapshot.server.name,
            name=snapshot.name,
            status="completed" if done else "in_progress",
            size_mb=snapshot.size_mb if done else None,
            created_at=snapshot.created_wall.strftime(TIMESTAMP_FORMAT),
            updated_at=updated.strftime(TIMESTAMP_FORMAT),
            description=snapshot.description,
        )

    @staticmethod
    def _server_view(server: _Server) -> ServerView:
        """Freeze a server's client-visible state."""
        return ServerView(server.id, server.name, server.status, server.disk_gb)
