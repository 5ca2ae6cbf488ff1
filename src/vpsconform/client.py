"""The HTTP client every conformance request goes through: timeouts, a polite rate, and evidence capture.

Each request becomes an :class:`Exchange` (request and response, secrets replaced by ``${ENV_VAR}``
references) that is handed to the observers: the evidence log of the running test, the cleanup ledger and
the server-error watch.
"""

from __future__ import annotations

import dataclasses
import json
import shlex
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

import httpx

from vpsconform.contract import SERVERS, SNAPSHOTS
from vpsconform.errors import NoAnswer
from vpsconform.interlock import Interlock
from vpsconform.ratelimit import RateLimiter
from vpsconform.redaction import Redactor

if TYPE_CHECKING:
    from vpsconform.liveness import Liveness

__all__ = ["SERVERS", "SNAPSHOTS", "ApiClient", "Exchange"]
_BODY_LIMIT = 4000
_UNSET: Any = object()
#: How many list pages ``list_all`` reads at most.
MAX_PAGES = 20
#: Key under which a response's extensions carry its Exchange (the evidence of exactly that request).
EXCHANGE = "vpsconform.exchange"
#: Methods whose lost answers are retried (reads), how often, and the first backoff in seconds.
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS"})
RETRIES = 3
BACKOFF = 0.25
#: The longest Retry-After honoured, in seconds; a longer one ends the retries.
MAX_RETRY_AFTER = 60.0


@dataclasses.dataclass(frozen=True)
class Exchange:
    """One request and its response, as evidence: secrets already replaced, bodies truncated."""

    method: str
    url: str
    request_headers: dict[str, str]
    request_body: str | None
    status: int
    response_headers: dict[str, str]
    response_body: str
    elapsed_ms: float
    label: str = ""
    #: Where the exchange sits in the run's history (history.jsonl's ``seq``), when it was recorded there.
    seq: str = ""

    def curl(self) -> str:
        """A curl command that sends the same request (tokens read from the environment)."""
        parts = ["curl", "-sS", "-i", "-X", self.method]
        for name, value in self.request_headers.items():
            header = f"{name}: {value}"
            # Double quotes so ${VPSCONFORM_TOKEN} expands; everything else single-quoted.
            parts.append("-H " + (f'"{header}"' if "${" in header else shlex.quote(header)))
        if self.request_body is not None:
            parts.append("--data-binary " + shlex.quote(self.request_body))
        parts.append(shlex.quote(self.url))
        return " ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form for reports."""
        return {
            "request": {
                "method": self.method,
                "url": self.url,
                "headers": self.request_headers,
                "body": self.request_body,
            },
            "response": {"status": self.status, "headers": self.response_headers, "body": self.response_body},
            "elapsed_ms": round(self.elapsed_ms, 1),
            "label": self.label,
            "curl": self.curl(),
        } | ({"seq": self.seq} if self.seq else {})

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Exchange:
        """Rebuild an exchange from :meth:`to_dict` (findings cross from parallel workers as dicts)."""
        request, response = data["request"], data["response"]
        return cls(
            method=request["method"],
            url=request["url"],
            request_headers=dict(request["headers"]),
            request_body=request["body"],
            status=response["status"],
            response_headers=dict(response["headers"]),
            response_body=response["body"],
            elapsed_ms=data["elapsed_ms"],
            label=data.get("label", ""),
            seq=data.get("seq", ""),
        )

    def summary(self) -> str:
        """``POST /api/v1/snapshots/ -> 201`` for messages."""
        path = httpx.URL(self.url).raw_path.decode("ascii", "replace")
        return f"{self.method} {path} -> {self.status}"


Observer = Callable[[Exchange, httpx.Response | None], None]


class ApiClient:
    """A client for one account (or none) of the target: the four documented operations and raw requests."""

    def __init__(
        self,
        base_url: str,
        token: str | None,
        *,
        redactor: Redactor,
        limiter: RateLimiter,
        timeout: float,
        observers: list[Observer],
        label: str = "",
        interlock: Interlock | None = None,
        liveness: Liveness | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._interlock = interlock
        self._liveness = liveness
        self._timeout = timeout
        self.label = label
        self._token = token
        self._redactor = redactor
        self._limiter = limiter
        self._observers = observers
        self._http = httpx.Client(
            timeout=timeout, follow_redirects=False, limits=httpx.Limits(max_connections=32)
        )

    def __repr__(self) -> str:
        return f"ApiClient({self.base_url!r}, label={self.label!r})"

    def close(self) -> None:
        """Release the connection pool."""
        self._http.close()

    def auth_headers(self) -> dict[str, str]:
        """The Authorization header of this client's account (empty for the anonymous client)."""
        return {"Authorization": f"Bearer {self._token}"} if self._token else {}

    @property
    def limiter(self) -> RateLimiter:
        """The shared rate limiter (for deliberate bursts)."""
        return self._limiter

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = _UNSET,
        content: bytes | str | None = None,
        params: Mapping[str, Any] | list[tuple[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
        authenticated: bool = True,
        timeout: float | None = None,
    ) -> httpx.Response:
        """Send one request; ``headers`` override the defaults, ``authenticated=False`` sends no token,
        ``timeout`` replaces the client's for this request (a ``content`` that is not JSON, a deliberate
        malformation, waits only as long as the liveness watch allows generated requests).

        The interlock sees the exact request before it goes out and may refuse it (UnsafeRequest). Reads are
        retried on transport errors with a bounded backoff; a 429 is retried after its Retry-After (it means
        the request was not acted on); a write whose answer was lost is never resent (NoAnswer).
        """
        merged = {"Accept": "application/json"}
        if authenticated:
            merged.update(self.auth_headers())
        if json_body is not _UNSET:
            content = json.dumps(json_body).encode()
            merged["Content-Type"] = "application/json"
        elif content is not None:
            merged.setdefault("Content-Type", "application/json")
            if timeout is None and self._liveness is not None and not _is_json(content):
                timeout = self._liveness.answer_timeout(self._timeout)
        merged.update(headers or {})
        merged = {k: v for k, v in merged.items() if v is not None}
        url = path if path.startswith(("http://", "https://")) else self.base_url + path
        request = self._http.build_request(
            method, url, content=content, params=params, headers=merged, timeout=timeout or self._timeout
        )
        if self._interlock is not None:
            self._interlock.check(
                request.method,
                request.url.raw_path.split(b"?")[0].decode("ascii", "replace"),
                request.url.query.decode("ascii", "replace"),
                request.content,
            )
        for attempt in range(1, RETRIES + 2):
            response = self._send(request, retry_lost=request.method in IDEMPOTENT and attempt <= RETRIES)
            if response is None:
                time.sleep(BACKOFF * 2 ** (attempt - 1))
                continue
            pause = retry_after(response) if response.status_code == 429 and attempt <= RETRIES else None
            if pause is None:
                return response
            if self._liveness is not None:
                self._liveness.notify(f"{method} {path} answered 429: sending it again in {pause:.1f} s")
            time.sleep(pause)
        assert response is not None, "the last attempt returns its response or raises"
        return response

    def _send(
        self, request: httpx.Request, *, retry_lost: bool, check: bool = False
    ) -> httpx.Response | None:
        """One attempt: the response (observed as evidence), None when a lost read may be retried.

        With a liveness watch, a streak of lost attempts is checked (``check``: this is that attempt) and may
        end in TargetSilent; while the target is gone, requests fail at once.
        """
        where = f"{request.method} {self._redactor.text(str(request.url))}"
        if self._liveness is not None:
            self._liveness.admit()
            if self._liveness.gone is not None:
                request.extensions["timeout"] = httpx.Timeout(
                    self._liveness.short_timeout(self._timeout)
                ).as_dict()
        self._limiter.wait()
        started = time.perf_counter()
        sent_at = time.monotonic()
        try:
            response = self._http.send(request)
        except httpx.HTTPError as exc:
            if self._liveness is not None and not check and self._silent(sent_at, where):
                raise self._liveness.give_up(where, exc) from exc
            if retry_lost:
                return None
            if isinstance(exc, httpx.TimeoutException):
                raise NoAnswer(f"{where}: no answer within the timeout ({exc.__class__.__name__})") from exc
            lost = "" if request.method in IDEMPOTENT else " (not resent: the target may have acted on it)"
            raise NoAnswer(f"{where}: {exc.__class__.__name__}: {exc}{lost}") from exc
        if self._liveness is not None:
            self._liveness.answered(time.perf_counter() - started)
        exchange = self.record(response, elapsed=time.perf_counter() - started)
        response.extensions[EXCHANGE] = exchange
        for observer in self._observers:
            observer(exchange, response)
        return response

    def _silent(self, sent_at: float, where: str) -> bool:
        """Count a lost attempt; True when the target is gone, or the streak is due a check it fails."""
        assert self._liveness is not None
        if self._liveness.gone is not None:
            return True
        return self._liveness.lost(sent_at, where) and not self._answers_a_check()

    def _answers_a_check(self) -> bool:
        """Whether the target answers a plain list request within the short check timeout."""
        assert self._liveness is not None
        headers = {"Accept": "application/json", **self.auth_headers()}
        timeout = self._liveness.short_timeout(self._timeout)
        probe = self._http.build_request("GET", self.base_url + SNAPSHOTS, headers=headers, timeout=timeout)
        try:
            self._send(probe, retry_lost=False, check=True)
        except NoAnswer:
            return False
        return True

    def record(self, response: httpx.Response, *, elapsed: float | None = None) -> Exchange:
        """Turn a response (and its request) into redacted evidence."""
        request = response.request
        redact = self._redactor.text
        body = request.content.decode("utf-8", "replace") if request.content else None
        text = response.content[:_BODY_LIMIT].decode("utf-8", "replace")
        if len(response.content) > _BODY_LIMIT:
            text += f"... [{len(response.content)} bytes]"
        skip = {"host", "content-length", "accept-encoding", "connection", "user-agent"}
        return Exchange(
            method=request.method,
            url=redact(str(request.url)),
            request_headers={k: redact(v) for k, v in request.headers.items() if k.lower() not in skip},
            request_body=redact(body[:_BODY_LIMIT]) if body is not None else None,
            status=response.status_code,
            response_headers={k: redact(v) for k, v in response.headers.items()},
            response_body=redact(text),
            elapsed_ms=(elapsed if elapsed is not None else response.elapsed.total_seconds()) * 1000,
            label=self.label,
        )

    # The documented operations --------------------------------------------------------------------------
    def list_snapshots(self, server_id: Any = None, **kwargs: Any) -> httpx.Response:
        """GET /api/v1/snapshots/ (optionally filtered by server)."""
        params = {"server_id": server_id} if server_id is not None else None
        return self.request("GET", SNAPSHOTS, params=params, **kwargs)

    def create_snapshot(
        self, server_id: Any, name: Any, description: Any = _UNSET, **kwargs: Any
    ) -> httpx.Response:
        """POST /api/v1/snapshots/ with the documented body fields."""
        body: dict[str, Any] = {"server_id": server_id, "name": name}
        if description is not _UNSET:
            body["description"] = description
        return self.request("POST", SNAPSHOTS, json_body=body, **kwargs)

    def list_all(self, server_id: Any = None) -> tuple[httpx.Response, list[dict[str, Any]] | None]:
        """The first list answer and the items of every page, following ``next`` links.

        The docs show no pagination, but a provider may add DRF-style ``next`` links; they are only followed
        on the target's own origin, so the token never goes to another host. Items are None unless the whole
        list could be read (every page readable, on the origin, within ``MAX_PAGES``).
        """
        first = response = self.list_snapshots(server_id)
        items = list_items(response)
        base = httpx.URL(self.base_url)
        followed: set[str] = set()
        while items is not None:
            body = json_or_none(response)
            link = body.get("next") if isinstance(body, dict) else None
            if not isinstance(link, str) or not link or link in followed:
                return first, items
            followed.add(link)
            url = response.request.url.join(link)
            elsewhere = (url.scheme, url.host, url.port) != (base.scheme, base.host, base.port)
            if elsewhere or len(followed) >= MAX_PAGES:
                return first, None
            response = self.request("GET", str(url))
            more = list_items(response)
            items = items + more if more is not None else None
        return first, None

    def restore_snapshot(self, snapshot_id: Any, **kwargs: Any) -> httpx.Response:
        """POST /api/v1/snapshots/{id}/restore/."""
        return self.request("POST", f"{SNAPSHOTS}{snapshot_id}/restore/", **kwargs)

    def delete_snapshot(self, snapshot_id: Any, **kwargs: Any) -> httpx.Response:
        """DELETE /api/v1/snapshots/{id}/."""
        return self.request("DELETE", f"{SNAPSHOTS}{snapshot_id}/", **kwargs)

    def get_server(self, server_id: int) -> httpx.Response:
        """GET /api/v1/servers/{id}/ (the provider's servers API, used to watch restores)."""
        return self.request("GET", f"{SERVERS}{server_id}/")


def retry_after(response: httpx.Response) -> float | None:
    """Seconds a 429 asks to wait (Retry-After: seconds or a date; 1 s when absent); None past the cap."""
    value = response.headers.get("Retry-After", "").strip()
    seconds = 1.0
    if value.isdigit():
        seconds = float(value)
    elif value:
        try:
            seconds = (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds()
        except (TypeError, ValueError):
            seconds = 1.0
    seconds = max(0.0, seconds)
    return seconds if seconds <= MAX_RETRY_AFTER else None


def list_items(response: httpx.Response) -> list[dict[str, Any]] | None:
    """The items of a 200 list answer, or None when the answer is not a readable list."""
    body = json_or_none(response)
    results = body.get("results") if isinstance(body, dict) else None
    if response.status_code != 200 or not isinstance(results, list):
        return None
    return [item for item in results if isinstance(item, dict)]


def server_of(item: Any) -> Any:
    """The ``server.id`` of a snapshot object (None when it has no server object)."""
    server = item.get("server") if isinstance(item, dict) else None
    return server.get("id") if isinstance(server, dict) else None


def _is_json(content: bytes | str) -> bool:
    try:
        json.loads(content)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than Python decodes
        return False
    return True


def json_or_none(response: httpx.Response) -> Any:
    """The response's JSON body, or None when it has none or it is not JSON."""
    try:
        return response.json()
    except ValueError:
        return None
