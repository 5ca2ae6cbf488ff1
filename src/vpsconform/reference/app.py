"""Starlette application: routes of the Snapshots API, the servers read API and the data-plane probe."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from vpsconform.reference import serialize
from vpsconform.reference.auth import authenticate, session_only
from vpsconform.reference.chaos import Chaos, Network
from vpsconform.reference.errors import (
    ApiError,
    error_body,
    error_response,
    invalid,
    not_found,
    server_error,
)
from vpsconform.reference.options import TargetOptions
from vpsconform.reference.responses import JSONResponse
from vpsconform.reference.seed import Account
from vpsconform.reference.store import Store
from vpsconform.reference.validation import forgiving_int, parse_create, parse_int, parse_json

MAX_BODY_BYTES = 1024 * 1024
#: Real seconds between the limit check and the insert of a non-atomic create (the limit-not-atomic fault).
RACE_WINDOW_SECONDS = 0.1
_INT64 = range(-(2**63), 2**63)

Handler = Callable[[Request], Awaitable[Response]]


async def read_body(request: Request) -> bytes:
    """The request body, refused with 413 past MAX_BODY_BYTES without reading the rest."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise ApiError(413, "request_too_large", f"Request body exceeds {MAX_BODY_BYTES} bytes.")
        chunks.append(chunk)
    return b"".join(chunks)


def caller(request: Request) -> Account:
    """The authenticated account of a request that passed through an authenticated Resource.

    A refusal the Resource deferred (an injected auth-after-* fault) is raised here, once the handler has
    already looked up or validated what it should not have.
    """
    deferred = getattr(request.state, "auth_error", None)
    if deferred is not None:
        raise deferred
    return request.state.account


def path_id(request: Request, name: str, what: str, options: TargetOptions) -> int:
    """An integer path parameter; anything else names no object, so 404."""
    text = request.path_params[name]
    value = parse_int(text)
    if value is None and options.fault("notfound-lenient-path-id"):
        value = _lenient_int(text)
    if value is None and options.fault("lenient-ids"):
        value = forgiving_int(text)
    if value is None:
        raise not_found(what)
    if options.fault("robust-bigint-500") and value not in _INT64:
        raise server_error()  # the bigint column overflows in the lookup
    return value


def _lenient_int(text: str) -> int | None:
    """int(float(text)), as a lenient path converter does ("801.5" -> 801); None when even that fails."""
    try:
        return int(float(text))
    except (ValueError, OverflowError):
        return None


class Resource:
    """ASGI app of one path: authentication first (API paths), then method dispatch or 405 with Allow."""

    def __init__(
        self,
        store: Store,
        handlers: dict[str, Handler],
        *,
        public: bool = False,
        deferred_auth: Mapping[str, str] | None = None,
        session_only_fault: str | None = None,
    ) -> None:
        self.store = store
        self.public = public
        # method -> fault that makes its handler check auth late (the handler's caller() raises the refusal)
        self.deferred_auth = dict(deferred_auth or {})
        # fault that swaps this path's bearer authentication for session-only authentication
        self.session_only_fault = session_only_fault
        self.handlers = dict(handlers)
        if "GET" in self.handlers:
            self.handlers["HEAD"] = self.handlers["GET"]
        self.allow = [*self.handlers, "OPTIONS"]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer one request."""
        response = await self.respond(Request(scope, receive))
        await response(scope, receive, send)

    async def respond(self, request: Request) -> Response:
        """Run the checks in their documented order and turn ApiErrors into responses."""
        try:
            if self.session_only_fault and self.store.options.fault(self.session_only_fault):
                raise session_only(self.store)
            if not self.public:
                try:
                    request.state.account = authenticate(request.headers.get("authorization"), self.store)
                except ApiError as error:
                    fault = self.deferred_auth.get(request.method)
                    if fault is None or not self.store.options.fault(fault):
                        raise
                    request.state.auth_error = error
            allow = {"Allow": ", ".join(self.allow)}
            if request.method == "OPTIONS":
                return JSONResponse({"allowed_methods": self.allow}, 200, headers=allow)
            handler = self.handlers.get(request.method)
            if handler is None:
                raise ApiError(405, "method_not_allowed", f'Method "{request.method}" not allowed.', allow)
            return await handler(request)
        except ApiError as error:
            return error_response(error, self.store.options)
        except ClientDisconnect:
            return Response(status_code=400)


class Fallback:
    """ASGI app for unrouted paths: 301 to the slashed path if routed, else 404 (after auth under /api)."""

    def __init__(self, store: Store, routes: list[BaseRoute]) -> None:
        self.store = store
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer one request."""
        response = self.respond(Request(scope, receive))
        await response(scope, receive, send)

    def respond(self, request: Request) -> Response:
        """Redirect like Django's APPEND_SLASH (before auth), otherwise a JSON 404."""
        path: str = request.scope["path"]
        if not path.endswith("/") and self._routed(path + "/"):
            location = quote(path, safe="/:@!$&'()*+,;=-._~") + "/"
            query = request.scope.get("query_string", b"").decode("latin-1")
            if query:
                location += "?" + query
            return Response(status_code=301, headers={"Location": location})
        try:
            if path == "/api" or path.startswith("/api/"):
                authenticate(request.headers.get("authorization"), self.store)
            raise not_found()
        except ApiError as error:
            return error_response(error, self.store.options)

    def _routed(self, path: str) -> bool:
        """Whether a real route serves `path`."""
        scope = {"type": "http", "path": path, "root_path": "", "method": "GET"}
        return any(route.matches(scope)[0] is not Match.NONE for route in self.routes)


class Api:
    """Handlers of the API and the probe, bound to one store."""

    def __init__(self, store: Store, chaos: Chaos) -> None:
        self.store = store
        self.options = store.options
        self.chaos = chaos

    def snapshot_json(
        self, body: Any, status: int = 200, headers: Mapping[str, str] | None = None
    ) -> JSONResponse:
        """A successful JSON answer of the snapshots API."""
        media_type = "text/plain" if self.options.fault("schema-text-plain") else None
        return JSONResponse(body, status, headers=headers, media_type=media_type)

    async def list_snapshots(self, request: Request) -> Response:
        """GET /api/v1/snapshots/[?server_id=N]."""
        raw = request.query_params.get("server_id")
        server_id = None
        if raw is not None:
            if self.options.fault("robust-filter-500"):
                try:
                    server_id = int(raw)
                except ValueError:
                    raise server_error() from None  # int() without a guard
            else:
                server_id = parse_int(raw)
                if server_id is None:
                    raise invalid("server_id: Enter a whole number.")
        views = self.store.list_snapshots(caller(request), server_id)
        count = self.store.count_all() if self.options.fault("list-count-total") else None
        return self.snapshot_json(serialize.snapshot_list(views, self.options, count))

    async def create_snapshot(self, request: Request) -> Response:
        """POST /api/v1/snapshots/."""
        wanted = parse_create(await read_body(request), self.options)
        account = caller(request)
        if self.options.fault("limit-not-atomic"):
            # Count, then await something (a quota service, the hypervisor), then insert: not one transaction.
            self.store.admit_create(account, wanted.server_id)
            await asyncio.sleep(RACE_WINDOW_SECONDS)
            view = self.store.create_snapshot(
                account, wanted.server_id, wanted.name, wanted.description, check_limit=False
            )
        else:
            view = self.store.create_snapshot(account, wanted.server_id, wanted.name, wanted.description)
        headers = {} if self.options.variant("no-location") else {"Location": f"/api/v1/snapshots/{view.id}/"}
        status = 200 if self.options.fault("create-200") else 201
        return self.snapshot_json(serialize.created(view, self.options), status, headers)

    async def restore_snapshot(self, request: Request) -> Response:
        """POST /api/v1/snapshots/{id}/restore/."""
        snapshot_id = path_id(request, "snapshot_id", "Snapshot does not exist.", self.options)
        if self.options.fault("auth-after-lookup"):
            self.store.require_snapshot(snapshot_id)
        view = self.store.restore_snapshot(caller(request), snapshot_id)
        status = 202 if self.options.fault("restore-202") else 200
        return self.snapshot_json(serialize.restore(view, self.options), status)

    async def delete_snapshot(self, request: Request) -> Response:
        """DELETE /api/v1/snapshots/{id}/."""
        snapshot_id = path_id(request, "snapshot_id", "Snapshot does not exist.", self.options)
        if self.options.fault("auth-after-lookup"):
            self.store.require_snapshot(snapshot_id)
        self.store.delete_snapshot(caller(request), snapshot_id)
        if self.options.fault("delete-200"):
            return JSONResponse({"status": "deleted", "message": "Snapshot deleted."}, 200)
        return Response(status_code=204)

    async def list_servers(self, request: Request) -> Response:
        """GET /api/v1/servers/."""
        return JSONResponse(serialize.server_list(self.store.list_servers(caller(request)), self.options))

    async def get_server(self, request: Request) -> Response:
        """GET /api/v1/servers/{id}/ (throttled after authentication, like DRF, in servers-api-429)."""
        account = caller(request)
        self.chaos.throttle(request.path_params["server_id"])
        server_id = path_id(request, "server_id", "Not found.", self.options)
        return JSONResponse(serialize.server(self.store.get_server(account, server_id), self.options))

    async def stats(self, request: Request) -> Response:
        """GET /_probe/stats (loopback callers only): what the run did to data it was never given."""
        host = request.client.host if request.client else ""
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise not_found()
        return JSONResponse(target_stats(self.store, self.chaos))

    async def read_data(self, request: Request) -> Response:
        """GET /_probe/servers/{id}/data: the server's data marker."""
        server_id = path_id(request, "server_id", "Server does not exist.", self.options)
        return JSONResponse({"marker": self.store.read_marker(server_id)})

    async def write_data(self, request: Request) -> Response:
        """PUT /_probe/servers/{id}/data with {"marker": "..."}."""
        server_id = path_id(request, "server_id", "Server does not exist.", self.options)
        body = parse_json(await read_body(request))
        if not isinstance(body, dict) or not isinstance(body.get("marker"), str):
            raise invalid('Expected a JSON object with a string "marker".')
        self.store.write_marker(server_id, body["marker"])
        return Response(status_code=204)


def target_stats(store: Store, chaos: Chaos) -> dict[str, Any]:
    """The target's counters: foreign restores and deletes, API-created snapshots held, chaos events."""
    return store.stats() | chaos.stats()


def create_app(store: Store, chaos: Chaos) -> ASGIApp:
    """The target's ASGI app over `store`; every response, even an unexpected failure, is JSON."""
    api = Api(store, chaos)
    routes: list[BaseRoute] = [
        Route(
            "/api/v1/snapshots/",
            Resource(
                store,
                {"GET": api.list_snapshots, "POST": api.create_snapshot},
                deferred_auth={"POST": "auth-after-validation"},
            ),
        ),
        Route(
            "/api/v1/snapshots/{snapshot_id}/restore/",
            Resource(
                store,
                {"POST": api.restore_snapshot},
                deferred_auth={"POST": "auth-after-lookup"},
                session_only_fault="auth-restore-session-only",
            ),
        ),
        Route(
            "/api/v1/snapshots/{snapshot_id}/",
            Resource(store, {"DELETE": api.delete_snapshot}, deferred_auth={"DELETE": "auth-after-lookup"}),
        ),
        Route("/api/v1/servers/", Resource(store, {"GET": api.list_servers})),
        Route("/api/v1/servers/{server_id}/", Resource(store, {"GET": api.get_server})),
        Route(
            "/_probe/servers/{server_id}/data",
            Resource(store, {"GET": api.read_data, "PUT": api.write_data}, public=True),
        ),
        Route("/_probe/stats", Resource(store, {"GET": api.stats}, public=True)),
    ]
    routes.append(Route("/{path:path}", Fallback(store, list(routes))))

    async def server_error(request: Request, exc: Exception) -> Response:
        """Last resort: a JSON 500 (reaching it is a bug of the target)."""
        return JSONResponse(error_body("server_error", "Internal server error.", store.options), 500)

    app = Starlette(routes=routes, exception_handlers={Exception: server_error})
    return Network(app, chaos)
