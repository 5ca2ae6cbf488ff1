"""LIMIT: a server holds at most five snapshots, counting every state; refused creates create nothing.

Pre-existing snapshots on a server count toward its limit and are never touched: the tests only fill the
room that is left and delete only what they created. Counts are taken from the server filter *and* from the
unfiltered list (items of that server), so a broken filter cannot hide a snapshot from the count.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from _helpers import remove
from _limit import create, describe, fill, full_requirement, holdings, refuse_on_full

from vpsconform.client import ApiClient, json_or_none
from vpsconform.contract import CREATE_MAX_MINUTES, SNAPSHOT_LIMIT
from vpsconform.errors import NoAnswer, ObservationError, StopCheck

BURST_SIZE = 12  # concurrent creates released together on one server: 5 may succeed, 7 must be refused


# What a test asked for, and what it leaves --
@pytest.fixture
def asked(api: ApiClient, snapshots: Any, timing: Any) -> Iterator[dict[int, set[str]]]:
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


# LIMIT-01, -02, -04, -05, -07: fill a server, refuse the sixth while in progress, delete frees a slot --
@pytest.mark.requirement("LIMIT-01", "LIMIT-02", "LIMIT-04", "LIMIT-05", "LIMIT-07")
@pytest.mark.servers(2)  # a second server for LIMIT-05
def test_five_per_server_counting_unfinished_ones(api, servers, snapshots, asked, names, timing, check):
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
    declared = ("LIMIT-01", "LIMIT-02", "LIMIT-04", "LIMIT-05", "LIMIT-07")
    with servers.lease(room=(SNAPSHOT_LIMIT, 1, 0)) as server_id:
        existing = holdings(api, server_id) if server_id is not None else None
        if existing is None:
            check.inconclusive_all(declared, "no configured server is idle with a readable snapshot list")
            return
        room = SNAPSHOT_LIMIT - len(existing)
        pre_existing = {str(item.get("id")) for item in existing}
        if room < SNAPSHOT_LIMIT:
            check.inconclusive(
                "LIMIT-01",
                f"no configured server had 5 free slots; server {server_id} holds {len(existing)} "
                f"pre-existing snapshot(s) (left alone), so only {max(room, 0)} create(s) were checked",
            )
        try:
            fill(snapshots, server_id, names, timing, asked, check, room, "LIMIT-01")
        except StopCheck:  # refused below 5: is the limit kept per server at all (LIMIT-05)?
            with servers.lease(room=1, exclude=(server_id,)) as other_id:
                if other_id is not None:
                    response, _ = create(snapshots, other_id, names("lim-othr"), timing, asked)
                    what = f"create on server {other_id} after server {server_id} refused one below 5"
                    check.status("LIMIT-05", response, what)
            raise

        # LIMIT-02 + LIMIT-07: the sixth create, at once, is refused while snapshots are unfinished.
        before = holdings(api, server_id)
        if before is None:
            check.inconclusive_all(
                declared[1:], f"the list of server {server_id} could not be read after the fill"
            )
            return
        if full_requirement(before) == "LIMIT-02":
            refuse_on_full(
                check, api, snapshots, server_id, names, timing, asked, before, "LIMIT-02", "lim-6th"
            )
        else:
            check.inconclusive_all(
                ("LIMIT-02", "LIMIT-07"),
                f"server {server_id} held {describe(before)}: nothing unfinished left to count "
                "(a full server of completed snapshots is test_full_of_completed_snapshots' case)",
            )

        # LIMIT-05: while this server is full, another server still takes a snapshot.
        full_now = holdings(api, server_id) or []
        with servers.lease(room=1, exclude=(server_id,)) as other_id:
            if other_id is None or len(full_now) < SNAPSHOT_LIMIT:
                check.inconclusive(
                    "LIMIT-05",
                    "no other configured server had a free slot"
                    if other_id is None
                    else f"server {server_id} no longer holds 5 snapshots ({describe(full_now)})",
                )
            else:
                response, _ = create(snapshots, other_id, names("lim-othr"), timing, asked)
                check.status(
                    "LIMIT-05", response, f"create on server {other_id} while server {server_id} holds 5"
                )

        # LIMIT-04: deleting one of ours frees its slot at once.
        current = holdings(api, server_id) or []
        mine = [item for item in current if str(item.get("id")) not in pre_existing]
        if not mine or len(current) < SNAPSHOT_LIMIT:
            check.inconclusive(
                "LIMIT-04",
                f"server {server_id} holds {describe(current)}, {len(mine)} created by this test: "
                "no full server with a snapshot of ours to delete",
            )
            return
        victim = mine[0]["id"]
        deleted = api.delete_snapshot(victim)
        refused_in_progress = deleted.status_code == 400 and mine[0].get("status") == "in_progress"
        # The docs let a provider refuse to delete a snapshot in progress (DELETE-07): then wait for it.
        if refused_in_progress and snapshots.wait(mine[0]).final == "completed":
            deleted = api.delete_snapshot(victim)
        if deleted.status_code != 204:
            check.inconclusive(
                "LIMIT-04", f"delete of snapshot {victim} answered {deleted.status_code}, not 204"
            )
            return
        response, _ = create(snapshots, server_id, names("lim-free"), timing, asked)
        check.status(
            "LIMIT-04", response, f"create right after deleting snapshot {victim} of the full server"
        )


# LIMIT-03, LIMIT-07: completed snapshots count too --
@pytest.mark.requirement("LIMIT-03", "LIMIT-07")
@pytest.mark.profile("standard")
@pytest.mark.waits(CREATE_MAX_MINUTES)  # waits for snapshots to complete
def test_full_of_completed_snapshots(api, servers, snapshots, asked, names, timing, check):
    """Fill a server to 5 and wait until all have completed: a 6th create is still refused (400).

    Defects caught:
    - LIMIT-03: the limit counts only running jobs (a concurrency quota, not a storage limit), so a 6th create
      once the five have completed gets 201; or the refusal uses an undocumented code (403, 409, 422, 429).
    - LIMIT-07: the refused create still leaves a snapshot, or evicts the oldest one to make room.
    """
    with servers.lease(room=(SNAPSHOT_LIMIT, 1, 0)) as server_id:
        existing = holdings(api, server_id) if server_id is not None else None
        if existing is None:
            check.inconclusive_all(
                ("LIMIT-03", "LIMIT-07"), "no configured server is idle with a readable snapshot list"
            )
            return
        ours = fill(snapshots, server_id, names, timing, asked, check, SNAPSHOT_LIMIT - len(existing), None)
        unfinished = [(b["id"], t.final) for b in ours if (t := snapshots.wait(b)).final != "completed"]
        before = holdings(api, server_id)
        if unfinished or before is None or full_requirement(before) != "LIMIT-03":
            check.inconclusive_all(
                ("LIMIT-03", "LIMIT-07"),
                f"server {server_id} never held 5 completed snapshots: it held {describe(before or [])}, "
                f"ours unfinished after the documented maximum: {unfinished} (LIFECYCLE/TIME judge that)",
            )
            return
        refuse_on_full(check, api, snapshots, server_id, names, timing, asked, before, "LIMIT-03", "lim-7th")


# LIMIT-06: a burst of concurrent creates never takes a server past 5 --
@pytest.mark.requirement("LIMIT-06", "LIMIT-07", "LIMIT-01")
def test_concurrent_creates_never_exceed_five(api, servers, snapshots, asked, names, timing, check):
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
            check.inconclusive_all(
                ("LIMIT-06", "LIMIT-07", "LIMIT-01"),
                "no configured server had a free snapshot slot for the burst",
            )
            return
        if not api.limiter.allows(BURST_SIZE):
            check.inconclusive_all(
                ("LIMIT-06", "LIMIT-07", "LIMIT-01"),
                f"the rate cap is below the {BURST_SIZE} concurrent creates of the burst (raise --max-rps)",
            )
            return
        room = SNAPSHOT_LIMIT - len(existing)
        sent = [names("lim-bst") for _ in range(BURST_SIZE)]
        asked.setdefault(server_id, set()).update(sent)
        answers: list[httpx.Response | Exception | None] = [None] * BURST_SIZE
        gate = threading.Barrier(BURST_SIZE)

        def worker(index: int) -> None:
            try:
                gate.wait(timeout=10)
                answers[index] = snapshots.create(server_id, name=sent[index])[0]
            except (NoAnswer, threading.BrokenBarrierError) as exc:
                answers[index] = exc

        threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(BURST_SIZE)]
        with api.limiter.burst(BURST_SIZE):  # paid for as BURST_SIZE requests under the rate cap
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=60)
        lost = [a for a in answers if not isinstance(a, httpx.Response)]
        if lost:  # a create without an answer may or may not have taken a slot: nothing can be counted
            raise ObservationError(f"{len(lost)} of {BURST_SIZE} concurrent creates got no answer: {lost[0]}")
        codes = [a.status_code for a in answers]
        # Any success counts as taking a slot (a 200 instead of 201 is CREATE-01's to judge, not the limit's).
        accepted = {sent[i] for i, code in enumerate(codes) if 200 <= code < 300}
        refused = {sent[i] for i, code in enumerate(codes) if 400 <= code < 500}
        tally = ", ".join(f"{codes.count(c)} x {c}" for c in sorted(set(codes), key=str))
        what = f"{BURST_SIZE} concurrent creates on server {server_id} with {room} free slot(s): {tally}"

        after = holdings(api, server_id)
        # Snapshots left by refused requests go at once, so the follow-up create meets the true state.
        for item in after or []:
            if item.get("name") in refused:
                remove(api, item.get("id"), timing)

        check.that("LIMIT-06", len(accepted) <= room, f"{what}; at most {room} may succeed")
        if after is None:
            check.inconclusive_all(
                ("LIMIT-06", "LIMIT-07", "LIMIT-01"), f"{what}; the list could not be read"
            )
            return
        check.that(
            "LIMIT-06", len(after) <= SNAPSHOT_LIMIT, f"{what}; afterwards the server holds {describe(after)}"
        )

        pre_existing = {str(item.get("id")) for item in existing}
        accepted_ids = {
            str((json_or_none(a) or {}).get("id"))
            for a in answers
            if isinstance(a, httpx.Response)
            and 200 <= a.status_code < 300
            and isinstance(json_or_none(a), dict)
        }
        unexplained = [
            item.get("id")
            for item in after
            if str(item.get("id")) not in pre_existing | accepted_ids and item.get("name") not in accepted
        ]
        if refused:
            check.that(
                "LIMIT-07",
                not unexplained,
                f"{what}; snapshots no 201 accounts for (created by refused requests): {unexplained}",
            )
        else:
            check.inconclusive("LIMIT-07", f"{what}; no request was refused")

        # The follow-up create: room left must be usable; a full server must stay full.
        follow_name = names("lim-aftr")
        response, extra = create(snapshots, server_id, follow_name, timing, asked)
        final = holdings(api, server_id)
        if len(after) < SNAPSHOT_LIMIT:
            check.status("LIMIT-01", response, f"create after the burst left {describe(after)} on the server")
        else:
            check.inconclusive("LIMIT-01", f"{what}; the burst filled the server, no room left to check")
            check.that(
                "LIMIT-06",
                not 200 <= response.status_code < 300 and (final is None or len(final) <= SNAPSHOT_LIMIT),
                f"create after the burst filled the server ({describe(after)}): got {response.status_code}, "
                f"afterwards {describe(final) if final is not None else 'list unreadable'}",
            )
            if extra is not None:
                remove(api, extra["id"], timing)
