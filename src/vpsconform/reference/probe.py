"""Data-plane probe CLI (stdlib only, fast start): write or read a server's data marker on a reference target.

Usage: python -m vpsconform.reference.probe --url URL write SERVER_ID MARKER
       python -m vpsconform.reference.probe --url URL read SERVER_ID
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request

TIMEOUT_SECONDS = 10.0


def _request(url: str, method: str, body: bytes | None = None) -> bytes:
    """Send one request and return the body of a 2xx answer; raise RuntimeError otherwise."""
    headers = {"Content-Type": "application/json"} if body is not None else {}
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            return response.read()
    except urllib.error.HTTPError as exc:
        detail = exc.read(500).decode("utf-8", "replace").strip()
        raise RuntimeError(f"{method} {url} answered {exc.code}: {detail}") from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise RuntimeError(f"{method} {url} failed: {reason}") from exc


def write(base_url: str, server_id: int, marker: str) -> None:
    """Put `marker` on the server's data."""
    _request(_data_url(base_url, server_id), "PUT", json.dumps({"marker": marker}).encode())


def read(base_url: str, server_id: int) -> str:
    """The marker currently on the server's data."""
    raw = _request(_data_url(base_url, server_id), "GET")
    try:
        marker = json.loads(raw)["marker"]
    except (ValueError, KeyError, TypeError) as exc:
        raise RuntimeError(f"unexpected probe answer: {raw[:200]!r}") from exc
    if not isinstance(marker, str):
        raise RuntimeError(f"unexpected probe answer: {raw[:200]!r}")
    return marker


def _data_url(base_url: str, server_id: int) -> str:
    """URL of a server's data on the probe plane."""
    return f"{base_url.rstrip('/')}/_probe/servers/{server_id}/data"


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; exit 0 on success, 1 with a one-line error on failure (2 for usage errors)."""
    parser = argparse.ArgumentParser(
        prog="python -m vpsconform.reference.probe", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--url", required=True, help="base URL of the target, e.g. http://127.0.0.1:8000")
    commands = parser.add_subparsers(dest="command", required=True)
    writer = commands.add_parser("write", help="write a data marker on a server")
    writer.add_argument("server_id", type=int)
    writer.add_argument("marker")
    reader = commands.add_parser("read", help="print a server's data marker")
    reader.add_argument("server_id", type=int)
    args = parser.parse_args(argv)
    try:
        if args.command == "write":
            write(args.url, args.server_id, args.marker)
        else:
            print(read(args.url, args.server_id))
    except RuntimeError as exc:
        print(f"probe: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
