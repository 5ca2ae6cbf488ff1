"""Thread-safe in-memory state: servers, snapshots and restores, settled lazily from timestamps."""

from __future__ import annotations

import math
import threading
from dataclasses import replace
from datetime import timedelta
from typing import Any

from vpsconform.reference import lifecycle
from vpsconform.reference.clock import ScaledClock
from vpsconform.reference.errors import invalid, not_found, server_error
from vpsconform.reference.limits import SNAPSHOT_LIMIT, limit_error, limit_reached
from vpsconform.reference.options import TargetOptions
from vpsconform.reference.rows import (
    TIMESTAMP_FORMAT,
    RestoreView,
    ServerRow,
    ServerView,
    SnapshotRow,
    SnapshotView,
    customer_row,
    lagging_replica,
    server_view,
    settle,
    snapshot_view,
)
from vpsconform.reference.seed import CUSTOMER_SNAPSHOTS, Account
from vpsconform.reference.validation import NAME_COLUMN_WIDTH

FIRST_SNAPSHOT_ID = 801


class Store:
    """All target state behind one lock; every public method settles lifecycles first."""

    def __init__(self, options: TargetOptions, accounts: list[Account]) -> None:
        self.options = options
        self.clock = ScaledClock(options.time_scale)
        self._lock = threading.Lock()
        self._accounts = list(accounts)
        self._tokens = {a.token: a for a in accounts}
        self._servers = {
            s.id: ServerRow(s.id, a.name, s.name, s.disk_gb, s.status, f"initial-{s.id}")
            for a in accounts
            for s in a.servers
        }
        self._snapshots: dict[int, SnapshotRow] = {}
        # Deleted rows and the monotonic moment of their delete; only injected faults ever look at them.
        self._deleted: dict[int, tuple[SnapshotRow, float]] = {}
        self._next_id = FIRST_SNAPSHOT_ID
        # Restores and deletes whose lookup landed on a snapshot not created through the API (customer data).
        self._foreign = {"restores": 0, "deletes": 0}
        for seeded in CUSTOMER_SNAPSHOTS:  # pre-existing customer data, completed long before the start
            self._customer_snapshot(seeded.id, self._servers[seeded.server_id], seeded.name)

    def _customer_snapshot(self, snapshot_id: int, server: ServerRow, name: str) -> None:
        """A completed snapshot that was never created through the API: customer data no run may touch."""
        self._snapshots[snapshot_id] = customer_row(snapshot_id, server, name, self.clock)

    def _reuse_id(self, row: SnapshotRow) -> None:
        """The reused-ids variant: the account's customer takes the freed id for a new snapshot at once."""
        owner = next(a for a in self._accounts if a.name == row.server.account)
        for server_id in owner.customer_server_ids[:1]:
            self._customer_snapshot(row.id, self._servers[server_id], f"customer-reused-{row.id}")

    def stats(self) -> dict[str, Any]:
        """What the run did to data it was never given, and how many API-created snapshots are still held."""
        with self._lock:
            held = {a.name: 0 for a in self._accounts}
            for row in self._snapshots.values():
                if row.by_api:
                    held[row.server.account] += 1
            return {
                "foreign_restores": self._foreign["restores"],
                "foreign_deletes": self._foreign["deletes"],
                "held_by_api": sum(held.values()),
                "held_by_api_by_account": held,
                "customer_snapshots": sorted(r.id for r in self._snapshots.values() if not r.by_api),
            }

    # --- auth -------------------------------------------------------------------------------------------

    def account_for_token(self, token: str) -> Account | None:
        """The account a bearer token belongs to, or None."""
        return self._tokens.get(token)

    def primary_account(self) -> Account:
        """The first seeded account (the one careless fallbacks of injected faults land on)."""
        return self._accounts[0]

    # --- snapshots --------------------------------------------------------------------------------------

    def list_snapshots(self, account: Account, server_id: int | None) -> list[SnapshotView]:
        """The account's snapshots, newest first, optionally of one server (none if it isn't theirs)."""
        with self._lock:
            now = self._settle()
            if server_id is None and self.options.fault("list-first-server-only"):
                server_id = account.server_ids[0]
            if self.options.fault("list-filter-ignored"):
                server_id = None
            foreign_filter = server_id is not None and server_id not in [s.id for s in account.servers]
            if foreign_filter and self.options.fault("robust-unknown-filter-500"):
                raise server_error()  # Server.objects.get(pk=server_id, owner=...) raised DoesNotExist
            rows = [s for s in self._listable() if self._visible(s, account, server_id)]
            rows.sort(key=lambda s: s.id, reverse=True)
            views = [(s, snapshot_view(s, now, self.options)) for s in rows]
            if self.options.fault("lifecycle-flaps"):
                return [lagging_replica(s, view) for s, view in views]
            return [view for _, view in views]

    def count_all(self) -> int:
        """Every snapshot of every account (what an unscoped, unfiltered count query returns)."""
        with self._lock:
            self._settle()
            return len(self._snapshots)

    def create_snapshot(
        self,
        account: Account,
        server_id: int,
        name: str | None,
        description: str | None,
        *,
        check_limit: bool = True,
    ) -> SnapshotView:
        """Start a point-in-time snapshot; lookup, state and limit are checked and applied atomically.

        `name` None asks for a default name (only a fault lets it through validation); `check_limit` False
        skips the limit (only the two-step create of a fault, which checked it in `admit_create`).
        """
        with self._lock:
            now = self._settle()
            server = self._creatable_server(account, server_id)
            if self.options.fault("create-dedupe-by-name"):
                twin = next(
                    (s for s in self._snapshots.values() if s.server is server and s.name == name), None
                )
                if twin is not None:
                    return snapshot_view(twin, now, self.options)
            full = check_limit and self._limit_reached(server, account, now)
            if full and not self.options.fault("limit-refused-still-saved"):
                raise self._limit_error()
            if (
                self.options.fault("robust-long-name-500")
                and name is not None
                and len(name) > NAME_COLUMN_WIDTH
            ):
                raise server_error()  # the varchar(64) column overflows on insert
            snapshot = self._insert(server, name, description, now)
            if full:  # inserted before the limit was checked, and nothing rolls it back
                raise self._limit_error()
            return snapshot_view(snapshot, now, self.options)

    def admit_create(self, account: Account, server_id: int) -> None:
        """The checks of a create without its insert: the first step of a non-atomic create (a fault)."""
        with self._lock:
            now = self._settle()
            server = self._creatable_server(account, server_id)
            if self._limit_reached(server, account, now):
                raise self._limit_error()

    def require_snapshot(self, snapshot_id: int) -> None:
        """404 unless some account has the snapshot (a lookup done before auth, by a fault)."""
        with self._lock:
            self._settle()
            if snapshot_id not in self._snapshots:
                raise not_found("Snapshot does not exist.")

    def restore_snapshot(self, account: Account, snapshot_id: int) -> RestoreView:
        """Start restoring a completed snapshot onto its own server."""
        with self._lock:
            now = self._settle()
            if self.options.fault("notfound-restore-400") and snapshot_id not in self._snapshots:
                raise invalid(  # the state check runs first and takes a missing snapshot for unfinished
                    "Snapshot is not completed yet; only completed snapshots can be restored.",
                    "invalid_state",
                )
            snapshot = self._own_snapshot(
                account,
                snapshot_id,
                any_account=self.options.fault("tenant-restore-any"),
                deleted_too=self.options.fault("delete-still-restorable"),
            )
            self._count_touch(snapshot, "restores")
            if now < snapshot.ready_at or self.options.fault("lifecycle-fails"):
                raise invalid(
                    "Snapshot is not completed yet; only completed snapshots can be restored.",
                    "invalid_state",
                )
            server = snapshot.server
            if server.status == "restoring" and not self.options.fault("restore-no-lock"):
                raise invalid("Server is not in a valid state for restoration.", "invalid_state")
            minutes = lifecycle.restore_minutes(server.disk_gb, self.options)
            if (
                server.status != "restoring"
            ):  # a restore restarted by a fault keeps the first one's resume state
                server.resume_status = (
                    "stopped" if self.options.variant("stopped-after-restore") else server.status
                )
            server.status = "restoring"
            server.restore_until = now + self.clock.seconds(minutes)
            if self.options.fault("lifecycle-regresses-after-restore"):  # re-snapshotted after the restore
                snapshot.regressed_until = server.restore_until + self.clock.seconds(minutes)
            server.restore_marker = self._restore_source(snapshot, now).marker
            shown = server_view(server)
            if self.options.fault("restore-reports-active"):
                shown = replace(shown, status="active")
            return RestoreView(
                snapshot_view(snapshot, now, self.options),
                shown,
                self.clock.wall().strftime(TIMESTAMP_FORMAT),
            )

    def delete_snapshot(self, account: Account, snapshot_id: int) -> None:
        """Delete a snapshot (in any state, unless a variant refuses in-progress ones); a restore already
        started from it still finishes."""
        with self._lock:
            now = self._settle()
            if snapshot_id not in self._snapshots:
                if self.options.fault("notfound-delete-204"):
                    return  # `filter(pk=id).delete()` without looking at how many rows went
                gone = self._deleted.get(snapshot_id)
                if self.options.fault("delete-twice-204") and gone and gone[0].server.account == account.name:
                    return  # the soft-deleted row is found and "deleted" again
            snapshot = self._own_snapshot(
                account, snapshot_id, any_account=self.options.fault("tenant-delete-any")
            )
            self._count_touch(snapshot, "deletes")
            if now < snapshot.ready_at and self.options.variant("delete-refused-in-progress"):
                raise invalid(
                    "Snapshot is still being created; delete it once it has completed.", "invalid_state"
                )
            if self.options.fault("delete-noop"):
                return  # the delete job is queued on a worker that never runs it
            doomed = [snapshot]
            if self.options.fault("delete-server-wide"):
                doomed = [s for s in self._snapshots.values() if s.server is snapshot.server]
            elif self.options.fault("delete-neighbour"):  # the row next to the one named goes instead
                others = [
                    s for s in self._snapshots.values() if s.server is snapshot.server and s is not snapshot
                ]
                doomed = sorted(others, key=lambda s: abs(s.id - snapshot.id))[:1] or doomed
            for row in doomed:
                del self._snapshots[row.id]
                self._deleted[row.id] = (row, now)
                if self.options.variant("reused-ids"):
                    self._reuse_id(row)
                if self.options.fault("limit-delete-frees-late") and row.server.full_flag:
                    # the delete does not clear the cached flag; it schedules a recount a minute later
                    row.server.recount_at = min(row.server.recount_at, now + self.clock.seconds(1))

    # --- servers ----------------------------------------------------------------------------------------

    def list_servers(self, account: Account) -> list[ServerView]:
        """The account's servers in id order."""
        with self._lock:
            self._settle()
            rows = [s for s in self._servers.values() if s.account == account.name]
            return [server_view(s) for s in sorted(rows, key=lambda s: s.id)]

    def get_server(self, account: Account, server_id: int) -> ServerView:
        """One of the account's servers (404 otherwise)."""
        with self._lock:
            self._settle()
            return server_view(self._own_server(account, server_id))

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
        settle(self.options, now, self._snapshots.values(), self._servers.values())
        return now

    def _count_touch(self, snapshot: SnapshotRow, operation: str) -> None:
        """Count a restore or delete that found customer data (a snapshot not created through the API)."""
        if not snapshot.by_api:
            self._foreign[operation] += 1

    def _allocate_id(self) -> int:
        """The next unused snapshot id, skipping ids that seeded snapshots hold."""
        while self._next_id in self._snapshots or self._next_id in self._deleted:
            self._next_id += 1
        snapshot_id = self._next_id
        self._next_id += 1
        return snapshot_id

    def _any_server(self, server_id: int) -> ServerRow:
        """A server of any account, for the data plane."""
        server = self._servers.get(server_id)
        if server is None:
            raise not_found("Server does not exist.")
        return server

    def _own_server(self, account: Account, server_id: int, message: str = "Not found.") -> ServerRow:
        """A server of `account`; another account's server is as absent as a missing one."""
        server = self._servers.get(server_id)
        if server is None or server.account != account.name:
            raise not_found(message)
        return server

    def _creatable_server(self, account: Account, server_id: int) -> ServerRow:
        """The server a create names: the account's own, and not being restored."""
        if self.options.fault("notfound-create-400") and server_id not in self._servers:
            raise invalid(f'server_id: Invalid pk "{server_id}" - object does not exist.')
        if self.options.fault("notfound-create-invents-server") and server_id not in self._servers:
            self._servers[server_id] = ServerRow(
                server_id, account.name, f"server-{server_id}", 25, "active", ""
            )
        if self.options.fault("tenant-create-any"):
            server = self._any_server(server_id)
        else:
            server = self._own_server(account, server_id, "Server does not exist.")
        if server.status == "restoring":
            raise invalid("Server is being restored; a snapshot cannot be created now.", "invalid_state")
        return server

    def _own_snapshot(
        self, account: Account, snapshot_id: int, *, any_account: bool = False, deleted_too: bool = False
    ) -> SnapshotRow:
        """A snapshot on one of `account`'s servers; anything else is 404.

        `any_account` and `deleted_too` widen the lookup as injected faults do (never in the faithful target).
        """
        snapshot = self._snapshots.get(snapshot_id)
        if snapshot is None and deleted_too and snapshot_id in self._deleted:
            snapshot = self._deleted[snapshot_id][0]
        if snapshot is None or (snapshot.server.account != account.name and not any_account):
            raise not_found("Snapshot does not exist.")
        return snapshot

    def _listable(self) -> list[SnapshotRow]:
        """The rows the list query reads: live snapshots (and soft-deleted ones, with a fault)."""
        rows = list(self._snapshots.values())
        if self.options.fault("delete-soft-listed"):
            rows += [row for row, _ in self._deleted.values()]
        return rows

    def _visible(self, snapshot: SnapshotRow, account: Account, server_id: int | None) -> bool:
        """Whether a list of `account`, filtered by `server_id` or not, shows the snapshot."""
        own = snapshot.server.account == account.name
        if server_id is not None:
            return snapshot.server.id == server_id and (own or self.options.fault("tenant-filter-leak"))
        return own or self.options.fault("tenant-list-leak")

    def _limit_reached(self, server: ServerRow, account: Account, now: float) -> bool:
        """Whether the server already holds the maximum (see limits.limit_reached)."""
        return limit_reached(self.options, self._snapshots.values(), server, account, now)

    _limit_error = staticmethod(limit_error)

    def _insert(
        self, server: ServerRow, name: str | None, description: str | None, now: float
    ) -> SnapshotRow:
        """Store a new snapshot of `server` holding its current data, in progress from `now`."""
        minutes = lifecycle.create_minutes(server.disk_gb, self.options)
        ready_at = now + self.clock.seconds(minutes)
        if self.options.fault("lifecycle-never-completes"):
            ready_at = math.inf
        snapshot_id = self._allocate_id()
        snapshot = SnapshotRow(
            id=snapshot_id,
            server=server,
            name=name if name is not None else f"snapshot-{snapshot_id}",
            description=description,
            marker=server.marker,
            created_wall=self.clock.wall(),
            ready_at=ready_at,
            ready_after=timedelta(seconds=self.clock.seconds(minutes)),
            size_mb=lifecycle.snapshot_size_mb(server.disk_gb, snapshot_id),
            copy_pending=self.options.fault("data-copy-at-completion"),
        )
        self._snapshots[snapshot.id] = snapshot
        if self.options.fault("limit-delete-frees-late"):
            held = sum(1 for s in self._snapshots.values() if s.server is server)
            server.full_flag = server.full_flag or held >= SNAPSHOT_LIMIT
        return snapshot

    def _restore_source(self, snapshot: SnapshotRow, now: float) -> SnapshotRow:
        """The snapshot whose data a restore of `snapshot` brings back."""
        if not self.options.fault("data-latest-snapshot"):
            return snapshot
        done = [s for s in self._snapshots.values() if s.server is snapshot.server and now >= s.ready_at]
        return max(done, key=lambda s: s.id, default=snapshot)
