"""RESTORE and TIME-02: a restore starts at once, refuses a second one meanwhile, and ends in time.

One snapshot is created on a leased server. While it is still in progress it is restored once (RESTORE-06);
once completed it is restored (RESTORE-01..03), restored again at once (RESTORE-04), watched until the server
leaves `restoring` (RESTORE-05, TIME-02, RESTORE-07), looked up (RESTORE-08) and restored a last time
(RESTORE-05: a finished restore lets the next one in). Every restore the test starts is waited for, so the
server is idle again when the test returns.

Restores are watched through the provider's servers API. A target without it is watched through the data
probes (the restore is over when the server's data changes back to the snapshot's); with neither, the
requirements that need to see the end are inconclusive and the test waits out the documented maximum.
"""

from __future__ import annotations

import time

import pytest

from vpsconform.client import json_or_none
from vpsconform.contract import CREATE_MAX_MINUTES, RESTORE_MAX_MINUTES
from vpsconform.errors import ObservationError, ProbeError
from vpsconform.ledger import same_id
from vpsconform.observe import find_snapshot, poll_until, server_status

ALL = (
    "RESTORE-01",
    "RESTORE-02",
    "RESTORE-03",
    "RESTORE-04",
    "RESTORE-05",
    "RESTORE-06",
    "RESTORE-07",
    "RESTORE-08",
    "TIME-02",
)


class RestoreWatch:
    """How this target lets a restore's end be seen: the servers API, the data probes, or not at all."""

    def __init__(self, api, servers, timing, server_id: int, probes) -> None:
        self.api = api
        self.servers = servers
        self.timing = timing
        self.server_id = server_id
        self.servers_api = server_status(api, server_id) is not None
        self.probes = None if self.servers_api else probes
        self.probe_failure: str | None = None

    @property
    def how(self) -> str:
        """What the end of a restore is judged by, for messages."""
        if self.servers_api:
            return "the servers API"
        if self.probes:
            return "the data probe"
        return f"nothing (the data probe failed: {self.probe_failure})" if self.probe_failure else "nothing"

    def read(self) -> str:
        """The server's marker; ObservationError when the probe fails (the restore's end cannot be seen)."""
        try:
            return self.probes.read(self.server_id)
        except ProbeError as exc:
            raise ObservationError(f"the data probe that shows a restore's end failed: {exc}") from None

    def mark(self, marker: str) -> None:
        """Put a marker on the server's data (only when the probes are what shows a restore's end); a probe
        that fails leaves the restores unobservable, with the reason."""
        if self.probes is None:
            return
        try:
            self.probes.write(self.server_id, marker)
        except ProbeError as exc:
            self.probes, self.probe_failure = None, str(exc)

    def wait(self, started: float, changed_from: str | None) -> tuple[str, float | None, list[str]]:
        """Wait for the restore begun at `started` (monotonic, just before its POST) to end.

        Returns (outcome, seconds from `started` to the end, statuses seen): outcome is ``finished``,
        ``late`` (it ended, but was still going past the documented maximum), ``timeout`` (still going at
        twice the maximum) or ``unobservable`` (nothing shows the end: the maximum is waited out instead).
        A restore still going at the maximum is followed for as long again, so that a slow restore is told
        from one that never ends. A data probe that fails is an ObservationError, never "data unchanged".
        """
        limit = self.timing.restore_max
        if self.servers_api:
            seconds, seen = self.servers.watch_restore(self.server_id, started=started)
            if seen and seconds is not None:
                return "finished", seconds, seen
            if seen:
                seconds, more = self.servers.watch_restore(self.server_id, started=started, limit=2 * limit)
                seen += [status for status in more if status != seen[-1]]
                return ("late" if seconds is not None else "timeout"), seconds, seen
        if self.probes is not None and changed_from is not None:
            changed, seconds = poll_until(
                lambda: self.read() != changed_from, 2 * limit, self.timing.poll_interval, started=started
            )
            if not changed:
                return "timeout", None, []
            return ("late" if seconds > limit else "finished"), seconds, []
        remaining = limit - (time.monotonic() - started)
        if remaining > 0:
            time.sleep(remaining)
        return "unobservable", None, []


@pytest.mark.requirement(*ALL)
@pytest.mark.profile("standard")
@pytest.mark.waits(CREATE_MAX_MINUTES + 2 * RESTORE_MAX_MINUTES)  # waits for a snapshot and two restores
def test_restore_lifecycle(api, servers, snapshots, names, check, timing, run_state, request):
    """Restore a snapshot: refused while in progress, then accepted, exclusive, finished in time, repeatable.

    Defects caught, per check:
    - RESTORE-06 (interpretation): restoring from a snapshot that holds no complete copy yet.
    - RESTORE-01: a restore of a completed snapshot refused or answered 201/202/204 (undocumented codes).
    - RESTORE-02: a restore body naming another snapshot or server (e.g. the server's latest snapshot, or the
      snapshot id echoed as the server id), or a status other than "success".
    - RESTORE-03: the restore answer still showing the server's old power state instead of `restoring`.
    - RESTORE-04: a second restore accepted on a server that is restoring (no state check, or a race).
    - RESTORE-05: a server stuck in `restoring` forever, or one that refuses every later restore (a lock
      that is never released).
    - TIME-02: a restore that takes longer than 15 documented minutes (times the scale, plus tolerance).
    - RESTORE-07 (interpretation): a server left in an undocumented state, or started although it was stopped.
    - RESTORE-08 (interpretation): a restore that consumes (deletes) its snapshot.
    """
    with servers.lease(room=1) as server_id:
        if server_id is None:
            check.inconclusive_all(ALL, "no configured server has a free snapshot slot")
            return
        probes = request.getfixturevalue("probes") if run_state.config.has_probes else None
        watch = RestoreWatch(api, servers, timing, server_id, probes)
        try:
            restore_scenario(api, servers, snapshots, names, check, timing, run_state, server_id, watch)
        finally:
            servers.wait_idle(server_id)


def restore_scenario(api, servers, snapshots, names, check, timing, run_state, server_id, watch) -> None:
    """The steps of test_restore_lifecycle on one leased server."""
    snapshot_marker, later_marker = names("restore-data"), names("restore-later")
    watch.mark(snapshot_marker)
    name = names("restore")
    response, body = snapshots.create(server_id, name=name)
    if body is None:
        check.inconclusive_all(
            ALL, f"no snapshot to restore: create on server {server_id} answered {response.status_code}"
        )
        return
    snapshot_id = body["id"]
    where = f"snapshot {snapshot_id} of server {server_id}"

    # RESTORE-06: restoring the snapshot while it is still in progress (the server itself is idle).
    if body.get("status") != "in_progress":
        check.inconclusive("RESTORE-06", f"{where} was {body.get('status')!r} at creation, never in progress")
    else:
        started = time.monotonic()
        early = api.restore_snapshot(snapshot_id)
        if early.status_code == 400:
            check.status("RESTORE-06", early, f"restore of in-progress {where}")
        else:
            item = find_snapshot(api, snapshot_id, server_id)
            if 200 <= early.status_code < 300:
                watch.wait(started, None)  # accepted: let it finish before going on
            if item is not None and item.get("status") == "in_progress":
                check.status("RESTORE-06", early, f"restore of in-progress {where} (still in progress after)")
            else:
                check.inconclusive(
                    "RESTORE-06",
                    f"{where} completed before the restore could be judged (answered {early.status_code})",
                )

    timeline = snapshots.wait(body)
    if timeline.final != "completed":
        check.inconclusive_all(
            [rid for rid in ALL if rid != "RESTORE-06"], f"{where} never completed ({timeline.final!r})"
        )
        return
    watch.mark(later_marker)  # so the restore visibly changes the data back

    # RESTORE-01..03: a completed snapshot of an idle server restores, and the answer says so.
    before = server_status(api, server_id)
    started = time.monotonic()
    restore = api.restore_snapshot(snapshot_id)
    accepted = 200 <= restore.status_code < 300
    check.status("RESTORE-01", restore, f"restore of completed {where}")
    if not accepted:
        check.inconclusive_all(
            [rid for rid in ALL if rid not in ("RESTORE-01", "RESTORE-06")],
            f"the restore of {where} was not started ({restore.status_code})",
        )
        return
    # RESTORE-04 first: the second restore must reach the server while the first still runs.
    current = server_status(api, server_id) if watch.servers_api else "restoring"
    if current == "restoring":
        second = api.restore_snapshot(snapshot_id)
        if second.status_code == 404 and find_snapshot(api, snapshot_id, server_id) is None:
            check.inconclusive(
                "RESTORE-04", f"{where} was gone once its restore started (404; see RESTORE-08)"
            )
        else:
            check.status("RESTORE-04", second, f"second restore of {where} while the server is restoring")
    else:
        check.inconclusive(
            "RESTORE-04",
            f"server {server_id} was already {current!r} again right after the "
            "restore started; no second restore could be sent while restoring",
        )
    check_restore_body(check, restore, snapshot_id, name, server_id)

    # RESTORE-05, TIME-02, RESTORE-07: the restore ends in time, and leaves the server active or stopped.
    outcome, seconds, seen = watch.wait(started, later_marker)
    judge_end(check, run_state, timing, watch, server_id, "restore", outcome, seconds, seen)
    if outcome in ("finished", "late") and watch.servers_api:
        after = seen[-1]
        accept = run_state.catalog["RESTORE-07"].accept
        fine = after in accept and (after == before or after == "stopped" or before not in accept)
        check.that(
            "RESTORE-07",
            fine,
            f"server {server_id} was {before!r} before the restore, {after!r} after "
            f"(expected {' or '.join(accept)}, and not started if it was stopped)",
        )
    else:
        check.inconclusive(
            "RESTORE-07",
            f"the server's state after the restore cannot be read (watched by "
            f"{watch.how}, outcome {outcome})",
        )
    if outcome == "timeout":
        check.inconclusive("RESTORE-08", "the restore did not finish, so there is no 'afterwards'")
        return

    # RESTORE-08: the restored snapshot is still there.
    item = find_snapshot(api, snapshot_id, server_id)
    check.that(
        "RESTORE-08",
        item is not None,
        f"{where} after its restore: " + ("still listed" if item else "no longer listed"),
    )

    # RESTORE-05 (second part): once the restore is over, a new one is accepted, and it ends too.
    watch.mark(later_marker)
    if item is None:
        check.inconclusive("RESTORE-05", f"{where} is gone after its restore: no snapshot to restore again")
        return
    started = time.monotonic()
    again = api.restore_snapshot(snapshot_id)
    # Accepted is what counts here; the exact success code is RESTORE-01's.
    restarted = 200 <= again.status_code < 300
    check.that(
        "RESTORE-05",
        restarted,
        f"new restore of {where} after the first one finished: got {again.status_code}, expected it accepted",
        evidence=again,
    )
    if restarted:
        outcome, seconds, seen = watch.wait(started, later_marker)
        judge_end(check, run_state, timing, watch, server_id, "second restore", outcome, seconds, seen)


def check_restore_body(check, restore, snapshot_id: int, name: str, server_id: int) -> None:
    """RESTORE-02 and RESTORE-03 on a restore's 200 body."""
    body = json_or_none(restore)
    if not isinstance(body, dict):
        check.that(
            "RESTORE-02",
            False,
            f"restore answered {restore.status_code} without a JSON object body",
            evidence=restore,
        )
        check.inconclusive("RESTORE-03", "no restore body to read the server's status from")
        return
    snapshot = body.get("snapshot") if isinstance(body.get("snapshot"), dict) else {}
    server = body.get("server") if isinstance(body.get("server"), dict) else {}
    problems = []
    if body.get("status") != "success":
        problems.append(f"status {body.get('status')!r}, expected 'success'")
    if not same_id(snapshot.get("id"), snapshot_id):
        problems.append(f"snapshot.id {snapshot.get('id')!r}, expected {snapshot_id}")
    if snapshot.get("name") != name:
        problems.append(f"snapshot.name {snapshot.get('name')!r}, expected {name!r}")
    if not same_id(server.get("id"), server_id):
        problems.append(f"server.id {server.get('id')!r}, expected {server_id}")
    check.that(
        "RESTORE-02",
        not problems,
        f"restore of snapshot {snapshot_id}: "
        + ("; ".join(problems) if problems else "names the snapshot, its server and success"),
        evidence=restore,
    )
    check.that(
        "RESTORE-03",
        server.get("status") == "restoring",
        f"restore answer's server.status is {server.get('status')!r}, expected 'restoring'",
        evidence=restore,
    )


def judge_end(
    check,
    run_state,
    timing,
    watch,
    server_id: int,
    what: str,
    outcome: str,
    seconds: float | None,
    seen: list[str],
) -> None:
    """RESTORE-05 (it ends) and TIME-02 (within the documented maximum) for one watched restore."""
    trail = f" (server statuses {' -> '.join(seen)})" if seen else ""
    if outcome == "finished":
        run_state.measure("restore", seconds or 0.0, server_id=server_id)
        check.that("RESTORE-05", True, f"{what} on server {server_id} ended, seen through {watch.how}{trail}")
        check.that(
            "TIME-02",
            True,
            f"{what} on server {server_id} ended within {seconds:.2f} s "
            f"(maximum {timing.restore_max:.2f} s){trail}",
        )
    elif outcome == "late":
        run_state.measure("restore", seconds or 0.0, server_id=server_id)
        check.that(
            "RESTORE-05", True, f"{what} on server {server_id} ended (late), seen through {watch.how}{trail}"
        )
        check.that(
            "TIME-02",
            False,
            f"{what} on server {server_id} was still going past the maximum of {timing.restore_max:.2f} s "
            f"and ended after {seconds:.2f} s{trail}",
        )
    elif outcome == "timeout":
        sign = "still restoring" if watch.servers_api else "data still not the snapshot's"
        message = f"{what} on server {server_id}: {sign} {2 * timing.restore_max:.2f} s after the POST{trail}"
        check.that("RESTORE-05", False, message + " (twice the documented maximum)")
        check.that("TIME-02", False, message)
    else:
        reason = (
            f"the end of the {what} cannot be observed: no servers API, watched by {watch.how} "
            f"(waited out the documented maximum, {timing.restore_max:.2f} s)"
        )
        check.inconclusive("RESTORE-05", reason)
        check.inconclusive("TIME-02", reason)
