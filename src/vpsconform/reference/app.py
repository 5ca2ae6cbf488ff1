"""Starlette application: routes of the Snapshots API, the servers read API and the data-plane probe."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Route
from starlette.types import Receive, Scope, Send

from vpsconform.reference import serialize
from vpsconform.reference.auth import authenticate
from vpsconform.reference.errors import ApiError, error_body, error_response, invalid, not_found
from vpsconform.reference.responses import JSONResponse
from vpsconform.reference.seed import Account
from vpsconform.reference.store import Store
from vpsconform.reference.validation import parse_create, parse_int, parse_json

MAX_BODY_BYTES = 1024 * 1024

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
    """The authenticated account of a request that passed through an authenticated Resource."""
    return request.state.account


def path_id(request: Request, name: str, what: str) -> int:
    """An integer path parameter; anything else names no object, so 404."""
    value = parse_int(request.path_params[name])
    if value is None:
        raise not_found(what)
    return value


class Resource:
    """ASGI app of one path: authentication first (API paths), then method dispatch or 405 with Allow."""

    def __init__(self, store: Store, handlers: dict[str, Handler], *, public: bool = False) -> None:
        self.store = store
        self.public = public
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
            if not self.public:
                request.state.account = authenticate(request.headers.get("authorization"), self.store)
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

    def __init__(self, store: Store) -> None:
        self.store = store
        self.options = store.options

    async def list_snapshots(self, request: Request) -> Response:
        """GET /api/v1/snapshots/[?server_id=N]."""
        raw = request.query_params.get("server_id")
        server_id = None
        if raw is not None:
            server_id = parse_int(raw)
            if server_id is None:
                raise invalid("server_id: Enter a whole number.")
        views = self.store.list_snapshots(caller(request), server_id)
        return JSONResponse(serialize.snapshot_list(views, self.options))

    async def create_snapshot(self, request: Request) -> Response:
        """POST /api/v1/snapshots/."""
        wanted = parse_create(await read_body(request), self.options)
        view = self.store.create_snapshot(caller(request), wanted.server_id, wanted.name, wanted.description)
        headers = {} if self.options.variant("no-location") else {"Location": f"/api/v1/snapshots/{view.id}/"}
        return JSONResponse(serialize.created(view, self.options), 201, headers=headers)

    async def restore_snapshot(self, request: Request) -> Response:
        """POST /api/v1/snapshots/{id}/restore/."""
        snapshot_id = path_id(request, "snapshot_id", "Snapshot does not exist.")
        view = self.store.restore_snapshot(caller(request), snapshot_id)
        return JSONResponse(serialize.restore(view, self.options))

    async def delete_snapshot(self, request: Request) -> Response:
        """DELETE /api/v1/snapshots/{id}/."""
        self.store.delete_snapshot(
            caller(request), path_id(request, "snapshot_id", "Snapshot does not exist.")
        )
        return Response(status_code=204)

    async def list_servers(self, request: Request) -> Response:
        """GET /api/v1/servers/."""
        return JSONResponse(serialize.server_list(self.store.list_servers(caller(request))))

    async def get_server(self, request: Request) -> Response:
        """GET /api/v1/servers/{id}/."""
        server_id = path_id(request, "server_id", "Not found.")
        return JSONResponse(serialize.server(self.store.get_server(caller(request), server_id)))

    async def read_data(self, request: Request) -> Response:
        """GET /_probe/servers/{id}/data: the server's data marker."""
        server_id = path_id(request, "server_id", "Server does not exist.")
        return JSONResponse({"marker": self.store.read_marker(server_id)})

    async def write_data(self, request: Request) -> Response:
        """PUT /_probe/servers/{id}/data with {"marker": "..."}."""
        server_id = path_id(request, "server_id", "Server does not exist.")
        body = parse_json(await read_body(request))
        if not isinstance(body, dict) or not isinstance(body.get("marker"), str):
            raise invalid('Expected a JSON object with a string "marker".')
        self.store.write_marker(server_id, body["marker"])
        return Response(status_code=204)


def create_app(store: Store) -> Starlette:
    """The target's ASGI app over `store`; every response, even an unexpected failure, is JSON."""
    api = Api(store)
    routes: list[BaseRoute] = [
        Route(
            "/api/v1/snapshots/",
            Resource(store, {"GET": api.list_snapshots, "POST": api.create_snapshot}),
        ),
        Route("/api/v1/snapshots/{snapshot_id}/restore/", Resource(store, {"POST": api.restore_snapshot})),
        Route("/api/v1/snapshots/{snapshot_id}/", Resource(store, {"DELETE": api.delete_snapshot})),
        Route("/api/v1/servers/", Resource(store, {"GET": api.list_servers})),
        Route("/api/v1/servers/{server_id}/", Resource(store, {"GET": api.get_server})),
        Route(
            "/_probe/servers/{server_id}/data",
            Resource(store, {"GET": api.read_data, "PUT": api.write_data}, public=True),
        ),
    ]
    routes.append(Route("/{path:path}", Fallback(store, list(routes))))

    async def server_error(request: Request, exc: Exception) -> Response:
        """Last resort: a JSON 500 (reaching it is a bug of the target)."""
        return JSONResponse(error_body("server_error", "Internal server error.", store.options), 500)

    return Starlette(routes=routes, exception_handlers={Exception: server_error})
