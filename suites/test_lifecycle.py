"""LIFECYCLE and TIME: a new snapshot goes `in_progress` -> `completed` in time, and its facts stay put.

One snapshot is created on each of several servers at once (they differ in size, so in duration) and every
one is watched from the 201 answer until it completes, plus a few polls after, through the server-filtered
list. Every observation is judged; nothing is assumed about ids, names, ordering or exact durations.
"""

from __future__ import annotations

import dataclasses
import re
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from vpsconform.client import ApiClient
from vpsconform.contract import CREATE_MAX_MINUTES
from vpsconform.observe import Timeline, Timing, find_snapshot, watch_snapshot
from vpsconform.plugin.resources import Servers, Snapshots
from vpsconform.plugin.state import Names, RunState
from vpsconform.verdicts import Checker

DOCUMENTED_STATUSES = ("in_progress", "completed")
#: Where a watch ends: completed, failed, or gone from the list (None).
TERMINAL = ("completed", "failed", None)
#: Snapshots watched at once, one per server (bounded so a big staging pool is not flooded).
MAX_SERVERS = 4
#: Polls after the first `completed`, to see that it stays completed.
SETTLE_POLLS = 3
#: Clock skew tolerated between this machine and the target, both ways (real wall time).
CLOCK_SKEW = timedelta(minutes=5)
#: ISO 8601 extended date-time with an explicit UTC designator: Z, or a zero offset.
ISO_UTC = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}(:\d{2}([.,]\d+)?)?([Zz]|[+-]00(:?00)?)")

ALL = (
    "LIFECYCLE-01",
    "LIFECYCLE-02",
    "LIFECYCLE-03",
    "LIFECYCLE-04",
    "LIFECYCLE-05",
    "LIFECYCLE-06",
    "TIME-01",
    "TIME-03",
    "TIME-04",
)


def parse_utc(value: Any) -> datetime | None:
    """The instant of an ISO 8601 date-time in UTC (Z or a zero offset); None for anything else."""
    if not isinstance(value, str) or not ISO_UTC.fullmatch(value):
        return None
    try:
        parsed = datetime.fromisoformat(value.upper().replace(",", "."))
    except ValueError:
        return None
    return parsed if parsed.utcoffset() == timedelta(0) else None


def same_instant(first: str, second: str) -> bool:
    """Whether two created_at renderings name the same moment.

    Identical strings, or the same instant however written; when exactly one of them carries sub-second
    digits, a difference below one second is a storage precision loss (a DATETIME column without fractions),
    not a moved timestamp.
    """
    if first == second:
        return True
    a, b = parse_utc(first), parse_utc(second)
    if a is None or b is None:
        return False
    if a == b:
        return True
    fractional = [("." in s or "," in s) for s in (first, second)]
    return fractional[0] != fractional[1] and abs(a - b) < timedelta(seconds=1)


def is_integer(value: Any) -> bool:
    """A JSON integer (a bool is not one)."""
    return isinstance(value, int) and not isinstance(value, bool)


def follow(
    api: ApiClient, timing: Timing, snapshot_id: int, server_id: int, started: float
) -> tuple[Timeline, list[Any]]:
    """Watch a snapshot from `started` (just before its POST) to completion, then poll a few more times.

    The watch goes through undocumented statuses (LIFECYCLE-01 records them), so that the snapshot still
    gets its chance to complete, and lasts twice the documented maximum, so that a slow snapshot (TIME-01:
    ``timed_out`` when it was unfinished past the maximum) is told from one that never completes
    (LIFECYCLE-02).
    """
    timeline = watch_snapshot(
        api, snapshot_id, server_id, timing, limit=2 * timing.create_max, started=started
    )
    timeline.timed_out = any(
        o.status not in TERMINAL and o.at > timing.create_max for o in timeline.observations
    )
    after: list[dict[str, Any] | None] = []
    if timeline.final == "completed":
        for _ in range(SETTLE_POLLS):
            time.sleep(timing.poll_interval)
            after.append(find_snapshot(api, snapshot_id, server_id))
    return timeline, after


def status_of(item: dict[str, Any] | None) -> str:
    """A printable status of one observation ("(absent)" when the snapshot was not listed)."""
    if item is None:
        return "(absent)"
    status = item.get("status")
    return status if isinstance(status, str) else repr(status)


@dataclasses.dataclass
class Watched:
    """One snapshot of the test: its server, its 201 body, when it was asked for, and what was seen of it."""

    server_id: int
    body: dict[str, Any]
    t0: float  # monotonic, just before the POST
    wall_before: datetime
    wall_after: datetime
    timeline: Timeline | None = None
    after: list[Any] = dataclasses.field(default_factory=list)  # the polls after it completed

    @property
    def where(self) -> str:
        """The snapshot and its server, for messages."""
        return f"snapshot {self.body['id']} on server {self.server_id}"

    @property
    def items(self) -> list[dict[str, Any] | None]:
        """Every listing of the snapshot, in order (None where it was not listed)."""
        assert self.timeline is not None
        return [obs.item for obs in self.timeline.observations] + self.after

    @property
    def seen(self) -> list[str]:
        """Every status seen, from the 201 body on."""
        return [status_of(self.body), *(status_of(item) for item in self.items)]

    @property
    def path(self) -> str:
        """The statuses seen, repeats folded: "in_progress -> completed"."""
        seen = self.seen
        return " -> ".join(s for i, s in enumerate(seen) if i == 0 or seen[i - 1] != s)


@pytest.mark.requirement(*ALL)
@pytest.mark.profile("standard")
@pytest.mark.waits(2 * CREATE_MAX_MINUTES)  # waits for snapshots to complete
def test_snapshots_complete_in_time_and_keep_their_facts(
    api, servers, snapshots, names, check, timing, run_state
):
    """Create one snapshot per server at once and watch each one to completion.

    Defects caught, per check:
    - LIFECYCLE-01: an undocumented status (`pending`, `in-progress`, `done`, `failed`) in the 201 body
      or the list.
    - LIFECYCLE-02: a snapshot that ends `failed`, vanishes from its server's list, or is still unfinished
      at twice the documented maximum (a lost background job; merely slow is TIME-01's).
    - LIFECYCLE-03: a completed snapshot seen in another state again (`completed` -> `in_progress`: a
      lagging read replica or stale cache, a status computed against two clocks, a completed -> failed).
    - LIFECYCLE-04: a completed snapshot with `size_mb` null, a string ("5120"), a float or a bool.
    - LIFECYCLE-05 (interpretation): a partial size reported while in progress.
    - LIFECYCLE-06: `created_at` reset at completion (`auto_now` instead of `auto_now_add`) or re-rendered as
      a different moment in the list than in the 201 body.
    - TIME-01: completion later than 10 documented minutes (times the scale, plus tolerance) after the POST.
    - TIME-03: a naive timestamp ("2025-01-16T16:15:00"), a non-UTC offset, a space separator, epoch numbers.
    - TIME-04: a created_at in local time labelled UTC, a fixed/default date, or a scaled (virtual) clock.
    """
    with ExitStack() as stack:
        chosen = lease_servers(servers, stack)
        if not chosen:
            check.undecidable("no configured server has a free snapshot slot")
        started = create_on_each(snapshots, names, run_state, chosen)
        if not started:
            check.undecidable(f"no snapshot could be created on servers {chosen} (see CREATE)")
        with ThreadPoolExecutor(max_workers=len(started)) as pool:
            futures = [pool.submit(follow, api, timing, w.body["id"], w.server_id, w.t0) for w in started]
            for w, future in zip(started, futures, strict=True):
                w.timeline, w.after = future.result()
    for w in started:
        judge(check, run_state, timing, w)


def lease_servers(servers: Servers, stack: ExitStack) -> list[int]:
    """Up to MAX_SERVERS servers with a free slot: the first is waited for, more are taken only if free at
    once (none is needed)."""
    chosen: list[int] = []
    for _ in range(MAX_SERVERS):
        server_id = stack.enter_context(servers.lease(room=1, exclude=tuple(chosen), wait=not chosen))
        if server_id is None:
            break
        chosen.append(server_id)
    return chosen


def create_on_each(
    snapshots: Snapshots, names: Names, run_state: RunState, chosen: list[int]
) -> list[Watched]:
    """One snapshot per server, each with the moments around its POST; a refused create is left out."""
    started = []
    for server_id in chosen:
        wall_before = datetime.now(UTC)
        t0 = time.monotonic()
        response, body = snapshots.create(server_id, name=names("life"))
        wall_after = datetime.now(UTC)
        if body is None:
            run_state.notify(f"create on server {server_id} answered {response.status_code}")
            continue
        started.append(Watched(server_id, body, t0, wall_before, wall_after))
    return started


def judge(check: Checker, run_state: RunState, timing: Timing, w: Watched) -> None:
    """Record every requirement's finding for one watched snapshot."""
    # LIFECYCLE-01: every status seen (201 body, every poll) is a documented one.
    odd = sorted({s for s in w.seen if s not in DOCUMENTED_STATUSES and s != "(absent)"})
    check.that(
        "LIFECYCLE-01",
        not odd,
        f"{w.where}: statuses seen {w.path}" + (f"; undocumented {odd}" if odd else ""),
    )
    judge_completion(check, run_state, timing, w)
    judge_completed_is_final(check, w)
    judge_sizes(check, w)
    judge_created_at(check, w)


def judge_completion(check: Checker, run_state: RunState, timing: Timing, w: Watched) -> None:
    """LIFECYCLE-02 and TIME-01: it reaches completed, and within the documented maximum from the POST."""
    timeline, where = w.timeline, w.where
    assert timeline is not None
    completed = timeline.final == "completed"
    if timeline.final not in TERMINAL:
        outcome = f"still {timeline.final} {timeline.elapsed:.2f} s after the POST, twice the maximum"
    elif timeline.final is None:
        outcome = "vanished from its server's list before completing"
    else:
        outcome = f"ended {timeline.final!r} after {timeline.elapsed:.2f} s"
    check.that("LIFECYCLE-02", completed, f"{where}: {'completed' if completed else outcome} ({w.path})")
    if timeline.timed_out:
        last = max((o.at for o in timeline.observations if o.status != "completed"), default=timeline.elapsed)
        check.that(
            "TIME-01",
            False,
            f"{where}: not completed {last:.2f} s after the POST (maximum {timing.create_max:.2f} s)"
            + (f", completed after {timeline.completed_at:.2f} s" if completed else ""),
        )
    elif completed:
        seconds = timeline.completed_at or timeline.elapsed
        run_state.measure("create", seconds, server_id=w.server_id, snapshot_id=w.body["id"])
        check.that(
            "TIME-01", True, f"{where}: completed within {seconds:.2f} s (maximum {timing.create_max:.2f} s)"
        )
    else:
        check.inconclusive("TIME-01", f"{where}: never completed ({outcome}), so no completion time")


def judge_completed_is_final(check: Checker, w: Watched) -> None:
    """LIFECYCLE-03: once seen completed, the snapshot is never seen otherwise again.
    (Undocumented statuses on the way to completion are LIFECYCLE-01's; a failure is LIFECYCLE-02's.)"""
    seen = w.seen
    done = seen.index("completed") if "completed" in seen else len(seen)
    regressed = sorted({s for s in seen[done:] if s != "completed"})
    check.that(
        "LIFECYCLE-03",
        not regressed,
        f"{w.where}: status sequence {w.path}"
        + (f", {len(w.after)} more polls after completion" if w.after else "")
        + (f"; seen {regressed} after completed" if regressed else ""),
    )


def judge_sizes(check: Checker, w: Watched) -> None:
    """LIFECYCLE-04: every completed observation carries an integer size_mb; LIFECYCLE-05 (interpretation):
    size_mb is null while in progress."""
    items, where = w.items, w.where
    finished = [item for item in items if item is not None and item.get("status") == "completed"]
    if status_of(w.body) == "completed":
        finished.insert(0, w.body)
    if finished:
        bad = [item.get("size_mb") for item in finished if not is_integer(item.get("size_mb"))]
        check.that(
            "LIFECYCLE-04",
            not bad,
            f"{where}: size_mb of completed observations "
            + (f"not integers: {bad[:3]!r}" if bad else "integers"),
        )
    else:
        check.inconclusive("LIFECYCLE-04", f"{where}: never seen completed")
    running = [item for item in [w.body, *items] if item is not None and item.get("status") == "in_progress"]
    if running:
        sizes = [item.get("size_mb") for item in running if item.get("size_mb") is not None]
        check.that(
            "LIFECYCLE-05",
            not sizes,
            f"{where}: size_mb while in_progress " + (f"was {sizes[:3]!r}" if sizes else "null"),
        )
    else:
        check.inconclusive("LIFECYCLE-05", f"{where}: never seen in_progress (created already completed)")


def judge_created_at(check: Checker, w: Watched) -> None:
    """LIFECYCLE-06: created_at never moves (201 body and every listing); TIME-03: every rendering is ISO 8601
    with an explicit UTC designator; TIME-04: it is the moment of the POST, give or take clock skew."""
    where, first = w.where, w.body.get("created_at")
    stamps = [item.get("created_at") for item in w.items if item is not None]
    moved = [
        s for s in stamps if not (isinstance(first, str) and isinstance(s, str) and same_instant(first, s))
    ]
    check.that(
        "LIFECYCLE-06",
        not moved,
        f"{where}: created_at {first!r} in the 201 body"
        + (
            f", then {sorted(set(map(repr, moved)))[:3]} in the list"
            if moved
            else f", same in {len(stamps)} listings"
        ),
    )
    renderings = list(dict.fromkeys([first, *stamps]))
    unparsable = [s for s in renderings if parse_utc(s) is None]
    check.that(
        "TIME-03",
        not unparsable,
        f"{where}: created_at "
        + (f"not ISO 8601 UTC: {unparsable[:3]!r}" if unparsable else f"{renderings[:2]!r} are ISO 8601 UTC"),
    )
    moment = parse_utc(first)
    if moment is None:
        check.inconclusive("TIME-04", f"{where}: created_at {first!r} is not an ISO 8601 UTC time to compare")
    else:
        low, high = w.wall_before - CLOCK_SKEW, w.wall_after + CLOCK_SKEW
        check.that(
            "TIME-04",
            low <= moment <= high,
            f"{where}: created_at {first} vs local UTC {w.wall_before.isoformat(timespec='seconds')} "
            f"(tolerance {int(CLOCK_SKEW.total_seconds() // 60)} min either way)",
        )
