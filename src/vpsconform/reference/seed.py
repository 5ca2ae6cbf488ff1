"""The fixed account and server layout of a target, with fresh random tokens per start."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ServerSpec:
    """A server as seeded: id, name, disk size and initial power state."""

    id: int
    name: str
    disk_gb: int
    status: str


@dataclass(frozen=True)
class Account:
    """An API account: its bearer token (kept out of repr) and its servers."""

    name: str
    token: str = field(repr=False)
    servers: tuple[ServerSpec, ...]

    @property
    def server_ids(self) -> list[int]:
        """Ids of the account's servers, in seed order."""
        return [s.id for s in self.servers]


LAYOUT: dict[str, tuple[ServerSpec, ...]] = {
    "main": (
        ServerSpec(12345, "web-server-01", 25, "active"),
        ServerSpec(12346, "db-server-01", 50, "active"),
        ServerSpec(12347, "app-server-01", 80, "stopped"),
        ServerSpec(12348, "storage-server-01", 160, "active"),
        ServerSpec(12349, "dev-server-01", 25, "stopped"),
    ),
    "foreign": (
        ServerSpec(23456, "foreign-web-01", 25, "active"),
        ServerSpec(23457, "foreign-db-01", 80, "stopped"),
    ),
}


def make_accounts() -> list[Account]:
    """Accounts of LAYOUT, each with a new unguessable token (main account first)."""
    return [Account(name, secrets.token_urlsafe(24), servers) for name, servers in LAYOUT.items()]
