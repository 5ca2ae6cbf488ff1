"""LIMIT: a server holds at most five snapshots, counting every state; refused creates create nothing.

Pre-existing snapshots on a server count toward its limit and are never touched: the tests only fill the
room that is left and delete only what they created. Counts are taken from the server filter *and* from the
unfiltered list (items of that server), so a broken filter cannot hide a snapshot from the count.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from _helpers import remove
from _limit import Bench, describe, fill, full_requirement, holdings, refuse_on_full

from vpsconform.client import ApiClient, json_or_none
from vpsconform.contract import CREATE_MAX_MINUTES, SNAPSHOT_LIMIT
from vpsconform.errors import NoAnswer, ObservationError, StopCheck
from vpsconform.observe import Timing
from vpsconform.plugin.resources import Servers, Snapshots
from vpsconform.plugin.state import Names
from vpsconform.verdicts import Checker

BURST_SIZE = 12  # concurrent creates released together on one server: 5 may succeed, 7 must be refused


# What a test asked for, and what it leaves --
@pytest.fixture
def asked(api: ApiClient, snapshots: Snapshots, timing: Timing) -> Iterator[dict[int, set[str]]]:
    """The names this test sent in creates, by server. At teardown (before the ``snapshots`` cleanup), any
    snapshot carrying one of them that the cleanup registry does not know is deleted: one accepted with a
    success other than 201, or one a refused create left behind. The names are unique to this run."""
    sent: dict[int, set[str]] = {}
    yield sent
    known = {str(snapshot_id) for _, snapshot_id in snapshots.created}
    for server_id, names_sent in sent.items():
        for item in holdings(api, server_id) or []:
            if item.get("name") in names_sent and str(item.get("id")) not in known:
                remove(api, item.get("id"), timing)


@pytest.fixture
def bench_of(
    api: ApiClient,
    snapshots: Snapshots,
    names: Names,
    timing: Timing,
    check: Checker,
    asked: dict[int, set[str]],
) -> Callable[[int], Bench]:
    """Makes the Bench of a leased server: the fixtures a LIMIT scenario's steps share."""
    return lambda server_id: Bench(check, api, snapshots, names, timing, asked, server_id)


# LIMIT-01, -02, -04, -05, -07: fill a server, refuse the sixth while in progress, delete frees a slot --
@pytest.mark.requirement("LIMIT-01", "LIMIT-02", "LIMIT-04", "LIMIT-05", "LIMIT-07")
@pytest.mark.servers(2)  # a second server for LIMIT-05
def test_five_per_server_counting_unfinished_ones(
    api: ApiClient, servers: Servers, bench_of: Callable[[int], Bench], check: Checker
):
    """Fill a server to 5; a 6th create while they are in progress is refused (400); a delete frees a slot.

    Defects caught:
    - LIMIT-01: a limit below 5 or off by one (`>= 4`), or a per-account limit, refuses one of the 5 creates.
    - LIMIT-02: the limit counts only completed snapshots (`status='completed'` in the count query), so a 6th
      create while the five are in progress gets 201; or the refusal uses an undocumented code.
    - LIMIT-07: the refused create still inserts a row (insert before the limit check without a rollback),
      evicts the oldest snapshot to make room, or leaves an item with the refused name.
    - LIMIT-04: deleted snapshots still count (soft delete counted by the limit query, or a cached counter not
      decremented), so the create after a 204 delete is refused.
    - LIMIT-05: the limit is kept per account instead of per server, so another server's create is refused.
    """
    with servers.lease(room=(SNAPSHOT_LIMIT, 1, 0)) as server_id:
        existing = holdings(api, server_id) if server_id is not None else None
        if existing is None:
            check.undecidable("no configured server is idle with a readable snapshot list")
        bench = bench_of(server_id)
        fill_to_five(bench, servers, existing)
        refuse_sixth_while_unfinished(bench)
        another_server_takes_one(bench, servers)
        delete_frees_a_slot(bench, pre_existing={str(item.get("id")) for item in existing})


def fill_to_five(bench: Bench, servers: Servers, existing: list[dict[str, Any]]) -> None:
    """LIMIT-01: the server's free slots all take a snapshot; one refused below 5 asks LIMIT-05 at once (is
    the limit kept per server at all?) and ends the test."""
    room, server_id = SNAPSHOT_LIMIT - len(existing), bench.server_id
    if room < SNAPSHOT_LIMIT:
        bench.check.inconclusive(
            "LIMIT-01",
            f"no configured server had 5 free slots; server {server_id} holds {len(existing)} "
            f"pre-existing snapshot(s) (left alone), so only {max(room, 0)} create(s) were checked",
        )
    try:
        fill(bench, room, "LIMIT-01")
    except StopCheck:
        with servers.lease(room=1, exclude=(server_id,)) as other_id:
            if other_id is not None:
                response, _ = bench.create(bench.names("lim-othr"), other_id)
                what = f"create on server {other_id} after server {server_id} refused one below 5"
                bench.check.status("LIMIT-05", response, what)
        raise


def refuse_sixth_while_unfinished(bench: Bench) -> None:
    """LIMIT-02 + LIMIT-07: the sixth create, at once, is refused while snapshots are unfinished."""
    before = bench.holdings()
    if before is None:
        bench.check.undecidable(f"the list of server {bench.server_id} could not be read after the fill")
    if full_requirement(before) == "LIMIT-02":
        refuse_on_full(bench, before, "LIMIT-02", "lim-6th")
    else:
        bench.check.inconclusive_all(
            ("LIMIT-02", "LIMIT-07"),
            f"server {bench.server_id} held {describe(before)}: nothing unfinished left to count "
            "(a full server of completed snapshots is test_full_of_completed_snapshots' case)",
        )


def another_server_takes_one(bench: Bench, servers: Servers) -> None:
    """LIMIT-05: while this server is full, another server still takes a snapshot."""
    server_id, full_now = bench.server_id, bench.holdings() or []
    with servers.lease(room=1, exclude=(server_id,)) as other_id:
        if other_id is None or len(full_now) < SNAPSHOT_LIMIT:
            bench.check.inconclusive(
                "LIMIT-05",
                "no other configured server had a free slot"
                if other_id is None
                else f"server {server_id} no longer holds 5 snapshots ({describe(full_now)})",
            )
        else:
            response, _ = bench.create(bench.names("lim-othr"), other_id)
            bench.check.status(
                "LIMIT-05", response, f"create on server {other_id} while server {server_id} holds 5"
            )


def delete_frees_a_slot(bench: Bench, pre_existing: set[str]) -> None:
    """LIMIT-04: deleting one of ours from the full server frees its slot at once."""
    current = bench.holdings() or []
    mine = [item for item in current if str(item.get("id")) not in pre_existing]
    if not mine or len(current) < SNAPSHOT_LIMIT:
        bench.check.inconclusive(
            "LIMIT-04",
            f"server {bench.server_id} holds {describe(current)}, {len(mine)} created by this test: "
            "no full server with a snapshot of ours to delete",
        )
        return
    victim = mine[0]["id"]
    deleted = bench.api.delete_snapshot(victim)
    refused_in_progress = deleted.status_code == 400 and mine[0].get("status") == "in_progress"
    # The docs let a provider refuse to delete a snapshot in progress (DELETE-07): then wait for it.
    if refused_in_progress and bench.snapshots.wait(mine[0]).final == "completed":
        deleted = bench.api.delete_snapshot(victim)
    if deleted.status_code != 204:
        bench.check.inconclusive(
            "LIMIT-04", f"delete of snapshot {victim} answered {deleted.status_code}, not 204"
        )
        return
    response, _ = bench.create(bench.names("lim-free"))
    bench.check.status(
        "LIMIT-04", response, f"create right after deleting snapshot {victim} of the full server"
    )


# LIMIT-03, LIMIT-07: completed snapshots count too --
@pytest.mark.requirement("LIMIT-03", "LIMIT-07")
@pytest.mark.profile("standard")
@pytest.mark.waits(CREATE_MAX_MINUTES)  # waits for snapshots to complete
def test_full_of_completed_snapshots(
    api: ApiClient, servers: Servers, snapshots: Snapshots, bench_of: Callable[[int], Bench], check: Checker
) -> None:
    """Fill a server to 5 and wait until all have completed: a 6th create is still refused (400).

    Defects caught:
    - LIMIT-03: the limit counts only running jobs (a concurrency quota, not a storage limit), so a 6th create
      once the five have completed gets 201; or the refusal uses an undocumented code (403, 409, 422, 429).
    - LIMIT-07: the refused create still leaves a snapshot, or evicts the oldest one to make room.
    """
    with servers.lease(room=(SNAPSHOT_LIMIT, 1, 0)) as server_id:
        existing = holdings(api, server_id) if server_id is not None else None
        if existing is None:
            check.undecidable("no configured server is idle with a readable snapshot list")
        bench = bench_of(server_id)
        ours = fill(bench, SNAPSHOT_LIMIT - len(existing), None)
        unfinished = [(b["id"], t.final) for b in ours if (t := snapshots.wait(b)).final != "completed"]
        before = bench.holdings()
        if unfinished or before is None or full_requirement(before) != "LIMIT-03":
            check.undecidable(
                f"server {server_id} never held 5 completed snapshots: it held {describe(before or [])}, "
                f"ours unfinished after the documented maximum: {unfinished} (LIFECYCLE/TIME judge that)"
            )
        refuse_on_full(bench, before, "LIMIT-03", "lim-7th")


@dataclasses.dataclass
class Burst:
    """What the concurrent creates of one burst were sent as and answered."""

    server_id: int
    sent: list[str]  # the names, one per create
    answers: list[httpx.Response]
    room: int  # the server's free slots before it
    pre_existing: set[str]  # ids on the server before it

    @property
    def codes(self) -> list[int]:
        """The status of every answer, in sending order."""
        return [a.status_code for a in self.answers]

    def named(self, low: int, high: int) -> set[str]:
        """The names whose creates were answered with a status in [low, high)."""
        return {self.sent[i] for i, code in enumerate(self.codes) if low <= code < high}

    @property
    def what(self) -> str:
        """The burst and its tally, for messages."""
        codes = self.codes
        tally = ", ".join(f"{codes.count(c)} x {c}" for c in sorted(set(codes), key=str))
        where = f"on server {self.server_id} with {self.room} free slot(s)"
        return f"{BURST_SIZE} concurrent creates {where}: {tally}"


# LIMIT-06: a burst of concurrent creates never takes a server past 5 --
@pytest.mark.requirement("LIMIT-06", "LIMIT-07", "LIMIT-01")
def test_concurrent_creates_never_exceed_five(
    api: ApiClient, servers: Servers, bench_of: Callable[[int], Bench], check: Checker
) -> None:
    """12 creates released together on one server: at most its free slots answer 201; the list stays <= 5.

    Decision: LIMIT-06 ("never take it past 5") is judged on the upper bound only. Fewer successes than free
    slots is not a breach of it (a provider may serialise creates and refuse contenders); the follow-up create
    then tells whether the slots are still usable.

    Defects caught:
    - LIMIT-06: a check-then-insert limit without a lock or constraint (count, then insert, in separate
      statements) lets several concurrent creates see 4 and all insert: more than the free slots answer 201,
      or the list shows 6+ snapshots; a follow-up create on the full server is then accepted as well.
    - LIMIT-07: a refused request still leaves a snapshot (insert, then count and answer 400 without rolling
      back): the list shows snapshots no 201 accounts for, or ones named as a refused request.
    - LIMIT-01: a counter incremented by every request and not decremented on refusal leaks slots: after the
      burst the server holds fewer than 5, yet a further create is refused.
    """
    with servers.lease(room=(SNAPSHOT_LIMIT, 1, 0)) as server_id:
        existing = holdings(api, server_id) if server_id is not None else None
        if server_id is None or existing is None or len(existing) >= SNAPSHOT_LIMIT:
            check.undecidable("no configured server had a free snapshot slot for the burst")
        if not api.limiter.allows(BURST_SIZE):
            check.undecidable(
                f"the rate cap is below the {BURST_SIZE} concurrent creates of the burst (raise --max-rps)"
            )
        bench = bench_of(server_id)
        burst = release_burst(bench, room=SNAPSHOT_LIMIT - len(existing), pre_existing=existing)
        after = burst_count(bench, burst)
        refusals_left_nothing(bench, burst, after)
        follow_up_create(bench, burst, after)


def release_burst(bench: Bench, room: int, pre_existing: list[dict[str, Any]]) -> Burst:
    """BURST_SIZE creates released together on the server (paid for as that many requests under the rate
    cap); a create without an answer may or may not have taken a slot, so then nothing can be counted."""
    sent = [bench.names("lim-bst") for _ in range(BURST_SIZE)]
    bench.asked.setdefault(bench.server_id, set()).update(sent)
    answers: list[httpx.Response | Exception | None] = [None] * BURST_SIZE
    gate = threading.Barrier(BURST_SIZE)

    def worker(index: int) -> None:
        try:
            gate.wait(timeout=10)
            answers[index] = bench.snapshots.create(bench.server_id, name=sent[index])[0]
        except (NoAnswer, threading.BrokenBarrierError) as exc:
            answers[index] = exc

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(BURST_SIZE)]
    with bench.api.limiter.burst(BURST_SIZE):
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    lost = [a for a in answers if not isinstance(a, httpx.Response)]
    if lost:
        raise ObservationError(f"{len(lost)} of {BURST_SIZE} concurrent creates got no answer: {lost[0]}")
    got = [a for a in answers if isinstance(a, httpx.Response)]
    return Burst(bench.server_id, sent, got, room, {str(item.get("id")) for item in pre_existing})


def burst_count(bench: Bench, burst: Burst) -> list[dict[str, Any]]:
    """LIMIT-06: at most the free slots accept (any success takes a slot: a 200 instead of 201 is CREATE-01's
    to judge), and the server holds at most 5 afterwards. Returns what it holds."""
    what, accepted = burst.what, burst.named(200, 300)
    after = bench.holdings()
    # Snapshots left by refused requests go at once, so the follow-up create meets the true state.
    for item in after or []:
        if item.get("name") in burst.named(400, 500):
            bench.remove(item.get("id"))
    bench.check.that("LIMIT-06", len(accepted) <= burst.room, f"{what}; at most {burst.room} may succeed")
    if after is None:
        bench.check.undecidable(f"{what}; the list could not be read", ["LIMIT-06", "LIMIT-07", "LIMIT-01"])
    bench.check.that(
        "LIMIT-06", len(after) <= SNAPSHOT_LIMIT, f"{what}; afterwards the server holds {describe(after)}"
    )
    return after


def refusals_left_nothing(bench: Bench, burst: Burst, after: list[dict[str, Any]]) -> None:
    """LIMIT-07: every snapshot on the server after the burst was there before, or a 2xx accounts for it."""
    what, accepted = burst.what, burst.named(200, 300)
    accepted_ids = {
        str((json_or_none(a) or {}).get("id"))
        for a in burst.answers
        if 200 <= a.status_code < 300 and isinstance(json_or_none(a), dict)
    }
    unexplained = [
        item.get("id")
        for item in after
        if str(item.get("id")) not in burst.pre_existing | accepted_ids and item.get("name") not in accepted
    ]
    if burst.named(400, 500):
        bench.check.that(
            "LIMIT-07",
            not unexplained,
            f"{what}; snapshots no 201 accounts for (created by refused requests): {unexplained}",
        )
    else:
        bench.check.inconclusive("LIMIT-07", f"{what}; no request was refused")


def follow_up_create(bench: Bench, burst: Burst, after: list[dict[str, Any]]) -> None:
    """LIMIT-01: room the burst left is usable; LIMIT-06: a server it filled stays full."""
    response, extra = bench.create(bench.names("lim-aftr"))
    final = bench.holdings()
    if len(after) < SNAPSHOT_LIMIT:
        bench.check.status(
            "LIMIT-01", response, f"create after the burst left {describe(after)} on the server"
        )
        return
    what = burst.what
    bench.check.inconclusive("LIMIT-01", f"{what}; the burst filled the server, no room left to check")
    bench.check.that(
        "LIMIT-06",
        not 200 <= response.status_code < 300 and (final is None or len(final) <= SNAPSHOT_LIMIT),
        f"create after the burst filled the server ({describe(after)}): got {response.status_code}, "
        f"afterwards {describe(final) if final is not None else 'list unreadable'}",
    )
    if extra is not None:
        bench.remove(extra["id"])
