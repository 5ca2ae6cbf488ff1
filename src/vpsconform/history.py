"""One history per run: every exchange with the target, in order, redacted, as ``history.jsonl``.

Jepsen-style: the run does not only judge inside each scenario, it records every request it sends —
scenarios, generated traffic, watches, absent-id checks, cleanup — with the monotonic time it was sent and
answered, and the interlock's refusals and lost answers as events of their own. Each process (the
controller and every parallel worker) appends to its own part file under the report folder; at the end the
controller merges the parts by answer time into ``history.jsonl`` and numbers the records (``seq``).
Bodies are kept compact (snapshot lists keep only what the model reads) and every line goes through the
run's Redactor; an Authorization header that is not a known token is never written at all.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from vpsconform.client import ApiClient, Exchange
from vpsconform.errors import NoAnswer, UnsafeRequest
from vpsconform.redaction import Redactor

HISTORY_FILE = "history.jsonl"
PARTS = ".history"
#: Snapshot fields a list item keeps in the history (what the model reads).
ITEM_FIELDS = ("id", "name", "status", "size_mb", "created_at")
#: Longest body text kept as it is; longer bodies are cut to BODY_CUT characters.
BODY_KEEP = 1500
BODY_CUT = 300


def _compact_item(item: Any) -> Any:
    """A list item with only the fields the model reads (its server reduced to the id)."""
    if not isinstance(item, dict):
        return item
    kept = {key: item[key] for key in ITEM_FIELDS if key in item}
    server = item.get("server")
    kept["server"] = {"id": server.get("id")} if isinstance(server, dict) else server
    return kept


def compact_body(text: str | None, parsed: Any = None) -> Any:
    """A body as the history keeps it: lists cut to what the model reads, other JSON if short, else cut."""
    if isinstance(parsed, dict) and isinstance(parsed.get("results"), list):
        kept = {key: parsed[key] for key in ("count", "next") if key in parsed}
        return kept | {"results": [_compact_item(item) for item in parsed["results"]]}
    if text is None:
        return None
    if len(text) <= BODY_KEEP:
        return parsed if parsed is not None else text
    return text[:BODY_CUT] + f"... [{len(text)} chars]"


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):  # deeply nested hostile bodies stay text
        return None


class History:
    """This process's part of the run's history, appended to as exchanges happen (from any thread)."""

    def __init__(
        self,
        folder: Path,
        process: str,
        redactor: Redactor,
        accounts: Mapping[str, str],
        test: Callable[[], str] = lambda: "",
        *,
        fresh: bool = False,
    ) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob("*.jsonl") if fresh else ():  # parts of an earlier run killed in this folder
            stale.unlink()
        self.path = folder / f"{process}.jsonl"
        self._process = process
        self._redactor = redactor
        self._accounts = dict(accounts)  # token -> account name
        self._test = test
        self._counter = itertools.count(1)
        self._lock = threading.Lock()

    def next_ref(self) -> str:
        """A reference unique in the run (``<process>:<n>``) for the next record."""
        return f"{self._process}:{next(self._counter)}"

    def who(self, request: httpx.Request) -> str:
        """The account whose exact bearer token the request carried: main, foreign, none or other."""
        value = request.headers.get("authorization")
        if value is None:
            return "none"
        scheme, _, token = value.partition(" ")
        account = self._accounts.get(token) if scheme == "Bearer" else None
        return account or "other"

    def observe(self, exchange: Exchange, response: httpx.Response | None) -> None:
        """Record one answered exchange (an ApiClient observer)."""
        if response is None:
            return
        request = response.request
        now = time.monotonic()
        body = request.content.decode("utf-8", "replace") if request.content else None
        record = {
            "ref": exchange.seq or self.next_ref(),
            "kind": "exchange",
            "t0": round(now - exchange.elapsed_ms / 1000, 4),
            "t1": round(now, 4),
            "who": self.who(request),
            "client": exchange.label,
            "method": exchange.method,
            "url": exchange.url,
            "auth": self._auth(exchange),
            "body": compact_body(body, _json(body) if body else None),
            "status": exchange.status,
            "type": response.headers.get("content-type", ""),
            "response": compact_body(response.text, _json(response.text)),
        }
        self._write(record)

    def event(self, kind: str, request: Mapping[str, Any], message: str, started: float) -> None:
        """Record a request that got no answer: ``refused`` by the interlock, or ``lost`` in transport."""
        now = time.monotonic()
        record = {"ref": self.next_ref(), "kind": kind, "t0": round(started, 4), "t1": round(now, 4)}
        self._write(record | dict(request) | {"message": message})

    def _auth(self, exchange: Exchange) -> str | None:
        """The Authorization header as evidence may show it: a ${VAR} reference, or a mask for any other."""
        value = next((v for k, v in exchange.request_headers.items() if k.lower() == "authorization"), None)
        if value is None or "${" in value:
            return value
        return f"<{len(value)} characters, not a known token>"

    def _write(self, record: dict[str, Any]) -> None:
        record["at"] = datetime.now(UTC).isoformat(timespec="milliseconds")
        record["test"] = self._test()
        line = self._redactor.text(json.dumps(record, separators=(",", ":"), default=str))
        with self._lock, self.path.open("a", encoding="utf-8") as out:
            out.write(line + "\n")


class RecordedClient(ApiClient):
    """An ApiClient whose exchanges carry history references, and whose unanswered requests are events."""

    def __init__(self, *args: Any, history: History, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._history = history

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """As ApiClient.request; a refusal or a lost answer is recorded before it propagates."""
        started = time.monotonic()
        try:
            return super().request(method, path, **kwargs)
        except (UnsafeRequest, NoAnswer) as exc:
            kind = "refused" if isinstance(exc, UnsafeRequest) else "lost"
            url = path if path.startswith(("http://", "https://")) else self.base_url + path
            sent: dict[str, Any] = {
                "client": self.label,
                "method": method.upper(),
                "url": self._redactor.text(url),
            }
            body = kwargs.get("json_body")
            sent["body"] = compact_body(json.dumps(body), body) if isinstance(body, dict) else None
            self._history.event(kind, sent, str(exc).splitlines()[0][:300], started)
            raise

    def record(self, response: httpx.Response, *, elapsed: float | None = None) -> Exchange:
        """The exchange as evidence, with the reference of its history record."""
        exchange = super().record(response, elapsed=elapsed)
        return dataclasses.replace(exchange, seq=self._history.next_ref())


def read_parts(folder: Path) -> list[dict[str, Any]]:
    """Every record of every part file in a folder, in answer order."""
    records = []
    for part in sorted(folder.glob("*.jsonl")):
        for line in part.read_text(encoding="utf-8").splitlines():
            if line.strip():
                records.append(json.loads(line))
    records.sort(key=lambda r: (r["t1"], r["t0"], r["ref"]))
    return records


def merge(folder: Path, out: Path) -> list[dict[str, Any]]:
    """Merge the part files into ``out`` (numbered in answer order), remove them, and return the records."""
    records = read_parts(folder) if folder.is_dir() else []
    with out.open("w", encoding="utf-8") as sink:
        for seq, record in enumerate(records, 1):
            record["seq"] = seq
            sink.write(json.dumps(record, separators=(",", ":"), default=str) + "\n")
    for part in folder.glob("*.jsonl") if folder.is_dir() else ():
        part.unlink()
    if folder.is_dir():
        folder.rmdir()
    return records


def exchange_of(record: Mapping[str, Any]) -> Exchange:
    """A history record as report evidence (the Exchange the report renders, numbered with ``seq``)."""
    headers = {"Authorization": record["auth"]} if record.get("auth") else {}
    body = record.get("body")
    response = record.get("response")
    return Exchange(
        method=record["method"],
        url=record["url"],
        request_headers=headers,
        request_body=body if isinstance(body, str) or body is None else json.dumps(body),
        status=record.get("status", 0),
        response_headers={},
        response_body=response if isinstance(response, str) else json.dumps(response),
        elapsed_ms=(record["t1"] - record["t0"]) * 1000,
        label=record.get("client", ""),
        seq=str(record.get("seq", record["ref"])),
    )


def renumber(evidence: Iterable[list[Exchange]], records: Iterable[Mapping[str, Any]]) -> None:
    """Give evidence exchanges the merged history's ``seq`` in place of their process reference."""
    numbers = {r["ref"]: str(r["seq"]) for r in records}
    for exchanges in evidence:
        exchanges[:] = [_numbered(e, numbers) for e in exchanges]


def _numbered(exchange: Exchange, numbers: Mapping[str, str]) -> Exchange:
    seq = numbers.get(exchange.seq)
    return dataclasses.replace(exchange, seq=seq) if seq else exchange


def iter_history(path: Path) -> Iterator[dict[str, Any]]:
    """The records of a written ``history.jsonl``."""
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                yield json.loads(line)
