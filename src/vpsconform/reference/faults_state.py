"""Injected faults of state over time: deletes, lifecycles, durations, and what only the history shows.

The last group breaks the contract outside the scenario written for the requirement: the run sends the
requests that expose it (lists after restores, after deletes, creates on absent servers), so the history
model catches it wherever it shows.
"""

from __future__ import annotations

from vpsconform.reference.fault import Fault

STATE_FAULTS: tuple[Fault, ...] = (
    # --- DELETE -----------------------------------------------------------------------------------------
    Fault(
        "delete-200",
        'a delete answers 200 with a JSON body {"status": "deleted"} instead of an empty 204',
        ("DELETE-01", "DELETE-02", "SCHEMA-05"),
    ),
    Fault(
        "delete-soft-listed",
        "deletes are soft and the list queryset does not exclude them: deleted snapshots stay listed",
        ("DELETE-03",),
        keeps_snapshots=True,
    ),
    Fault(
        "delete-still-restorable",
        "deletes are soft and restore does not exclude them: a deleted snapshot can be restored",
        ("DELETE-04",),
    ),
    Fault(
        "delete-twice-204",
        "deleting an already (soft-)deleted snapshot answers 204 again",
        ("DELETE-05",),
    ),
    Fault(
        "delete-server-wide",
        "the delete filters by the snapshot's server, not its id: all the server's snapshots go",
        ("DELETE-06",),
    ),
    # --- LIFECYCLE --------------------------------------------------------------------------------------
    Fault(
        "lifecycle-never-completes",
        "the snapshot job's completion is never recorded: snapshots stay in_progress forever",
        ("LIFECYCLE-02", "TIME-01"),
    ),
    Fault(
        "lifecycle-fails",
        'every snapshot ends "failed" instead of "completed"',
        ("LIFECYCLE-01", "LIFECYCLE-02"),
    ),
    Fault(
        "lifecycle-flaps",
        "one of three read replicas lags: every third listing of a completed snapshot says in_progress",
        ("LIFECYCLE-03",),
    ),
    Fault(
        "lifecycle-size-string",
        'size_mb of completed snapshots is a string ("5120") (a DecimalField/CharField rendering)',
        ("LIFECYCLE-04",),
    ),
    Fault(
        "lifecycle-created-at-moves",
        "created_at is an auto_now column: it becomes the completion time",
        ("LIFECYCLE-06",),
    ),
    # --- TIME -------------------------------------------------------------------------------------------
    Fault(
        "time-slow-create",
        "every snapshot takes 12 documented minutes (the page promises at most 10)",
        ("TIME-01",),
    ),
    Fault(
        "time-slow-restore",
        "every restore takes 18 documented minutes (the page promises at most 15)",
        ("TIME-02",),
    ),
    Fault(
        "time-naive-timestamp",
        'created_at is rendered without a zone designator ("2025-01-16T16:15:00")',
        ("TIME-03",),
    ),
    Fault(
        "time-local-offset",
        "created_at is local time (+02:00) labelled Z: two hours off",
        ("TIME-04",),
    ),
    # --- seen only across scenarios (the history model) --------------------------------------------------
    Fault(
        "lifecycle-regresses-after-restore",
        "a snapshot used for a restore is re-snapshotted after it: it goes back to in_progress for a while",
        ("LIFECYCLE-03",),
        shows_in=("RESTORE",),
    ),
    Fault(
        "delete-neighbour",
        "the delete looks the row up by position on the server, off by one: it removes a neighbour (the next"
        " newer or older snapshot of that server) and keeps the one named",
        ("DELETE-06",),
    ),
    Fault(
        "notfound-create-invents-server",
        "a create on a server that does not exist provisions it on the fly: 201, and from then on the"
        " server exists (the servers API and the list filter show it)",
        ("NOTFOUND-01",),
    ),
)
