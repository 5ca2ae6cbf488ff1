"""The state one conformance session shares: configuration, clients, findings, ledger, measurements."""

from __future__ import annotations

import dataclasses
import itertools
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from vpsconform.catalog import Requirement, judged_by, load_requirements
from vpsconform.cleanup import Sweeper
from vpsconform.client import (
    SNAPSHOTS,
    ApiClient,
    Exchange,
    json_or_none,
    server_of,
)
from vpsconform.config import RunConfig, default_report_dir
from vpsconform.contract import ABSENT_ID
from vpsconform.errors import NoAnswer
from vpsconform.history import PARTS, History, RecordedClient
from vpsconform.interlock import Interlock
from vpsconform.ledger import Entry, Ledger, landed, same_id, snapshot_id_of
from vpsconform.liveness import Liveness
from vpsconform.observe import Timing
from vpsconform.plugin.budget import ServerBudget
from vpsconform.plugin.locks import ServerLocks
from vpsconform.preflight import api_base
from vpsconform.ratelimit import RateLimiter
from vpsconform.redaction import Redactor
from vpsconform.verdicts import Checker, Finding, Findings, Verdict


@dataclasses.dataclass
class RunResult:
    """The outcome of a session, for the CLI."""

    report: dict[str, Any]
    report_dir: Path


@dataclasses.dataclass(eq=False)
class Preset:
    """What `vpsconform run` hands the plugin: a ready configuration and where to report progress."""

    config: RunConfig
    reproduce: Callable[[str], str] = lambda selection: f"vpsconform run --select '{selection}'"
    notify: Callable[[str], None] = lambda message: None
    announce: Callable[[str], None] = lambda message: None
    on_test: Callable[[str, str, list[str]], None] = lambda nodeid, outcome, requirements: None
    result: RunResult | None = None
    interrupted: str | None = None


class Names:
    """Valid, run-unique snapshot names; every name the run sends starts with ``prefix``.

    ``tag`` tells parallel workers' names apart (each counts on its own).
    """

    def __init__(self, prefix: str, tag: str = "") -> None:
        self.prefix = prefix
        self._tag = tag
        self._counter = itertools.count(1)

    def __call__(self, label: str = "snap") -> str:
        return f"{self.prefix}{label}-{self._tag}{next(self._counter)}"


def listed_with_id(client: ApiClient, snapshot_id: int) -> list[dict[str, Any]] | None:
    """The items of the account's whole list that carry ``snapshot_id`` (None: the list was unreadable)."""
    _, items = client.list_all()
    if items is None:
        return None
    return [item for item in items if same_id(item.get("id"), snapshot_id)]


class RunState:
    """Everything one conformance session shares; the one place clients are made, so all share one door."""

    def __init__(
        self,
        config: RunConfig,
        preset: Preset | None,
        *,
        run_id: str | None = None,
        worker: str | None = None,
        distributed: bool = False,
    ) -> None:
        # A --target given with the documented path (as `serve` prints it) means its base URL.
        self.config = config = dataclasses.replace(config, target=api_base(config.target))
        self.preset = preset
        self.worker = worker  # this process is the parallel worker of that name
        self.distributed = distributed  # this process is the controller of parallel workers
        self.catalog: dict[str, Requirement] = load_requirements()
        self.findings = Findings()
        self.redactor = Redactor(config.secrets)
        self.report_dir = config.report_dir or default_report_dir()
        # What parallel workers share: server locks, budget, rate slots, and the scope they collected.
        self.shared = leases = self.report_dir / ".leases"
        # Parallel workers share one slot table, so the cap is the run's whatever the number of workers.
        self.limiter = RateLimiter(config.max_rps, shared=leases / "rate" if worker else None)
        self.timing = Timing(config.time_scale, config.timing_tolerance)
        self.started_at = datetime.now(UTC).isoformat(timespec="seconds")
        self.started = time.monotonic()
        self.run_id = run_id or f"{config.seed:x}{int(time.time()) % 100000:05d}"
        self.names = Names(f"vpsc-{self.run_id}-", tag=f"w{worker.removeprefix('gw')}" if worker else "")
        header = None if worker else self.ledger_header()
        self.ledger = Ledger(self.report_dir / "ledger.jsonl", header=header)
        self.interlock = Interlock(
            lambda: self.ledger.ids(),
            absent=(ABSENT_ID,),
            prefix=self.names.prefix,
            retired=self.ledger.retired,
            reused=self.reused,
        )
        self.recent: list[Exchange] = []
        self.checker: Checker | None = None
        tokens = {config.token: "main", config.foreign_token: "foreign"}
        self.history = History(
            self.report_dir / PARTS,
            worker or "main",
            self.redactor,
            {token: account for token, account in tokens.items() if token},
            lambda: self.current_test,
            fresh=worker is None,
        )
        self.tests: list[dict[str, Any]] = []
        self.measurements: list[dict[str, Any]] = []
        self.out_of_scope: dict[str, str] = {}
        self.scope_stated = False  # the controller said the workers' scope before the first test
        self.deferred: list[Entry] = []  # snapshots whose delete the provider refused for now
        self.locks = ServerLocks(leases)
        self.budget = ServerBudget(leases, len(config.server_ids), self.run_id)
        self.requests = 0
        self.liveness = Liveness(notify=self.notify)
        self.stopped: str | None = None  # why the run ended early (the target is gone, or not the API)
        self.result: RunResult | None = None
        self._clients: dict[str, ApiClient] = {}

    def reused(self, snapshot_id: int) -> str | None:
        """What now holds a snapshot id the run deleted, in the accounts the run can list (None: nothing).

        A provider may hand a freed id to a new snapshot (SQLite without AUTOINCREMENT does); a second
        delete or a restore of the old id would then hit it. An unreadable list cannot show it is free.
        """
        for account, client in self.clients_by_account().items():
            try:
                found = listed_with_id(client, snapshot_id)
            except NoAnswer as exc:
                return f"could not be checked for reuse: listing the {account} account failed ({exc})"
            if found is None:
                return f"could not be checked for reuse: the {account} account's list was unreadable"
            for item in found:
                name = item.get("name")
                if not (isinstance(name, str) and name.startswith(self.interlock.prefix)):
                    return f"now names a snapshot this run did not create (named {str(name)[:40]!r})"
        return None

    def ledger_header(self) -> dict[str, Any]:
        """What `vpsconform cleanup` needs to finish this run's cleanup later (never a token)."""
        env = {token: name for token, name in self.config.secrets.items()}
        return {
            "target": self.config.target,
            "prefix": self.names.prefix,
            "servers": {
                "main": list(self.config.server_ids),
                "foreign": list(self.config.foreign_server_ids),
            },
            "token_env": {
                "main": env.get(self.config.token),
                "foreign": env.get(self.config.foreign_token) if self.config.foreign_token else None,
            },
            "time_scale": self.config.time_scale,
            "timing_tolerance": self.config.timing_tolerance,
            "max_rps": self.config.max_rps,
            "request_timeout": self.config.request_timeout,
            "embedded": self.config.embedded,
            "started_at": self.started_at,
        }

    # Clients and evidence ------------------------------------------------------------------------------
    def client(self, account: str) -> ApiClient:
        """The client of ``main``, ``foreign`` or ``anonymous`` (made on first use, behind the interlock)."""
        if account not in self._clients:
            token = {"main": self.config.token, "foreign": self.config.foreign_token, "anonymous": None}[
                account
            ]
            self._clients[account] = RecordedClient(
                self.config.target,
                token,
                redactor=self.redactor,
                limiter=self.limiter,
                timeout=self.config.request_timeout,
                observers=[self.history.observe, self.observe],
                label=account,
                interlock=self.interlock,
                history=self.history,
                liveness=self.liveness,
            )
        return self._clients[account]

    def owner_of(self, server_id: Any) -> str:
        """The account a server belongs to, as configured (creates by any client are that account's)."""
        return "foreign" if server_id in self.config.foreign_server_ids else "main"

    def observe(self, exchange: Exchange, response: httpx.Response | None) -> None:
        """Every exchange: evidence for the running test, the 5xx watch, and the cleanup ledger."""
        self.recent.append(exchange)
        del self.recent[:-50]
        self.requests += 1
        if exchange.status >= 500:
            self.record_observation("every-response", Verdict.FAIL, f"{exchange.summary()}: a server error")
        if response is None:
            return
        method, path, status = response.request.method, response.request.url.path, response.status_code
        if method == "POST" and path == SNAPSHOTS:
            snapshot_id = landed(response)
            if snapshot_id is not None:
                server_id = snapshot_id_of(server_of(json_or_none(response)))
                account = exchange.label if exchange.label != "anonymous" else self.owner_of(server_id)
                self.ledger.created(account, snapshot_id, server_id)
        elif method == "DELETE" and status in (204, 404) and path.startswith(SNAPSHOTS):
            snapshot_id = snapshot_id_of(path[len(SNAPSHOTS) :].strip("/"))
            if snapshot_id is not None and exchange.label != "anonymous":
                self.ledger.gone(exchange.label, snapshot_id)

    def record_observation(self, observation: str, verdict: Verdict, message: str) -> None:
        """A finding for the requirement that judges a run-wide observation (catalog key ``judges``)."""
        requirement = judged_by(self.catalog, observation)
        if requirement is not None:
            evidence = list(self.recent[-2:]) if verdict is not Verdict.PASS else []
            self.findings.add(Finding(requirement, verdict, message, self.current_test, evidence))

    def window_overrun(self, window: str, message: str) -> None:
        """Fail the requirement that judges a documented window, there and then, with its evidence."""
        self.record_observation(window, Verdict.FAIL, message)

    @property
    def current_test(self) -> str:
        """The node id of the running test ("(session)" between tests)."""
        return self.checker.test if self.checker else "(session)"

    def notify(self, message: str) -> None:
        """Progress for the person watching: what the run does or waits for now (plain pytest ignores it)."""
        if self.preset:
            self.preset.notify(message)

    def announce(self, message: str) -> None:
        """A line the person watching must see, in any log (plain pytest ignores it)."""
        if self.preset:
            self.preset.announce(message)

    def measure(self, name: str, seconds: float, **details: Any) -> None:
        """Record a measured duration (seconds on the target's clock, and production minutes)."""
        self.measurements.append(
            {"name": name, "seconds": round(seconds, 3), "minutes": round(self.timing.minutes(seconds), 2)}
            | details
        )

    def clients_by_account(self) -> dict[str, ApiClient]:
        """The clients of the accounts that own servers (for cleanup and the check for reused ids)."""
        accounts = ["main", "foreign"] if self.config.has_foreign_account else ["main"]
        return {account: self.client(account) for account in accounts}

    def servers_by_account(self) -> dict[str, tuple[int, ...]]:
        """The configured servers of each account."""
        return {"main": self.config.server_ids, "foreign": self.config.foreign_server_ids}

    def sweeper(self) -> Sweeper:
        """A sweeper of this run's snapshots on its configured servers."""
        return Sweeper(
            self.clients_by_account(),
            self.servers_by_account(),
            self.ledger,
            self.names.prefix,
            self.timing,
            notify=self.notify,
        )

    def pending_deletes(self) -> list[Entry]:
        """Deferred deletes not done yet."""
        self.deferred = [e for e in self.deferred if e.alive]
        return list(self.deferred)

    def close(self) -> None:
        """Release the HTTP clients."""
        for api in self._clients.values():
            api.close()


STATE = pytest.StashKey[RunState]()


def state_of(config: pytest.Config) -> RunState | None:
    """The session's RunState, or None when this is not a conformance session."""
    return config.stash.get(STATE, None)
