"""Data probes: user-supplied commands that write and read a marker on a server.

The suite cannot see inside a server through the API, so the DATA requirements ("restore overwrites all
data") need a way in. A probe is a command template, split like a POSIX shell splits words and run without a
shell; ``{server_id}`` and ``{marker}`` are replaced inside the arguments.
"""

from __future__ import annotations

import shlex
import subprocess

from vpsconform.errors import ProbeError


class Probes:
    """Runs the configured write and read commands."""

    def __init__(self, write_template: str, read_template: str, *, timeout: float = 60.0) -> None:
        self._write = shlex.split(write_template)
        self._read = shlex.split(read_template)
        self._timeout = timeout

    def _run(self, words: list[str], values: dict[str, str], what: str) -> str:
        argv = [
            word.replace("{server_id}", values["server_id"]).replace("{marker}", values.get("marker", ""))
            for word in words
        ]
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=self._timeout, check=False)
        except FileNotFoundError:
            raise ProbeError(f"{what} probe: command not found: {argv[0]}") from None
        except subprocess.TimeoutExpired:
            raise ProbeError(f"{what} probe: no result within {self._timeout:g} s") from None
        except OSError as exc:
            raise ProbeError(f"{what} probe: cannot run {argv[0]}: {exc}") from None
        if done.returncode != 0:
            detail = (done.stderr or done.stdout).strip().splitlines()
            tail = detail[-1] if detail else "no output"
            raise ProbeError(f"{what} probe exited {done.returncode}: {tail}")
        return done.stdout

    def write(self, server_id: int, marker: str) -> None:
        """Put ``marker`` on the server (the command's exit 0 means done)."""
        self._run(self._write, {"server_id": str(server_id), "marker": marker}, "write")

    def read(self, server_id: int) -> str:
        """The server's current marker, as the read command prints it."""
        out = self._run(self._read, {"server_id": str(server_id)}, "read").strip()
        if not out:
            raise ProbeError("read probe printed nothing")
        return out.splitlines()[-1].strip()
