"""DATA: a finished restore puts back exactly the data the snapshot captured when it was created.

The API cannot see inside a server, so these checks use the data probes: a marker (unique to this run) is
written on a server, snapshots are taken between writes, and after a restore the marker read back says
which data the server holds. Two scenarios run at once on two servers when the pool allows (one after the
other on a single server otherwise):

- overwrite (DATA-01, DATA-02): write A, snapshot S1 (completed), write B, snapshot S2 (completed), write C,
  restore S1 -> A. C means the restore overwrote nothing; B means it brought back another snapshot's data.
- point in time (DATA-03): write D, snapshot S3 and, while S3 is in progress, write E; once S3 completed,
  write F and restore S3 -> D. E means S3 was copied when it completed rather than when it was created;
  F means the restore overwrote nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field

import pytest

from vpsconform.contract import CREATE_MAX_MINUTES, RESTORE_MAX_MINUTES
from vpsconform.errors import ProbeError
from vpsconform.observe import find_snapshot, poll_until

ALL = ("DATA-01", "DATA-02", "DATA-03")


@dataclass
class Outcome:
    """What one scenario found: the marker read after the restore, or why there is none."""

    markers: dict[str, str] = field(default_factory=dict)
    read: str | None = None
    reason: str | None = None  # set when the scenario could not reach a verdict
    during: bool = False  # point in time: E was written while the snapshot was still in progress
    created: list[int] = field(default_factory=list)


class Scenario:
    """Steps shared by both scenarios: markers, completed snapshots, and restores waited to their end."""

    def __init__(self, api, snapshots, servers, probes, names, timing, server_id: int) -> None:
        self.api = api
        self.snapshots = snapshots
        self.servers = servers
        self.probes = probes
        self.names = names
        self.timing = timing
        self.server_id = server_id
        self.outcome = Outcome()

    def write(self, label: str) -> str:
        """Write a fresh marker on the server and remember it under `label`."""
        marker = self.names(f"data-{label}")
        self.probes.write(self.server_id, marker)
        self.outcome.markers[label] = marker
        return marker

    def snapshot(self, label: str, *, wait: bool = True) -> dict | None:
        """Create a snapshot (and wait for it to complete); None, with the reason recorded, on failure."""
        response, body = self.snapshots.create(self.server_id, name=self.names(f"data-{label}"))
        if body is None:
            self.outcome.reason = (
                f"snapshot {label} of server {self.server_id}: create answered {response.status_code}"
            )
            return None
        self.outcome.created.append(body["id"])
        if wait and not self.completed(label, body):
            return None
        return body

    def completed(self, label: str, body: dict) -> bool:
        """Wait for a created snapshot to complete; False, with the reason recorded, when it does not."""
        timeline = self.snapshots.wait(body)
        if timeline.final != "completed":
            self.outcome.reason = (
                f"snapshot {label} ({body['id']}) never completed: {timeline.final!r} (see LIFECYCLE)"
            )
            return False
        return True

    def restore_and_read(self, label: str, body: dict, current: str) -> None:
        """Restore a snapshot, wait until the restore has finished, then read the server's marker.

        The end is seen through the servers API; without it, through the data (the restore is over when the
        marker is no longer `current`), bounded by the documented maximum. A probe that fails raises
        ProbeError: a failed read is never taken for "data unchanged".
        """
        started = time.monotonic()
        response = self.api.restore_snapshot(body["id"])
        if not 200 <= response.status_code < 300:
            self.outcome.reason = (
                f"restore of {label} ({body['id']}) answered {response.status_code} (see RESTORE)"
            )
            return
        seconds, seen = self.servers.watch_restore(self.server_id, started=started)
        if seen:
            if seconds is None:
                self.outcome.reason = (
                    f"the restore of {label} did not finish within {self.timing.restore_max:.2f} s"
                )
                return
            self.outcome.read = self.probes.read(self.server_id)
            return
        reads: list[str] = []  # no servers API: the data shows when the restore is over

        def changed() -> bool:
            reads.append(self.probes.read(self.server_id))
            return reads[-1] != current

        poll_until(changed, self.timing.restore_max, self.timing.poll_interval, started=started)
        self.outcome.read = reads[-1]


def probed(steps: Callable[[Scenario], None]) -> Callable[[Scenario], Outcome]:
    """Run a scenario's steps; a failing data probe leaves its outcome without a read, with the reason."""

    def run(scenario: Scenario) -> Outcome:
        try:
            steps(scenario)
        except ProbeError as exc:
            scenario.outcome.read = None
            scenario.outcome.reason = f"data probe failed: {exc}"
        return scenario.outcome

    return run


@probed
def overwrite(scenario: Scenario) -> None:
    """DATA-01/02: A, S1, B, S2, C, restore S1 -> A expected."""
    scenario.write("A")
    s1 = scenario.snapshot("S1")
    if s1 is None:
        return
    scenario.write("B")
    if scenario.snapshot("S2") is None:
        return
    current = scenario.write("C")
    scenario.restore_and_read("S1", s1, current)


@probed
def point_in_time(scenario: Scenario) -> None:
    """DATA-03: D, S3 and at once E (S3 still in progress), S3 completed, F, restore S3 -> D expected."""
    scenario.write("D")
    s3 = scenario.snapshot("S3", wait=False)
    if s3 is None:
        return
    scenario.write("E")
    item = find_snapshot(scenario.api, s3["id"], scenario.server_id)
    scenario.outcome.during = item is not None and item.get("status") == "in_progress"
    if not scenario.completed("S3", s3):
        return
    current = scenario.write("F")
    scenario.restore_and_read("S3", s3, current)


@pytest.mark.requirement(*ALL)
@pytest.mark.profile("standard")
@pytest.mark.waits(2 * (CREATE_MAX_MINUTES + RESTORE_MAX_MINUTES))  # waits for snapshots and restores
@pytest.mark.needs("probes")
@pytest.mark.servers(2)  # and a third, when free, to retry the point in time
def test_restore_brings_back_the_snapshot_data(api, servers, snapshots, probes, names, check, timing):
    """Restores put back the restored snapshot's data, as captured at its creation.

    Defects caught, per check:
    - DATA-01: a restore that only flips statuses and leaves the current data (C or F read back), or a
      server reported finished before its data was restored.
    - DATA-02: a restore that brings back the server's latest snapshot instead of the requested one (B), or
      any other data (a stale or foreign copy).
    - DATA-03: a snapshot copied when its job completes instead of when it was created (E read back).
    """
    with ExitStack() as stack:
        first = stack.enter_context(servers.lease(room=2))
        if first is None:
            check.undecidable("no configured server has 2 free snapshot slots")
        second = stack.enter_context(servers.lease(room=1, exclude=(first,)))  # never `first`: excluded

        def scenario(server_id: int) -> Scenario:
            return Scenario(api, snapshots, servers, probes, names, timing, server_id)

        try:
            if second is not None:
                with ThreadPoolExecutor(max_workers=2) as pool:
                    a = pool.submit(overwrite, scenario(first))
                    b = pool.submit(point_in_time, scenario(second))
                    over, pit = a.result(), b.result()
            else:
                over = overwrite(scenario(first))
                if servers.room(first) < 1:  # free the slots of our own snapshots for the second scenario
                    for snapshot_id in over.created:
                        api.delete_snapshot(snapshot_id)
                if servers.room(first) >= 1:
                    pit = point_in_time(scenario(first))
                else:
                    pit = Outcome(
                        reason=f"server {first} has no free slot left for the point-in-time snapshot"
                    )
        finally:
            for server_id in {first, second} - {None}:
                servers.wait_idle(server_id)

    pit_server = second or first
    if pit.read is not None and not pit.during:  # S3 completed before E was written: try a slower server
        with servers.lease(room=1, exclude=(first, pit_server)) as third:
            if third is not None:
                try:
                    pit, pit_server = point_in_time(scenario(third)), third
                finally:
                    servers.wait_idle(third)
    judge_overwrite(check, first, over)
    judge_point_in_time(check, pit_server, pit)


def judge_overwrite(check, server_id: int, outcome: Outcome) -> None:
    """DATA-01 and DATA-02 from the overwrite scenario."""
    if outcome.read is None:
        reason = outcome.reason or "no marker was read back"
        check.inconclusive_all(("DATA-01", "DATA-02"), f"server {server_id}: {reason}")
        return
    m = outcome.markers
    read = outcome.read
    shown = f"server {server_id}: wrote A={m['A']}, snapshot S1, B, snapshot S2, C, restored S1, read {read}"
    if read == m["C"]:
        check.that("DATA-01", False, f"{shown}: the restore did not overwrite the current data (C)")
        check.inconclusive("DATA-02", "not evaluated: the restore did not overwrite anything")
        return
    check.that("DATA-01", True, f"{shown}: data written after S1 is gone")
    if read == m["B"]:
        check.that("DATA-02", False, f"{shown}: the server holds S2's data (B), not S1's (A)")
    else:
        check.that(
            "DATA-02",
            read == m["A"],
            f"{shown}: "
            + ("S1's data (A)" if read == m["A"] else "neither S1's data (A) nor any other marker written"),
        )


def judge_point_in_time(check, server_id: int, outcome: Outcome) -> None:
    """DATA-03 (and DATA-01/02 where the result speaks to them) from the point-in-time scenario."""
    if outcome.read is None:
        check.inconclusive("DATA-03", f"server {server_id}: {outcome.reason or 'no marker was read back'}")
        return
    m = outcome.markers
    read = outcome.read
    shown = (
        f"server {server_id}: wrote D={m['D']}, snapshot S3, E while S3 was "
        f"{'in progress' if outcome.during else 'already completed'}, F, restored S3, read {read}"
    )
    if read == m["D"]:
        check.that("DATA-01", True, f"{shown}: data written after S3 is gone")
        check.that("DATA-02", True, f"{shown}: S3's data (D)")
        if outcome.during:
            check.that("DATA-03", True, f"{shown}: S3 holds the data of its creation (D), not E")
        else:
            check.inconclusive(
                "DATA-03",
                f"{shown}: S3 completed before E could be written, so the point in time was not exercised",
            )
    elif read == m["F"]:
        check.that("DATA-01", False, f"{shown}: the restore did not overwrite the current data (F)")
        check.inconclusive("DATA-03", "not evaluated: the restore did not overwrite anything")
    elif read == m["E"]:
        if outcome.during:
            check.that(
                "DATA-03",
                False,
                f"{shown}: S3 holds E, written after its creation while it was in "
                "progress: copied at completion, not at creation",
            )
        else:
            check.that("DATA-01", False, f"{shown}: the server holds E, written after S3 had completed")
            check.inconclusive("DATA-03", "not evaluated: S3 completed before E was written")
    else:
        check.that("DATA-02", False, f"{shown}: neither S3's data (D) nor any marker written after it")
        check.inconclusive("DATA-03", "not evaluated: the restore brought back unrelated data")
