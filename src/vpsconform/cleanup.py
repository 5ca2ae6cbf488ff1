"""Cleanup that finishes: delete what the run made, in rounds, under one deadline; measure what is left.

Each round lists every server once per account, deletes the run's snapshots it finds (ledgered, or carrying
the run's name prefix) and strikes off those the listing no longer shows. A snapshot the provider will not
delete yet (say, still in progress) is tried again next round. When the deadline passes, what the last
listing still shows is reported as left — measured, never assumed.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx

from vpsconform.client import ApiClient, Exchange, json_or_none
from vpsconform.errors import NoAnswer, TargetSilent
from vpsconform.interlock import Interlock
from vpsconform.ledger import Entry, Ledger, snapshot_id_of
from vpsconform.liveness import Liveness
from vpsconform.observe import Timing
from vpsconform.options import REMOTE_MAX_RPS
from vpsconform.ratelimit import RateLimiter
from vpsconform.redaction import Redactor


@dataclasses.dataclass
class SweepResult:
    """What a sweep achieved: ids still present per the last listing, or why that could not be measured."""

    left_ids: list[int]
    unknown: str | None = None

    @property
    def left(self) -> int | None:
        """How many of the run's snapshots the target still holds (None when that could not be listed)."""
        return None if self.unknown else len(self.left_ids)


def deadline_for(timing: Timing) -> float:
    """Seconds a full cleanup may take: a snapshot may need to complete and its server to finish restoring."""
    return timing.create_max + timing.restore_max + 3 * timing.poll_interval


def bare_items(response: httpx.Response) -> list[dict[str, Any]] | None:
    """The snapshots of a list answered as a bare array: cleanup reads what it can, even from a list format
    the suite fails (LIST-01), so a broken list never leaves the run's snapshots behind."""
    body = json_or_none(response)
    if response.status_code != 200 or not isinstance(body, list):
        return None
    return [item for item in body if isinstance(item, dict)]


class Sweeper:
    """Deletes the run's snapshots on the configured servers of each account."""

    def __init__(
        self,
        clients: Mapping[str, ApiClient],
        servers: Mapping[str, Sequence[int]],
        ledger: Ledger,
        prefix: str,
        timing: Timing,
        notify: Callable[[str], None] = lambda message: None,
    ) -> None:
        self._clients = clients
        self._servers = servers
        self._ledger = ledger
        self._prefix = prefix
        self._timing = timing
        self._notify = notify

    def run(self, deadline: float, *, only: Sequence[Entry] | None = None) -> SweepResult:
        """Sweep in rounds until a listing shows nothing of the run, or ``deadline`` seconds pass.

        ``only`` limits the sweep to these ledger entries (a test's own snapshots); otherwise every ledgered
        or prefixed snapshot on the configured servers is the run's to delete. A delete answered 204 is
        believed only once a listing no longer shows the snapshot. A target that stopped answering ends
        the sweep at once: what it holds is unknown.
        """
        until = time.monotonic() + deadline
        previous: set[int] = set()
        while True:
            try:
                present, unknown, refused = self._round(only)
            except TargetSilent as exc:
                return SweepResult(
                    sorted(previous), f"{exc}; finish with `vpsconform cleanup` once it is back"
                )
            if not present and unknown is None:
                return SweepResult([])
            if time.monotonic() >= until:
                return SweepResult(sorted(present), unknown)
            if only is not None and not refused and present == previous:
                return SweepResult(sorted(present), unknown)  # answered 204, still listed: the sweep retries
            if refused or unknown or present == previous:
                self._notify(f"cleanup: {len(present)} snapshot(s) of this run still present; next round")
                time.sleep(self._timing.poll_interval)
            previous = present

    def _round(self, only: Sequence[Entry] | None) -> tuple[set[int], str | None, bool]:
        """One listing per server and account; returns (the run's ids listed, why a list failed, refusals)."""
        present: set[int] = set()
        unknown: str | None = None
        refused = False
        for account, server_ids in self._scopes(only).items():
            api = self._clients[account]
            for server_id in server_ids:
                try:
                    first, items = api.list_all(server_id)
                except TargetSilent:
                    raise
                except NoAnswer as exc:
                    first, items, unknown = None, None, f"listing failed: {exc}"
                if items is None and first is not None:
                    items = bare_items(first)
                if items is None:
                    unknown = unknown or f"the list of server {server_id} could not be read"
                    continue
                listed, refusals = self._delete_listed(account, api, server_id, items, only)
                present |= listed
                refused = refused or refusals
        return present, unknown, refused

    def _scopes(self, only: Sequence[Entry] | None) -> dict[str, list[Any]]:
        """Per account, the server filters to list: configured servers, and account-wide for strays."""
        scopes: dict[str, list[Any]] = {}
        for account, server_ids in self._servers.items():
            if account not in self._clients:
                continue
            entries = only if only is not None else self._ledger.alive(account)
            wanted = [e for e in entries if e.account == account and e.alive]
            listed = list(server_ids) if only is None else sorted({e.server_id for e in wanted}, key=str)
            if any(e.server_id is None or e.server_id not in server_ids for e in wanted):
                listed = [s for s in listed if s is not None and s in server_ids] + [None]
            if listed:
                scopes[account] = listed
        return scopes

    def _delete_listed(
        self,
        account: str,
        api: ApiClient,
        server_id: Any,
        items: list[dict[str, Any]],
        only: Sequence[Entry] | None,
    ) -> tuple[set[int], bool]:
        """Delete the run's snapshots among ``items``; returns (the run's ids listed, whether any refused)."""
        listed = {sid: item for item in items if (sid := snapshot_id_of(item.get("id"))) is not None}
        if only is not None:
            mine = {e.snapshot_id for e in only if e.account == account}
        else:
            mine = self._ledger.ids(account)
            mine |= {
                sid for sid, item in listed.items() if str(item.get("name", "")).startswith(self._prefix)
            }
        for entry in self._ledger.alive(account):
            on_this_list = server_id is None or entry.server_id in (server_id, None)
            if entry.snapshot_id in mine and on_this_list and entry.snapshot_id not in listed:
                self._ledger.gone(account, entry.snapshot_id)
        present = mine & listed.keys()
        refused = False
        for sid in sorted(present):
            self._ledger.created(account, sid, server_id)  # (again) alive: a listing shows it
            try:
                response = api.delete_snapshot(sid)
            except TargetSilent:
                raise
            except NoAnswer:
                refused = True
                continue
            refused = refused or response.status_code not in (204, 404)
        return present, refused


def resume_cleanup(
    journal: Path, *, env: Mapping[str, str] | None = None, notify: Callable[[str], None] = lambda m: None
) -> SweepResult:
    """Finish the cleanup of killed runs from their ledger: each run's target, servers and prefix, no more.

    Every run the journal holds is swept (a report folder reused by older versions holds several). Tokens
    come from the environment variables each run named in its header. Idempotent: a second call finds
    nothing left and deletes nothing.
    """
    env = os.environ if env is None else env
    runs = Ledger.runs(journal)
    for header, _ in runs:  # every run's header is whole and every token there before anything is deleted
        if not isinstance(header.get("servers"), dict) or not isinstance(header.get("target"), str):
            raise ValueError(f"{journal}: a run header without its target and servers; not a ledger")
        _tokens(header, env)
    results = [_resume_run(header, ledger, env, notify) for header, ledger in runs]
    unknown = next((result.unknown for result in results if result.unknown), None)
    return SweepResult(sorted({sid for result in results for sid in result.left_ids}), unknown)


def _tokens(header: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, tuple[str, str]]:
    """Each account's token and the variable holding it, for the accounts a run's header gives servers."""
    tokens = {}
    for account, variable in (header.get("token_env") or {}).items():
        if not variable or not header["servers"].get(account):
            continue
        token = env.get(variable)
        if not token:
            raise ValueError(f"set {variable} to the token of the run's {account} account")
        tokens[account] = (token, variable)
    return tokens


def _resume_run(
    header: dict[str, Any], ledger: Ledger, env: Mapping[str, str], notify: Callable[[str], None]
) -> SweepResult:
    """Sweep one run of a journal."""
    timing = Timing(float(header.get("time_scale", 1.0)), float(header.get("timing_tolerance", 0.1)))
    tokens = _tokens(header, env)
    redactor = Redactor({token: variable for token, variable in tokens.values()})
    limiter = RateLimiter(float(header.get("max_rps", REMOTE_MAX_RPS)))
    interlock = Interlock(ledger.ids, absent=(), prefix=str(header["prefix"]))
    liveness = Liveness(notify)
    clients = {
        account: ApiClient(
            str(header["target"]),
            token,
            redactor=redactor,
            limiter=limiter,
            timeout=float(header.get("request_timeout", 30.0)),
            observers=[_ledger_observer(ledger, account)],
            label=account,
            interlock=interlock,
            liveness=liveness,
        )
        for account, (token, _) in tokens.items()
    }
    notify(f"cleanup of run {header['prefix']}* on {header['target']}: {len(ledger.alive())} ledgered alive")
    servers = {account: tuple(ids) for account, ids in header["servers"].items()}
    try:
        return Sweeper(clients, servers, ledger, str(header["prefix"]), timing, notify).run(
            deadline_for(timing)
        )
    finally:
        for api in clients.values():
            api.close()


def _ledger_observer(ledger: Ledger, account: str) -> Callable[[Exchange, httpx.Response | None], None]:
    """Strike off what a delete removed, as the run's own observer would have."""

    def observe(exchange: Exchange, response: httpx.Response | None) -> None:
        if response is not None and exchange.method == "DELETE" and exchange.status in (204, 404):
            snapshot_id = snapshot_id_of(response.request.url.path.rstrip("/").rsplit("/", 1)[-1])
            if snapshot_id is not None:
                ledger.gone(account, snapshot_id)

    return observe
