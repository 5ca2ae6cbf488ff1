"""The safety interlock: destructive requests may only name snapshots the run created.

A restore overwrites a server's data and cannot be undone, so the client asks the interlock before it sends
anything that could restore, delete or modify a snapshot. A path id is read the way a lenient provider might
read it (``int(float(x))``, leading digits, Unicode digits, hex, surrounding whitespace, percent-encoding);
if any reading could denote a snapshot the run does not own, the request is refused before it is sent.
"""

from __future__ import annotations

import contextlib
import json
import re
import unicodedata
from collections.abc import Callable, Iterable
from urllib.parse import unquote

from vpsconform.contract import SNAPSHOTS
from vpsconform.errors import ReusedId, UnsafeRequest

#: Magnitudes at or beyond this fit no integer id column, so no snapshot can have them.
IMPOSSIBLE = 2**63
_LEADING = re.compile(r"^[+-]?\d+")
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _decoded(text: str) -> str:
    """Percent-decoding applied until nothing changes (at most three times: doubled encodings)."""
    for _ in range(3):
        decoded = unquote(text)
        if decoded == text:
            break
        text = decoded
    return text


def readings(segment: str) -> set[int]:
    """Every integer a lenient provider could read from one path segment."""
    found: set[int] = set()
    text = _decoded(segment)
    for candidate in {text, text.strip(), unicodedata.normalize("NFKC", text).strip()}:
        found.update(_parses(candidate))
    return found


def _parses(text: str) -> set[int]:
    values: set[int] = set()
    for parse in (int, lambda s: int(s, 0), lambda s: int(float(s))):
        with contextlib.suppress(ValueError, OverflowError, TypeError):
            values.add(parse(text))
    match = _LEADING.match(text)  # "1000abc" -> 1000; \d matches Unicode digits, int() reads them
    if match:
        values.add(int(match.group()))
    return values


class Interlock:
    """Refuses destructive requests whose target could be anything but the run's own snapshots.

    ``owned`` returns the snapshot ids the run created (any account, alive or deleted); ``absent`` are ids
    the run established no account holds; ``prefix`` is the name every snapshot the run creates carries.
    ``retired`` returns the owned ids the run has deleted, and ``reused(id)`` says what else now holds such
    an id (None if nothing does); it is asked before every destructive request that names a retired id.
    """

    def __init__(
        self,
        owned: Callable[[], Iterable[int]],
        *,
        absent: Iterable[int],
        prefix: str,
        retired: Callable[[], Iterable[int]] = frozenset,
        reused: Callable[[int], str | None] = lambda snapshot_id: None,
    ) -> None:
        self._owned = owned
        self._absent = frozenset(absent)
        self._retired = retired
        self._reused = reused
        self.prefix = prefix

    def forget_absent(self) -> None:
        """Stop allowing the ids thought absent (the target turned out to hold one of them)."""
        self._absent = frozenset()

    def allowed(self, value: int) -> bool:
        """True when ``value`` can only be a snapshot of this run, or none at all."""
        if abs(value) >= IMPOSSIBLE:
            return True
        return value > 0 and (value in self._absent or value in set(self._owned()))

    def check(self, method: str, raw_path: str, query: str, body: bytes | None) -> None:
        """Raise UnsafeRequest when the request could touch what the run did not create."""
        method = method.upper()
        if method in _SAFE_METHODS:
            return
        path = _decoded(raw_path)
        if any(part in (".", "..") for part in path.split("/")) or "//" in path:
            raise UnsafeRequest(f"{method} {raw_path}: dot segments or empty segments in a destructive path")
        if not path.lower().startswith(SNAPSHOTS.rstrip("/")):
            raise UnsafeRequest(f"{method} {raw_path}: the run sends nothing but GET outside {SNAPSHOTS}")
        rest = path[len(SNAPSHOTS) :] if path.lower().startswith(SNAPSHOTS) else ""
        if rest == "":
            self._check_collection(method, query, body)
            return
        if query:
            raise UnsafeRequest(f"{method} {path}?{query}: destructive requests carry no query string")
        segment, _, tail = rest.partition("/")
        if tail.lower() not in ("", "restore/", "restore"):
            raise UnsafeRequest(f"{method} {path}: not a documented snapshot path")
        values = readings(segment)
        unsafe = sorted(v for v in values if not self.allowed(v))
        if unsafe:
            raise UnsafeRequest(
                f"{method} {path}: the id {segment!r} could denote snapshot(s) {unsafe[:3]} "
                "that this run did not create"
            )
        for value in sorted(values & set(self._retired())):
            holder = self._reused(value)
            if holder is not None:
                raise ReusedId(f"{method} {path}: snapshot id {value}, which this run deleted, {holder}")

    def _check_collection(self, method: str, query: str, body: bytes | None) -> None:
        if method == "DELETE":
            raise UnsafeRequest(f"DELETE {SNAPSHOTS}: the collection is never deleted")
        if method != "POST" or body is None:
            return
        try:
            document = json.loads(body)
        except (ValueError, UnicodeDecodeError, RecursionError):
            return  # not JSON (or nested past any parser): a provider cannot read a name from it either
        name = document.get("name") if isinstance(document, dict) else None
        if isinstance(name, str) and name and not name.startswith(self.prefix):  # "" cannot carry one
            raise UnsafeRequest(f"POST {SNAPSHOTS}: the name {name[:40]!r} lacks this run's prefix")
