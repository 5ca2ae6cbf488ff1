"""Faithful variants: switches for choices the provider's documentation leaves open."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Variant:
    """A named, documented-compatible behaviour switch the suite must accept.

    A chaos variant takes away what some observations need (connections lost, a deleted id given to a
    customer's snapshot): the suite may then be unable to judge some requirements, but must never call the
    target nonconformant for it, must never touch what the run did not create, and must still clean up.
    """

    name: str
    description: str
    chaos: bool = False


VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (
        Variant("error-layout", 'error bodies are {"error": {"code", "message"}} instead of {"detail"}'),
        Variant("extra-fields", "snapshots, lists and restore answers carry undocumented extra fields"),
        Variant("empty-description", 'an omitted or null description is stored and returned as ""'),
        Variant("pagination-keys", 'the list carries "next": null and "previous": null'),
        Variant("bare-challenge", "401 answers carry a bare `WWW-Authenticate: Bearer` challenge"),
        Variant("stopped-after-restore", "a server is `stopped` after any restore"),
        Variant("slow-but-inside", "creates take 9.5 and restores 14 scaled minutes on every server"),
        Variant("numeric-strings", 'numeric strings ("12345") are accepted for server_id in a create'),
        Variant("no-location", "the 201 answer to a create has no Location header"),
        Variant("delete-refused-in-progress", "deleting a snapshot still in progress is refused (400)"),
        Variant(
            "reused-ids",
            "a deleted snapshot's id is at once given to a new snapshot on the account's customer server",
            chaos=True,
        ),
        Variant(
            "servers-api-429",
            "the servers API throttles about a fifth of its calls: 429 with Retry-After (1 s, time-scaled)",
        ),
        Variant(
            "flaky-network",
            "about 3% of API requests lose their connection, half before and half after the target acted",
            chaos=True,
        ),
    )
}
