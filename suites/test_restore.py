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

import dataclasses
import time
from typing import NamedTuple

import httpx
import pytest

from vpsconform.client import ApiClient, json_or_none
from vpsconform.contract import CREATE_MAX_MINUTES, RESTORE_MAX_MINUTES
from vpsconform.errors import ObservationError, ProbeError
from vpsconform.ledger import same_id
from vpsconform.observe import Timing, find_snapshot, poll_until, server_status
from vpsconform.plugin.resources import Servers, Snapshots
from vpsconform.plugin.state import Names, RunState
from vpsconform.probes import Probes
from vpsconform.verdicts import Checker

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


class RestoreEnd(NamedTuple):
    """How a watched restore ended (see :meth:`RestoreWatch.wait`)."""

    outcome: str
    seconds: float | None
    seen: list[str]


class RestoreWatch:
    """How this target lets a restore's end be seen: the servers API, the data probes, or not at all."""

    def __init__(
        self, api: ApiClient, servers: Servers, timing: Timing, server_id: int, probes: Probes | None
    ) -> None:
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
            assert self.probes is not None
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

    def wait(self, started: float, changed_from: str | None) -> RestoreEnd:
        """Wait for the restore begun at `started` (monotonic, just before its POST) to end.

        Returns how it ended: outcome is ``finished``,
        ``late`` (it ended, but was still going past the documented maximum), ``timeout`` (still going at
        twice the maximum) or ``unobservable`` (nothing shows the end: the maximum is waited out instead).
        A restore still going at the maximum is followed for as long again, so that a slow restore is told
        from one that never ends. A data probe that fails is an ObservationError, never "data unchanged".
        """
        limit = self.timing.restore_max
        if self.servers_api:
            seconds, seen = self.servers.watch_restore(self.server_id, started=started)
            if seen and seconds is not None:
                return RestoreEnd("finished", seconds, seen)
            if seen:
                seconds, more = self.servers.watch_restore(self.server_id, started=started, limit=2 * limit)
                seen += [status for status in more if status != seen[-1]]
                return RestoreEnd("late" if seconds is not None else "timeout", seconds, seen)
        if self.probes is not None and changed_from is not None:
            changed, seconds = poll_until(
                lambda: self.read() != changed_from, 2 * limit, self.timing.poll_interval, started=started
            )
            if not changed:
                return RestoreEnd("timeout", None, [])
            return RestoreEnd("late" if seconds > limit else "finished", seconds, [])
        remaining = limit - (time.monotonic() - started)
        if remaining > 0:
            time.sleep(remaining)
        return RestoreEnd("unobservable", None, [])


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
            check.undecidable("no configured server has a free snapshot slot")
        probes = request.getfixturevalue("probes") if run_state.config.has_probes else None
        watch = RestoreWatch(api, servers, timing, server_id, probes)
        try:
            restore_scenario(Restore(api, snapshots, check, timing, run_state, server_id, watch), names)
        finally:
            servers.wait_idle(server_id)


@dataclasses.dataclass
class Restore:
    """What the steps of test_restore_lifecycle share: the leased server, how its restores are watched, and
    (once created) the snapshot they restore."""

    api: ApiClient
    snapshots: Snapshots
    check: Checker
    timing: Timing
    run_state: RunState
    server_id: int
    watch: RestoreWatch
    snapshot_id: int = 0
    name: str = ""

    @property
    def where(self) -> str:
        """The snapshot and its server, for messages."""
        return f"snapshot {self.snapshot_id} of server {self.server_id}"

    def start(self) -> tuple[float, httpx.Response]:
        """Restore the snapshot: when the POST went out (monotonic), and its answer."""
        started = time.monotonic()
        return started, self.api.restore_snapshot(self.snapshot_id)


def restore_scenario(s: Restore, names: Names) -> None:
    """The steps of test_restore_lifecycle on one leased server."""
    snapshot_marker, later_marker = names("restore-data"), names("restore-later")
    s.watch.mark(snapshot_marker)
    body = create_snapshot(s, names("restore"))
    restore_while_in_progress(s, body)
    timeline = s.snapshots.wait(body)
    if timeline.final != "completed":
        s.check.undecidable(f"{s.where} never completed ({timeline.final!r})")
    s.watch.mark(later_marker)  # so the restore visibly changes the data back
    before = server_status(s.api, s.server_id)
    started = restore_completed(s)
    end = s.watch.wait(started, later_marker)
    judge_end(s, "restore", end)
    judge_state_after(s, before, end)
    if end.outcome == "timeout":
        s.check.undecidable("the restore did not finish, so there is no 'afterwards'", ["RESTORE-08"])
    restore_again(s, later_marker)


def create_snapshot(s: Restore, name: str) -> dict:
    """The snapshot every step restores; without one the test cannot go on."""
    response, body = s.snapshots.create(s.server_id, name=name)
    if body is None:
        s.check.undecidable(
            f"no snapshot to restore: create on server {s.server_id} answered {response.status_code}"
        )
    s.snapshot_id, s.name = body["id"], name
    return body


def restore_while_in_progress(s: Restore, body: dict) -> None:
    """RESTORE-06: restoring the snapshot while it is still in progress (the server itself is idle)."""
    if body.get("status") != "in_progress":
        s.check.inconclusive(
            "RESTORE-06", f"{s.where} was {body.get('status')!r} at creation, never in progress"
        )
        return
    started, early = s.start()
    if early.status_code == 400:
        s.check.status("RESTORE-06", early, f"restore of in-progress {s.where}")
        return
    item = find_snapshot(s.api, s.snapshot_id, s.server_id)
    if 200 <= early.status_code < 300:
        s.watch.wait(started, None)  # accepted: let it finish before going on
    if item is not None and item.get("status") == "in_progress":
        s.check.status("RESTORE-06", early, f"restore of in-progress {s.where} (still in progress after)")
    else:
        s.check.inconclusive(
            "RESTORE-06",
            f"{s.where} completed before the restore could be judged (answered {early.status_code})",
        )


def restore_completed(s: Restore) -> float:
    """RESTORE-01..04: a completed snapshot of an idle server restores, the answer says so, and a second
    restore meanwhile is refused. Returns when the restore began."""
    started, restore = s.start()
    accepted = 200 <= restore.status_code < 300
    s.check.status("RESTORE-01", restore, f"restore of completed {s.where}")
    if not accepted:
        s.check.undecidable(f"the restore of {s.where} was not started ({restore.status_code})")
    # RESTORE-04 first: the second restore must reach the server while the first still runs.
    current = server_status(s.api, s.server_id) if s.watch.servers_api else "restoring"
    if current == "restoring":
        second = s.api.restore_snapshot(s.snapshot_id)
        if second.status_code == 404 and find_snapshot(s.api, s.snapshot_id, s.server_id) is None:
            s.check.inconclusive(
                "RESTORE-04", f"{s.where} was gone once its restore started (404; see RESTORE-08)"
            )
        else:
            s.check.status("RESTORE-04", second, f"second restore of {s.where} while the server is restoring")
    else:
        s.check.inconclusive(
            "RESTORE-04",
            f"server {s.server_id} was already {current!r} again right after the "
            "restore started; no second restore could be sent while restoring",
        )
    check_restore_body(s.check, restore, s.snapshot_id, s.name, s.server_id)
    return started


def judge_state_after(s: Restore, before: str | None, end: RestoreEnd) -> None:
    """RESTORE-07: the restore leaves the server active or stopped (and a stopped one not started)."""
    if end.outcome in ("finished", "late") and s.watch.servers_api:
        after = end.seen[-1]
        accept = s.run_state.catalog["RESTORE-07"].accept
        fine = after in accept and (after == before or after == "stopped" or before not in accept)
        s.check.that(
            "RESTORE-07",
            fine,
            f"server {s.server_id} was {before!r} before the restore, {after!r} after "
            f"(expected {' or '.join(accept)}, and not started if it was stopped)",
        )
    else:
        s.check.inconclusive(
            "RESTORE-07",
            f"the server's state after the restore cannot be read (watched by "
            f"{s.watch.how}, outcome {end.outcome})",
        )


def restore_again(s: Restore, later_marker: str) -> None:
    """RESTORE-08: the restored snapshot is still there; RESTORE-05 (second part): once the restore is over,
    a new one is accepted, and it ends too."""
    item = find_snapshot(s.api, s.snapshot_id, s.server_id)
    s.check.that(
        "RESTORE-08",
        item is not None,
        f"{s.where} after its restore: " + ("still listed" if item else "no longer listed"),
    )
    s.watch.mark(later_marker)
    if item is None:
        s.check.undecidable(
            f"{s.where} is gone after its restore: no snapshot to restore again", ["RESTORE-05"]
        )
    started, again = s.start()
    # Accepted is what counts here; the exact success code is RESTORE-01's.
    restarted = 200 <= again.status_code < 300
    s.check.that(
        "RESTORE-05",
        restarted,
        f"new restore of {s.where} after the first one finished: "
        f"got {again.status_code}, expected it accepted",
        evidence=again,
    )
    if restarted:
        judge_end(s, "second restore", s.watch.wait(started, later_marker))


def check_restore_body(
    check: Checker, restore: httpx.Response, snapshot_id: int, name: str, server_id: int
) -> None:
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


def judge_end(s: Restore, what: str, end: RestoreEnd) -> None:
    """RESTORE-05 (it ends) and TIME-02 (within the documented maximum) for one watched restore."""
    check, timing, how, server_id, seconds = s.check, s.timing, s.watch.how, s.server_id, end.seconds
    trail = f" (server statuses {' -> '.join(end.seen)})" if end.seen else ""
    if end.outcome == "finished":
        s.run_state.measure("restore", seconds or 0.0, server_id=server_id)
        check.that("RESTORE-05", True, f"{what} on server {server_id} ended, seen through {how}{trail}")
        check.that(
            "TIME-02",
            True,
            f"{what} on server {server_id} ended within {seconds:.2f} s "
            f"(maximum {timing.restore_max:.2f} s){trail}",
        )
    elif end.outcome == "late":
        s.run_state.measure("restore", seconds or 0.0, server_id=server_id)
        check.that(
            "RESTORE-05", True, f"{what} on server {server_id} ended (late), seen through {how}{trail}"
        )
        check.that(
            "TIME-02",
            False,
            f"{what} on server {server_id} was still going past the maximum of {timing.restore_max:.2f} s "
            f"and ended after {seconds:.2f} s{trail}",
        )
    elif end.outcome == "timeout":
        sign = "still restoring" if s.watch.servers_api else "data still not the snapshot's"
        message = f"{what} on server {server_id}: {sign} {2 * timing.restore_max:.2f} s after the POST{trail}"
        check.that("RESTORE-05", False, message + " (twice the documented maximum)")
        check.that("TIME-02", False, message)
    else:
        reason = (
            f"the end of the {what} cannot be observed: no servers API, watched by {how} "
            f"(waited out the documented maximum, {timing.restore_max:.2f} s)"
        )
        check.inconclusive("RESTORE-05", reason)
        check.inconclusive("TIME-02", reason)
