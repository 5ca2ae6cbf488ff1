"""Deliberate defects the target can be told to commit, so the suite can be shown to catch them.

Each fault is one realistic bug a provider's developers could ship, switched on by name and implemented as a
small conditional at the decision point where the bug would live (``options.fault(name)``). Its ``breaks``
are the MUST requirements a correct conformance suite certainly reports failed because of it: the primary
ones, whose checks cannot miss the defect, not every requirement a side effect might disturb.
"""

from __future__ import annotations

from vpsconform.reference.fault import Fault
from vpsconform.reference.faults_state import STATE_FAULTS

__all__ = ["FAULTS", "Fault"]


FAULTS: dict[str, Fault] = {
    f.name: f
    for f in (
        # --- AUTH -------------------------------------------------------------------------------------------
        Fault(
            "auth-missing-header-allowed",
            "a request without an Authorization header is served as the main account (a dev fallback)",
            ("AUTH-01",),
        ),
        Fault(
            "auth-any-token",
            "any well-formed bearer token is accepted as the main account (the token is never looked up)",
            ("AUTH-02",),
        ),
        Fault(
            "auth-after-lookup",
            "restore and delete look the snapshot up before auth: anonymous calls on absent ids get 404",
            ("AUTH-04",),
        ),
        Fault(
            "auth-after-validation",
            "create validates the body before authenticating: anonymous invalid bodies get 400",
            ("AUTH-05",),
        ),
        Fault(
            "auth-403",
            "missing, malformed and unknown credentials are answered 403 instead of 401",
            ("AUTH-01", "AUTH-02", "AUTH-03", "AUTH-04", "AUTH-05"),
        ),
        Fault(
            "auth-restore-session-only",
            "the restore action overrides its authentication classes with session auth only: a valid bearer"
            " token gets 401 there",
            ("AUTH-06", "RESTORE-01"),
        ),
        # --- LIST -------------------------------------------------------------------------------------------
        Fault(
            "list-filter-ignored",
            "the server_id filter is parsed but never applied: every own snapshot is listed",
            ("LIST-03",),
        ),
        Fault(
            "list-first-server-only",
            "without server_id the list defaults to the account's first server instead of all of them",
            ("LIST-02",),
        ),
        Fault(
            "list-count-total",
            "count is taken from the unscoped, unfiltered table: every snapshot of every account",
            ("LIST-04",),
        ),
        Fault(
            "list-drops-description",
            "list items always carry description null (the list serializer omits the column)",
            ("LIST-05",),
        ),
        Fault(
            "list-bare-array",
            "pagination is switched off: the list is a bare JSON array without count and results",
            ("LIST-01", "SCHEMA-01"),
        ),
        # --- CREATE -----------------------------------------------------------------------------------------
        Fault(
            "create-200",
            "a successful create answers 200 instead of 201",
            ("CREATE-01", "SCHEMA-05"),
        ),
        Fault(
            "create-wrong-server",
            "the 201 body's server.id is the snapshot's own id (the nested serializer reads `id`)",
            ("CREATE-02",),
        ),
        Fault(
            "create-pending-status",
            'new snapshots are "pending" (not "in_progress") until they complete',
            ("CREATE-03", "LIFECYCLE-01"),
        ),
        Fault(
            "create-dedupe-by-name",
            "get_or_create by (server, name): a repeated name returns the existing snapshot with 201",
            ("CREATE-04",),
        ),
        # --- VALID ------------------------------------------------------------------------------------------
        Fault(
            "valid-unicode-names",
            "names are checked with str.isalnum(): non-ASCII letters and digits (é, Cyrillic) pass",
            ("VALID-03",),
        ),
        Fault(
            "valid-dollar-anchor",
            "names are checked with re.match('^[A-Za-z0-9_-]+$'): a trailing newline passes",
            ("VALID-03",),
        ),
        Fault(
            "valid-empty-name",
            "the name pattern uses * instead of + and blank names are not refused: an empty name is accepted",
            ("VALID-02",),
        ),
        Fault(
            "valid-name-max-32",
            "names longer than 32 characters are refused with 400",
            ("VALID-01",),
        ),
        Fault(
            "valid-bool-server-id",
            "server_id is coerced with int(): true/false become 1/0, fractions are cut (12345.5 -> 12345)",
            ("VALID-06",),
        ),
        Fault(
            "valid-missing-name-defaulted",
            'a create without name gets the default name "snapshot-<id>" and 201',
            ("VALID-05",),
        ),
        Fault(
            "valid-array-unwrapped",
            "a JSON array body is taken for its first element: [{...valid create...}] creates a snapshot",
            ("VALID-07",),
        ),
        # --- LIMIT ------------------------------------------------------------------------------------------
        Fault(
            "limit-off-by-one-low",
            "the limit check is `count >= 4`: the fifth snapshot of a server is refused",
            ("LIMIT-01",),
        ),
        Fault(
            "limit-off-by-one",
            "the limit check is `count > 5`: a sixth snapshot is accepted",
            ("LIMIT-02", "LIMIT-03"),
        ),
        Fault(
            "limit-completed-only",
            "the limit counts only completed snapshots: creates go through while five are in progress",
            ("LIMIT-02",),
        ),
        Fault(
            "limit-in-progress-only",
            "the limit counts only running snapshot jobs: once five have completed, more are accepted",
            ("LIMIT-03",),
        ),
        Fault(
            "limit-not-atomic",
            "count and insert are separate steps with an await between: concurrent creates pass the count",
            ("LIMIT-06",),
        ),
        Fault(
            "limit-per-account",
            "the limit is 5 snapshots per account across all its servers (the account's other snapshots"
            " leave a server less than 5)",
            ("LIMIT-01", "LIMIT-05"),
        ),
        Fault(
            "limit-delete-frees-late",
            "a full server's cached 'full' flag is cleared by a recount job a documented minute after a"
            " delete, not by the delete: the freed slot is refused until then",
            ("LIMIT-04",),
        ),
        Fault(
            "limit-refused-still-saved",
            "the snapshot is inserted before the limit check and not rolled back: the refused create is kept",
            ("LIMIT-07",),
        ),
        # --- NOTFOUND ---------------------------------------------------------------------------------------
        Fault(
            "notfound-create-400",
            'a server_id no server has is refused by the serializer with 400 "Invalid pk" instead of 404',
            ("NOTFOUND-01",),
        ),
        Fault(
            "notfound-restore-400",
            "restore checks the state before existence: a missing (or deleted) snapshot gets 400",
            ("NOTFOUND-02", "DELETE-04"),
        ),
        Fault(
            "notfound-delete-204",
            "delete answers 204 when no snapshot has the id (never existed or already deleted)",
            ("NOTFOUND-03", "DELETE-05"),
        ),
        Fault(
            "notfound-lenient-path-id",
            'path ids are parsed with int(float(x)): "801.5" and "801e0" act on snapshot 801',
            ("NOTFOUND-04",),
        ),
        # --- RESTORE ----------------------------------------------------------------------------------------
        Fault(
            "restore-202",
            "a started restore answers 202 Accepted instead of 200",
            ("RESTORE-01", "SCHEMA-05"),
        ),
        Fault(
            "restore-reports-active",
            'the restore answer reports the server status "active" instead of "restoring"',
            ("RESTORE-03",),
        ),
        Fault(
            "restore-no-lock",
            "a restore is accepted while the server is already restoring",
            ("RESTORE-04",),
        ),
        Fault(
            "restore-never-ends",
            "the restore job's completion is never recorded: the server stays restoring forever",
            ("RESTORE-05", "TIME-02"),
        ),
        Fault(
            "restore-wrong-snapshot-echo",
            "the restore answer's snapshot.id carries the server's id (copy-paste slip in the serializer)",
            ("RESTORE-02",),
        ),
        # --- DATA -------------------------------------------------------------------------------------------
        Fault(
            "data-no-overwrite",
            "a restore runs its course and flips statuses but leaves the server's data untouched",
            ("DATA-01",),
        ),
        Fault(
            "data-latest-snapshot",
            "a restore brings back the server's newest completed snapshot, whichever one was requested",
            ("DATA-02",),
        ),
        Fault(
            "data-copy-at-completion",
            "a snapshot copies the server's data when its job completes, not when it is created",
            ("DATA-03",),
        ),
        # --- SCHEMA -----------------------------------------------------------------------------------------
        Fault(
            "schema-renamed-created-at",
            "snapshots carry `created` instead of `created_at` in the list and the create answer",
            ("SCHEMA-01", "SCHEMA-02"),
        ),
        Fault(
            "schema-no-message",
            "the 201 answer to a create has no `message`",
            ("SCHEMA-02",),
        ),
        Fault(
            "schema-restore-no-snapshot",
            "the restore answer has no `snapshot` object",
            ("SCHEMA-03", "RESTORE-02"),
        ),
        Fault(
            "schema-text-plain",
            "successful JSON bodies are served as text/plain",
            ("SCHEMA-04",),
        ),
        # --- ROBUST -----------------------------------------------------------------------------------------
        Fault(
            "robust-filter-500",
            "int() on the server_id filter without a guard: a non-integer filter answers 500",
            ("ROBUST-01",),
        ),
        Fault(
            "robust-long-name-500",
            "no length check on names and a varchar(64) column: longer names answer 500 on insert",
            ("ROBUST-01", "VALID-04"),
        ),
        Fault(
            "robust-unknown-filter-500",
            "the list filter does an unguarded Server.objects.get(): a server_id not of the account is 500",
            ("ROBUST-01", "ROBUST-02"),
        ),
        Fault(
            "robust-bigint-500",
            "path ids beyond 64 bits overflow the database integer: 500",
            ("ROBUST-01", "ROBUST-03"),
        ),
        Fault(
            "robust-null-description-500",
            'an explicit "description": null crashes (.strip() on None): 500',
            ("ROBUST-01",),
        ),
        Fault(
            "robust-deep-nesting-500",
            "the JSON parser's RecursionError is not caught: deeply nested bodies answer 500",
            ("ROBUST-01", "ROBUST-03"),
        ),
        # --- TENANT -----------------------------------------------------------------------------------------
        Fault(
            "tenant-list-leak",
            "the list without server_id is not scoped to the caller: every account's snapshots are shown",
            ("TENANT-01", "TENANT-05"),
        ),
        Fault(
            "tenant-filter-leak",
            "the server_id filter bypasses the account scope: another account's server lists its snapshots",
            ("TENANT-01",),
        ),
        Fault(
            "tenant-restore-any",
            "restore looks the snapshot up by id alone: another account's snapshot is restored",
            ("TENANT-02",),
        ),
        Fault(
            "tenant-delete-any",
            "delete looks the snapshot up by id alone: another account's snapshot is deleted",
            ("TENANT-03",),
        ),
        Fault(
            "tenant-create-any",
            "create looks the server up by id alone: another account's server is snapshotted",
            ("TENANT-04",),
        ),
        # --- defects that would let a careless suite touch data it was never given -------------------------
        Fault(
            "lenient-ids",
            "path ids go through a forgiving parser (percent-decoded again, trimmed, float, hex, Unicode"
            ' digits, leading digits): "1e3", "0x3e8", "1000abc" and " 1000 " all act on snapshot 1000',
            ("NOTFOUND-04",),
        ),
        Fault(
            "open-auth-unknown",
            "a bearer token that matches no account is served as the default (main) account",
            ("AUTH-02",),
        ),
        Fault(
            "string-ids",
            'ids are serialized as strings ("801") in every body, a JSON-safety setting for 64-bit ids',
            ("SCHEMA-01", "SCHEMA-02"),
        ),
        Fault(
            "delete-noop",
            "DELETE answers 204 but only queues the delete on a worker that never runs: nothing is deleted",
            ("DELETE-03", "DELETE-04", "DELETE-05"),
            keeps_snapshots=True,
        ),
        *STATE_FAULTS,
    )
}
