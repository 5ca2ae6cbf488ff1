"""What tests share on the target: snapshots they create (and always delete) and servers they lease."""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from vpsconform.client import ApiClient, json_or_none, list_items
from vpsconform.contract import CREATE_MAX_MINUTES, RESTORE_MAX_MINUTES, SNAPSHOT_LIMIT
from vpsconform.errors import NoAnswer, ObservationError
from vpsconform.ledger import landed, snapshot_id_of
from vpsconform.observe import Timeline, server_status, watch_restore, watch_snapshot
from vpsconform.plugin.budget import Grant
from vpsconform.plugin.state import RunState

#: Real seconds a scenario may hold a server for its own work (generated requests), whatever the time scale.
OWN_WORK_SECONDS = 120.0


class Snapshots:
    """Creates snapshots for one test and deletes them when the test ends, whatever its outcome."""

    def __init__(self, state: RunState) -> None:
        self._state = state
        self.created: list[tuple[str, int]] = []
        self.asked: list[tuple[ApiClient, Any, str]] = []  # every create sent: (client, server, name)

    def create(
        self, server_id: Any, *, name: str | None = None, client: ApiClient | None = None, **fields: Any
    ) -> tuple[httpx.Response, dict[str, Any] | None]:
        """POST a create; returns the response and, on 201 with an integer id, its body."""
        api = client or self._state.client("main")
        name = name or self._state.names()
        self.asked.append((api, server_id, name))
        response = api.create_snapshot(server_id, name, **fields)
        body = json_or_none(response)
        snapshot_id = landed(response)
        if snapshot_id is not None:
            self.created.append((self._account(api, server_id), snapshot_id))
        if response.status_code == 201 and isinstance(body, dict) and isinstance(body.get("id"), int):
            return response, body
        return response, None

    def _account(self, api: ApiClient, server_id: Any) -> str:
        return api.label if api.label != "anonymous" else self._state.owner_of(server_id)

    def _adopt_by_name(self) -> None:
        """Find snapshots this test asked for whose create answer did not tell their id."""
        known = {snapshot_id for _, snapshot_id in self.created}
        for api, server_id, name in self.asked:
            account = self._account(api, server_id)
            lister = self._state.client(account)
            for scope in dict.fromkeys((server_id, None)):
                for item in list_items(lister.list_snapshots(scope)) or []:
                    snapshot_id = snapshot_id_of(item.get("id"))
                    if item.get("name") == name and snapshot_id is not None and snapshot_id not in known:
                        known.add(snapshot_id)
                        self._state.ledger.created(account, snapshot_id, snapshot_id_of(server_id))
                        self.created.append((account, snapshot_id))

    def wait(
        self, snapshot: dict[str, Any], *, client: ApiClient | None = None, limit: float | None = None
    ) -> Timeline:
        """Poll a created snapshot until it leaves ``in_progress`` (bounded by the documented maximum).

        An overrun of the documented window fails the requirement judging it at once, whichever test saw it.
        """
        server = given if isinstance(given := snapshot.get("server"), dict) else {}
        timeline = watch_snapshot(
            client or self._state.client("main"),
            snapshot["id"],
            server.get("id"),
            self._state.timing,
            limit=limit,
            notify=self._state.notify,
        )
        if limit is None and timeline.timed_out and timeline.final == "in_progress":
            self._state.measure("create", timeline.elapsed, snapshot_id=snapshot["id"], completed=False)
            self._state.window_overrun(
                "create-window",
                f"snapshot {snapshot['id']} still in_progress after the documented {CREATE_MAX_MINUTES} "
                f"minutes ({self._state.timing.create_max:.1f} s on the target's clock)",
            )
        return timeline

    def cleanup(self) -> None:
        """Delete what this test created, including snapshots only found by their name.

        One round, no waiting: a delete the provider refuses for now (say, the snapshot is still in
        progress, which the docs allow) is deferred — retried when a later lease needs that room, and by
        the session's sweep — so no test waits out a snapshot it no longer needs.
        """
        with contextlib.suppress(NoAnswer):
            self._adopt_by_name()
        wanted = set(self.created)
        entries = [e for e in self._state.ledger.alive() if (e.account, e.snapshot_id) in wanted]
        if entries:
            with contextlib.suppress(NoAnswer):
                self._state.sweeper().run(0.0, only=entries)
            self._state.deferred.extend(e for e in entries if e.alive)


class Servers:
    """The configured servers, handed to tests with the room they need and idle (not restoring).

    A lease is exclusive across parallel workers: no two scenarios share a server at once.
    """

    def __init__(self, state: RunState) -> None:
        self._state = state
        self._turn = 0
        self._stuck: set[int] = set()
        self._locks = state.locks

    @property
    def ids(self) -> tuple[int, ...]:
        """All configured servers of the account under test."""
        return self._state.config.server_ids

    def room(self, server_id: int) -> int:
        """Free snapshot slots on a server (pre-existing snapshots count and are never touched)."""
        body = json_or_none(self._state.client("main").list_snapshots(server_id))
        if not isinstance(body, dict) or not isinstance(body.get("results"), list):
            return 0
        count = body.get("count")
        held = count if isinstance(count, int) and not isinstance(count, bool) else len(body["results"])
        return SNAPSHOT_LIMIT - max(held, len(body["results"]))

    def watch_restore(
        self,
        server_id: int,
        *,
        client: ApiClient | None = None,
        limit: float | None = None,
        started: float | None = None,
    ) -> tuple[float | None, list[str]]:
        """Watch a restore on ``server_id`` (see observe.watch_restore).

        An overrun of the documented window fails the requirement judging it at once, whichever test saw it.
        """
        api = client or self._state.client("main")
        finished, seen = watch_restore(
            api, server_id, self._state.timing, limit=limit, started=started, notify=self._state.notify
        )
        if limit is None and finished is None and seen:
            window = self._state.timing.restore_max
            self._state.measure("restore", window, server_id=server_id, completed=False)
            self._state.window_overrun(
                "restore-window",
                f"server {server_id} still {seen[-1]!r} after the documented {RESTORE_MAX_MINUTES} minutes "
                f"({self._state.timing.restore_max:.1f} s on the target's clock)",
            )
        return finished, seen

    def wait_idle(self, server_id: int) -> bool:
        """Wait (bounded by the restore window) until the server is not restoring; False if it still is.

        A server still restoring after the documented window (a TIME failure, recorded where it was seen) or
        whose state cannot be read is set aside, so one endless restore cannot hold up every later test.
        """
        if server_id in self._stuck:
            return False
        api = self._state.client("main")
        try:
            if server_status(api, server_id) == "restoring":
                finished, _ = self.watch_restore(server_id)
                if finished is None and server_status(api, server_id) == "restoring":
                    self._stuck.add(server_id)
                    return False
        except ObservationError:
            return False
        return True

    @contextmanager
    def lease(
        self, room: int | tuple[int, ...] = 1, *, exclude: tuple[int, ...] = (), wait: bool = True
    ) -> Iterator[int | None]:
        """An idle server with ``room`` free slots, or None; servers are taken in turn and left idle.

        ``room`` may list acceptable amounts in order of preference, e.g. ``(5, 1)``: a server with all five
        slots free if there is one, else one with any room. While other workers hold servers that might do,
        or the run's own deferred deletes hold the room, the lease waits for them (bounded); ``wait=False``
        takes only what is free at once. Under ``--jobs`` a lease first claims its place in the run's server
        budget (see plugin/budget.py), so scenarios holding servers never wait on each other.
        """
        wanted = (room,) if isinstance(room, int) else room
        patience = self._patience() if wait else 0.0
        slots = " or ".join(map(str, wanted))
        self._state.notify(f"looking for a server with {slots} free snapshot slot(s), up to {patience:.0f} s")
        until = time.monotonic() + patience
        chosen = None
        if self._claim(until, wait):
            while True:
                chosen, busy = self._choose(wanted, exclude)
                deferred = self._state.pending_deletes()
                if chosen is not None or not (busy or deferred) or not wait or time.monotonic() > until:
                    break
                time.sleep(self._state.timing.poll_interval)
                if deferred:  # the run's own refused deletes may be what holds the room: try them again
                    with contextlib.suppress(NoAnswer):
                        self._state.sweeper().run(0.0, only=deferred)
        if chosen is None:
            yield None
            return
        try:
            yield chosen
        finally:
            self.wait_idle(chosen)
            self._locks.park(chosen)  # held until the test's teardown has deleted its snapshots

    def _patience(self) -> float:
        """How long a lease waits for room. Under --jobs, for other workers: any scenario's hold is at most
        the longest documented chain (twice: a lease inside another competes with fresh ones), plus real
        seconds of its own work (fuzzing) that no clock scale shortens. Alone, only the run's own refused
        deletes can free room, and their snapshots complete within the documented window."""
        timing = self._state.timing
        if self._state.worker is None:
            return timing.create_max + 2 * timing.poll_interval
        return 2 * timing.longest_chain + OWN_WORK_SECONDS

    def _claim(self, until: float, wait: bool) -> bool:
        """A place in the run's server budget for one more server than the test holds; False if none."""
        budget = self._state.budget
        if self._locks.holding() < budget.reserved:
            return True
        wait = wait and self._state.worker is not None  # alone, no one else can free a server
        ask = budget.reserve if not self._locks.holding() else functools.partial(budget.grow, wait=wait)
        while (grant := ask()) is Grant.WAIT:
            if not wait or time.monotonic() > until:
                budget.give_up()
                return False
            time.sleep(self._state.timing.poll_interval)
        return grant is Grant.GRANTED

    def _choose(self, wanted: tuple[int, ...], exclude: tuple[int, ...]) -> tuple[int | None, bool]:
        """Hold the first server with the wanted room; (its id or None, whether other workers held some)."""
        order = [*self.ids[self._turn % len(self.ids) :], *self.ids[: self._turn % len(self.ids)]]
        self._turn += 1
        held = [sid for sid in order if sid not in exclude and self._locks.try_hold(sid)]
        busy = len(held) < len([sid for sid in order if sid not in exclude])
        free = {sid: self.room(sid) for sid in held if self.wait_idle(sid)}
        chosen = next((sid for need in wanted for sid, has in free.items() if has >= need), None)
        for sid in held:
            if sid != chosen:
                self._locks.release(sid)
        return chosen, busy
