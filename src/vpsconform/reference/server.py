"""Serve a reference target with uvicorn on a loopback port, in a background thread."""

from __future__ import annotations

import json
import shlex
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import uvicorn

from vpsconform.reference import lifecycle
from vpsconform.reference.app import create_app, target_stats
from vpsconform.reference.chaos import Chaos
from vpsconform.reference.options import TargetOptions
from vpsconform.reference.seed import Account, make_accounts
from vpsconform.reference.store import Store

START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0


@dataclass(repr=False)
class RunningTarget:
    """A started target: its URL, accounts, probe command templates and options; stop() ends it.

    With `stats_path` set, stop() writes the target's counters there as JSON (what the kill matrix reads).
    """

    url: str
    accounts: list[Account]
    options: TargetOptions
    _server: uvicorn.Server = field(repr=False)
    _thread: threading.Thread = field(repr=False)
    _socket: socket.socket = field(repr=False)
    _store: Store = field(repr=False)
    _chaos: Chaos = field(repr=False)
    stats_path: Path | None = None

    @property
    def probe_write_command(self) -> str:
        """Shell template writing a data marker; fill {server_id} and {marker}."""
        return f"{self._probe()} write {{server_id}} {{marker}}"

    @property
    def probe_read_command(self) -> str:
        """Shell template printing a server's data marker; fill {server_id}."""
        return f"{self._probe()} read {{server_id}}"

    def _probe(self) -> str:
        """The common prefix of the probe commands."""
        return f"{shlex.quote(sys.executable)} -m vpsconform.reference.probe --url {self.url}"

    def account(self, name: str) -> Account:
        """The account called `name` ("main" or "foreign")."""
        for account in self.accounts:
            if account.name == name:
                return account
        raise KeyError(name)

    @property
    def stats_url(self) -> str:
        """The unauthenticated loopback endpoint serving stats() as JSON."""
        return f"{self.url}/_probe/stats"

    def stats(self) -> dict[str, Any]:
        """Foreign restores and deletes (customer snapshots hit), API-created snapshots held, chaos events."""
        return target_stats(self._store, self._chaos)

    def stop(self, *, wait: bool = True) -> None:
        """Stop serving, wait (bounded) for the server thread, then write stats_path; safe to call twice.

        ``wait=False`` only asks the server to wind down (uvicorn takes about 0.2 s, its socket included):
        for test teardowns that need the target gone, not its last counters.
        """
        self._server.should_exit = True
        if not wait:
            return
        self._thread.join(STOP_TIMEOUT)
        self._socket.close()
        if self.stats_path is not None:
            self.stats_path.parent.mkdir(parents=True, exist_ok=True)
            self.stats_path.write_text(json.dumps(self.stats(), indent=2) + "\n", encoding="utf-8")

    def __enter__(self) -> RunningTarget:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"RunningTarget(url={self.url!r}, accounts={self.accounts!r}, options={self.options!r})"


def _bind(host: str, port: int) -> socket.socket:
    """A bound TCP socket (port 0 picks a free one); uvicorn starts listening on it.

    The explicit IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on sockets that declare it, and without
    it Nagle's algorithm and delayed ACKs cost about 40 ms per request.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def start(
    options: TargetOptions | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    stats_path: Path | None = None,
) -> RunningTarget:
    """Start a fresh target (new state, new tokens) and return once it accepts connections."""
    options = options or TargetOptions()
    accounts = make_accounts()
    store, chaos = Store(options, accounts), Chaos(options)
    app = create_app(store, chaos)
    sock = _bind(host, port)
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="off",
        http="h11",
        loop="asyncio",
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    bound_port = sock.getsockname()[1]
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"reference-target-{bound_port}", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            thread.join(STOP_TIMEOUT)
            sock.close()
            raise RuntimeError(f"reference target did not start on {host}:{bound_port}")
        time.sleep(0.005)
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{bound_port}"
    return RunningTarget(url, accounts, options, server, thread, sock, store, chaos, stats_path)


def describe(target: RunningTarget) -> str:
    """Human-readable description of a running target (tokens included) for a `serve` command to print."""
    options = target.options
    lines = [
        f"VPS.org Snapshots API reference target at {target.url}",
        f"  base path: {target.url}/api/v1/snapshots/",
        f"  time scale: {options.time_scale:g} (a documented minute lasts {60 * options.time_scale:g} s)",
        f"  variants: {', '.join(sorted(options.variants)) or '(none)'}",
        f"  faults: {', '.join(sorted(options.faults)) or '(none)'}",
    ]
    for account in target.accounts:
        lines += [f"  account {account.name}:", f"    token: {account.token}"]
        for server in account.servers:
            create = lifecycle.create_minutes(server.disk_gb, options)
            restore = lifecycle.restore_minutes(server.disk_gb, options)
            lines.append(
                f"    server {server.id} {server.name}: {server.disk_gb} GB, {server.status}, "
                f"snapshot {create:g} min, restore {restore:g} min"
                + (" (customer data: give it to no run)" if server.customer else "")
            )
    lines += [
        "  data probe:",
        f"    write: {target.probe_write_command}",
        f"    read:  {target.probe_read_command}",
        f"  stats (foreign restores and deletes, snapshots held): {target.stats_url}",
        "  run the suite against it (paste both lines; the run reads the tokens from these variables):",
        f"    export VPSCONFORM_TOKEN={target.account('main').token} "
        f"VPSCONFORM_FOREIGN_TOKEN={target.account('foreign').token}",
        f"    {run_command(target)}",
    ]
    return "\n".join(lines)


def run_command(target: RunningTarget) -> str:
    """The `vpsconform run` line for this target: its URL, clock, servers and probes (tokens from the env)."""
    main, foreign = target.account("main"), target.account("foreign")
    words = ["vpsconform run", f"--target {target.url}", f"--time-scale {target.options.time_scale:g}"]
    words += [f"--server-id {sid}" for sid in main.server_ids]
    words += [f"--foreign-server-id {sid}" for sid in foreign.server_ids]
    words += [f"--probe-write {shlex.quote(target.probe_write_command)}"]
    words += [f"--probe-read {shlex.quote(target.probe_read_command)}"]
    return " ".join(words)
