"""The fixed account and server layout of a target, with fresh random tokens per start."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ServerSpec:
    """A server as seeded: id, name, disk size, initial power state, and whether a run is ever told of it.

    A customer server holds the account's pre-existing data: the target serves it like any other server, but
    the embedded configuration never hands it to a run, so whatever a run does to it is a foreign touch.
    """

    id: int
    name: str
    disk_gb: int
    status: str
    customer: bool = False


@dataclass(frozen=True)
class SeededSnapshot:
    """A snapshot that exists before the target starts (customer data, never created through the API)."""

    id: int
    server_id: int
    name: str


@dataclass(frozen=True)
class Account:
    """An API account: its bearer token (kept out of repr) and its servers."""

    name: str
    token: str = field(repr=False)
    servers: tuple[ServerSpec, ...]

    @property
    def server_ids(self) -> list[int]:
        """Ids of the servers a run may use, in seed order (customer servers left out)."""
        return [s.id for s in self.servers if not s.customer]

    @property
    def customer_server_ids(self) -> list[int]:
        """Ids of the account's customer servers, which no run is given."""
        return [s.id for s in self.servers if s.customer]


LAYOUT: dict[str, tuple[ServerSpec, ...]] = {
    "main": (
        ServerSpec(12345, "web-server-01", 25, "active"),
        ServerSpec(12346, "db-server-01", 50, "active"),
        ServerSpec(12347, "app-server-01", 80, "stopped"),
        ServerSpec(12348, "storage-server-01", 160, "active"),
        ServerSpec(12349, "dev-server-01", 25, "stopped"),
        ServerSpec(12350, "customer-db-01", 50, "active", customer=True),
    ),
    "foreign": (
        ServerSpec(23456, "foreign-web-01", 25, "active"),
        ServerSpec(23457, "foreign-db-01", 80, "stopped"),
    ),
}

#: Customer snapshots at the ids that lenient spellings reach: 1 ("1.5", "1e0"), 123 ("١٢٣") and 1000 ("1e3",
#: "1000abc", "0x3e8", " 1000 "). All on the main account's customer server.
CUSTOMER_SNAPSHOTS: tuple[SeededSnapshot, ...] = (
    SeededSnapshot(1, 12350, "customer-initial-backup"),
    SeededSnapshot(123, 12350, "customer-before-migration"),
    SeededSnapshot(1000, 12350, "customer-nightly"),
)


def make_accounts() -> list[Account]:
    """Accounts of LAYOUT, each with a new unguessable token (main account first)."""
    return [Account(name, secrets.token_urlsafe(24), servers) for name, servers in LAYOUT.items()]
