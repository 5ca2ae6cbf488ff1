"""Hostile targets on loopback for the field tests: a server whose every answer is chosen by a function.

``answer(n)`` gets the request's number (0 for the first) and returns (status, content type, body), or None
to leave that request unanswered until the target stops (a target that went silent).
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Answer = tuple[int, str, bytes] | None

EMPTY_LIST = (200, "application/json", json.dumps({"count": 0, "results": []}).encode())
HTML = (200, "text/html; charset=utf-8", b"<!doctype html><html><body><h1>Welcome</h1></body></html>")


def status(code: int) -> Callable[[int], Answer]:
    """Every request answered with ``code`` and a small JSON error body."""
    body = json.dumps({"detail": f"status {code}"}).encode()
    return lambda n: (code, "application/json", body)


def once_then_silent(n: int) -> Answer:
    """The first request gets an empty list; every later one is never answered."""
    return EMPTY_LIST if n == 0 else None


@contextmanager
def hostile_target(answer: Callable[[int], Answer]) -> Iterator[str]:
    """Serve ``answer`` on a free loopback port; yields the base URL; unanswered requests end with it."""
    stopping = threading.Event()
    counter = itertools.count()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with lock:
                number = next(counter)
            chosen = answer(number)
            if chosen is None:
                stopping.wait()
                self.close_connection = True
                return
            code, kind, body = chosen
            self.send_response(code)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = _serve

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the test reads the run's output, not the target's."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="hostile-target", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        stopping.set()
        server.shutdown()
        server.server_close()
