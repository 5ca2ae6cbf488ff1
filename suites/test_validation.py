"""VALID: names of the documented characters are taken, anything else in a create body is refused.

Every refusal is sent to an own, idle server that has a free slot, right after a valid control create on that
server was accepted, so a 400 can only be about the input (not the limit, a restore, or a target that refuses
every create). Anything accidentally created is deleted at once, to keep the slot free.

Defects these tests catch: names checked with `\\w` or `str.isalnum()` (letters and digits of any script
pass), a regex ending in `$` (a trailing newline passes), no name check at all, a length cap below 64, names
re-cased or truncated on the way in, a crash on long or odd names, a `server_id` coerced with `int()` or
`bool` (1.5 and true become servers), list/object values taken for their first element, bodies that are not
JSON objects parsed leniently or crashing the parser, descriptions of any type stored.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any, NoReturn

import httpx
import pytest

from vpsconform.client import SNAPSHOTS, ApiClient, json_or_none
from vpsconform.ledger import snapshot_id_of
from vpsconform.plugin.resources import Servers, Snapshots
from vpsconform.plugin.state import Names

_UNSET: Any = object()


class Bench:
    """An own server's free slots, used one create at a time: whatever gets created is deleted at once."""

    def __init__(self, api: ApiClient, snapshots: Snapshots, servers: Servers, server_id: int) -> None:
        self.api = api
        self.snapshots = snapshots
        self.server_id = server_id
        self.free = servers.room(server_id)
        self.held: list[dict[str, Any]] = []  # created here, delete refused so far (e.g. still in progress)

    def __enter__(self) -> Bench:
        return self

    def __exit__(self, *exc: object) -> None:
        """Leave the server as found: held snapshots are waited for (bounded) and deleted."""
        for body in self.held:
            self.snapshots.wait(body)
            self.api.delete_snapshot(body["id"])  # a refusal is retried by the fixture and the session sweep

    def ready(self) -> bool:
        """True when a slot is free; held snapshots are waited for (bounded) and deleted to make one."""
        while self.held and len(self.held) >= self.free:
            body = self.held.pop(0)
            self.snapshots.wait(body)
            if self.api.delete_snapshot(body["id"]).status_code not in (204, 404):
                self.free -= 1  # stays until the fixture cleans up
        return len(self.held) < self.free

    def discard(self, body: dict[str, Any]) -> None:
        """Delete a snapshot made here; keep it in mind when the delete is refused."""
        if self.api.delete_snapshot(body["id"]).status_code not in (204, 404):
            self.held.append(body)

    def create(self, name: str, **fields: Any) -> tuple[httpx.Response, dict[str, Any] | None]:
        """A create through the snapshots fixture; the snapshot (if any) is deleted at once."""
        response, body = self.snapshots.create(self.server_id, name=name, **fields)
        if body is not None:
            self.discard(body)
        return response, body

    def post(self, json_body: Any = _UNSET, content: bytes | None = None) -> httpx.Response:
        """A raw create (any JSON value, or raw bytes); whatever it creates is deleted at once."""
        kwargs = {"json_body": json_body} if json_body is not _UNSET else {"content": content or b""}
        response = self.api.request("POST", SNAPSHOTS, **kwargs)
        if 200 <= response.status_code < 300:
            body = json_or_none(response)
            for item in body if isinstance(body, list) else [body]:  # a list: each item landed
                snapshot_id = snapshot_id_of(item.get("id")) if isinstance(item, dict) else None
                if snapshot_id is not None:
                    self.snapshots.created.append((self.api.label, snapshot_id))
                    self.discard(item)
        return response


#: Ends a test that cannot decide its requirements (``check.undecidable`` bound to them), with the reason.
GiveUp = Callable[[str], NoReturn]


@contextmanager
def bench_for(
    api: ApiClient, snapshots: Snapshots, servers: Servers, give_up: GiveUp, names: Names | None = None
) -> Iterator[Bench]:
    """A bench on a leased server (else the test gives up); with ``names``, once a control create passed."""
    with servers.lease(room=1) as server_id:
        if server_id is None:
            give_up("no configured server has a free snapshot slot")
        with Bench(api, snapshots, servers, server_id) as bench:
            if names is not None:
                control(bench, names, give_up)
            yield bench


def control(bench: Bench, names: Names, give_up: GiveUp) -> None:
    """A valid create on the bench must be accepted, else refusals of invalid input prove nothing."""
    if not bench.ready():
        give_up("no free snapshot slot on the leased server")
    response, body = bench.create(names("control"))
    if body is None:
        give_up(
            f"a valid control create on server {bench.server_id} answered {response.status_code}: "
            "refusals of invalid input cannot be told apart from it"
        )


def pad(base: str, length: int) -> str:
    """``base`` cut or padded with letters and digits to exactly ``length`` characters."""
    filler = "abcdefghijklmnopqrstuvwxyz0123456789"
    text = base + "-" + filler * (length // len(filler) + 1)
    return text[:length]


def valid_names(names) -> dict[str, str]:
    """Names the catalog's name rule requires to be accepted (1-64 of A-Z a-z 0-9 - _).

    Every name starts with the run's prefix (the client refuses any other), so names shorter than the
    prefix, digits-only names and names with a leading hyphen or underscore cannot be sent.
    """
    return {
        "64 characters": pad(names("max"), 64),
        "the prefix and one character": names.prefix + "a",
        "digits after the prefix": names.prefix + str(time.time_ns())[-12:],
        "runs of hyphens and underscores": names.prefix + "-_-_" + names("run")[len(names.prefix) :],
        "a trailing hyphen": names("trail") + "-",
        "underscores": names.prefix + "with_under_scores",
        "mixed case": names("MiXeD-CaSe"),
        "upper case and digits": names.prefix + "SNAPSHOT_" + "".join(c for c in names("n") if c.isdigit()),
    }


#: Invalid parts of names; each is sent after the run's prefix, so it is the part that makes the name invalid.
INVALID_NAMES = {
    "a space inside": "has space",
    "only spaces": "   ",
    "a dot": "name.with.dot",
    "a slash": "name/with/slash",
    "a backslash": "back\\slash",
    "a plus": "a+b",
    "an at sign": "user@host",
    "a colon": "snap:1",
    "e with acute (é)": "café",
    "sharp s (ß)": "straße",
    "Cyrillic letters": "снимок",
    "a full-width digit": "snap\uff11",
    "an emoji": "snap📸",
    "a tab": "tab\tname",
    "a newline inside": "new\nline",
    "a trailing newline": "trailing\n",
    "a NUL character": "nul\x00byte",
    "a double quote": 'quote"name',
    "a single quote": "it's",
    "a script tag": "<script>alert(1)</script>",
}


@pytest.mark.requirement("VALID-01", "CREATE-02")
def test_names_of_the_documented_characters_are_accepted(api, check, servers, snapshots, names):
    """1-64 characters of letters, digits, hyphens, underscores -> 201, and the name comes back unchanged.

    Catches: a minimum length above 1, a maximum below 64, names that must start with a letter, digits-only
    names refused, underscores or upper case refused, names lower-cased or trimmed on the way in.
    """
    give_up = partial(check.undecidable, requirements=("VALID-01", "CREATE-02"))
    with bench_for(api, snapshots, servers, give_up) as bench:
        for label, name in valid_names(names).items():
            if not bench.ready():
                give_up("no free snapshot slot left on the leased server")
            response, body = bench.create(name)
            check.status("VALID-01", response, f"create with {label} ({name!r})")
            if body is not None:
                check.that(
                    "CREATE-02",
                    body.get("name") == name,
                    f"201 body name is {body.get('name')!r}, sent {name!r}",
                    evidence=response,
                )


@pytest.mark.requirement("VALID-02", "VALID-03")
def test_empty_and_invalid_names_are_refused(api, check, servers, snapshots, names):
    """ "" -> 400; names with spaces, punctuation, non-ASCII letters or digits, controls, markup -> 400.

    The empty name is the one create without the run's prefix: it cannot carry one and still be empty.

    Catches: no name check, `\\w`/`isalnum()` checks (é, ß, Cyrillic, full-width digits pass), a regex
    anchored with `$` (trailing newline passes), a blocklist of a few characters, a crash on NUL or emoji.
    """
    give_up = partial(check.undecidable, requirements=("VALID-02", "VALID-03"))
    with bench_for(api, snapshots, servers, give_up, names) as bench:
        server_id = bench.server_id
        invalid = [("VALID-03", k, names.prefix + v) for k, v in INVALID_NAMES.items()]
        cases = [("VALID-02", "an empty name", ""), *invalid]
        for rid, label, name in cases:
            if not bench.ready():
                give_up("no free snapshot slot left on the leased server")
            response = bench.post({"server_id": server_id, "name": name})
            check.status(rid, response, f"create with {label} ({name!r})")


@pytest.mark.requirement("VALID-04", "CREATE-02")
@pytest.mark.parametrize("length", [65, 255, 1000, 10000])
def test_names_longer_than_64_are_refused_or_kept_whole(api, check, servers, snapshots, names, length):
    """A valid-charset name of 65 / 255 / 1000 / 10000 characters -> 201 (kept whole) or 400/413/422.

    Catches: a crash (column overflow, 500) or an odd code on long names; a long name accepted but silently
    truncated in the answer.
    """
    give_up = partial(check.undecidable, requirements=("VALID-04", "CREATE-02"))
    with bench_for(api, snapshots, servers, give_up) as bench:
        if not bench.ready():
            give_up("no free snapshot slot on the leased server")
        name = pad(names("long"), length)
        response, body = bench.create(name)
        check.status("VALID-04", response, f"create with a name of {length} valid characters")
        if body is None:
            return check.inconclusive("CREATE-02", f"the {length}-character name was not accepted")
        given = body.get("name")
        size = len(given) if isinstance(given, str) else repr(given)
        check.that(
            "CREATE-02",
            given == name,
            f"accepted {length}-character name came back as {size} characters",
            evidence=response,
        )


@pytest.mark.requirement("VALID-05", "VALID-06")
def test_missing_and_mistyped_fields_are_refused(api, check, servers, snapshots, names):
    """No server_id / no name -> 4xx; server_id or name of the wrong JSON type -> 4xx.

    Catches: defaults for required fields, `int()` coercion (1.5 -> the own server, true -> server 1),
    `str()` coercion of names (null -> "None"), lists or objects unwrapped to their content, crashes on types.
    """
    give_up = partial(check.undecidable, requirements=("VALID-05", "VALID-06"))
    with bench_for(api, snapshots, servers, give_up, names) as bench:
        server_id = bench.server_id
        name = names("typed")
        cases: list[tuple[str, str, dict[str, Any]]] = [
            ("VALID-05", "no server_id", {"name": name}),
            ("VALID-05", "no name", {"server_id": server_id}),
            ("VALID-05", "no name and a description", {"server_id": server_id, "description": "x"}),
            ("VALID-05", "an empty object", {}),
        ]
        for label, value in {
            "text": "abc",
            "true": True,
            "a fraction": server_id + 0.5,
            "null": None,
            "an empty list": [],
            "a list of the own server": [server_id],
            "an empty object": {},
            "an object with the own server": {"id": server_id},
        }.items():
            cases.append(("VALID-06", f"server_id {label}", {"server_id": value, "name": name}))
        for label, value in {
            "null": None,
            "an empty list": [],
            "a list of a valid name": [name],
            "an empty object": {},
            "an object with a valid name": {"name": name},
        }.items():
            cases.append(("VALID-06", f"name {label}", {"server_id": server_id, "name": value}))
        for rid, label, body in cases:
            if not bench.ready():
                give_up("no free snapshot slot left on the leased server")
            check.status(rid, bench.post(body), f"create with {label}")


@pytest.mark.requirement("VALID-07")
def test_bodies_that_are_not_json_objects_are_refused(api, check, servers, snapshots, names):
    """Malformed JSON, arrays, scalars, null and an empty body -> 4xx.

    Catches: lenient parsers (single quotes, trailing garbage), an array taken as a batch or for its first
    element, a crash on a body that is not an object or on an empty body.
    """
    give_up = partial(check.undecidable, requirements=("VALID-07",))
    with bench_for(api, snapshots, servers, give_up, names) as bench:
        server_id = bench.server_id
        valid = f'{{"server_id": {server_id}, "name": "{names("body")}"}}'
        cases = {
            "malformed JSON (cut short)": valid[: len(valid) // 2].encode(),
            "single-quoted pseudo-JSON": valid.replace('"', "'").encode(),
            "a valid object followed by garbage": (valid + " trailing").encode(),
            "an array holding a valid object": f"[{valid}]".encode(),
            "an empty array": b"[]",
            "a number (the server id)": str(server_id).encode(),
            "a string": b'"snapshot"',
            "null": b"null",
            "true": b"true",
            "an empty body": b"",
        }
        for label, content in cases.items():
            if not bench.ready():
                give_up("no free snapshot slot left on the leased server")
            check.status("VALID-07", bench.post(content=content), f"create with {label}")


@pytest.mark.requirement("VALID-08")
def test_description_that_is_not_text_is_refused(api, check, servers, snapshots, names):
    """description 123 / [] / {} -> 400 (a 201 is tolerated with a warning).

    Catches: descriptions stored as whatever JSON arrives (a list or object where clients expect text), and
    crashes on such values.
    """
    give_up = partial(check.undecidable, requirements=("VALID-08",))
    with bench_for(api, snapshots, servers, give_up, names) as bench:
        server_id = bench.server_id
        for label, value in {"a number": 123, "a list": [], "an object": {}}.items():
            if not bench.ready():
                give_up("no free snapshot slot left on the leased server")
            body = {"server_id": server_id, "name": names("desc"), "description": value}
            check.status("VALID-08", bench.post(body), f"create with description {label} ({value!r})")
