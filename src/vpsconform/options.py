"""The run options, written once: click and pytest options, environment variables, config-file keys, README.

Each :class:`Option` says where it applies (``cli``, ``pytest``, ``env``, ``file``), how a value is checked
and whether it belongs in a reproduction command, so `vpsconform run`, `pytest suites/`, the config file,
the README table and the reproduce lines of reports cannot drift apart.
"""

from __future__ import annotations

import dataclasses
import shlex
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Literal, TypeVar
from urllib.parse import urlsplit

import click

from vpsconform.errors import ConfigError

if TYPE_CHECKING:
    import pytest

    from vpsconform.config import RunConfig

PROFILES = ("smoke", "standard", "deep")
#: The request rate cap (per second) of a run against a remote target; the embedded target runs uncapped.
REMOTE_MAX_RPS = 20.0
PROGRESS = ("auto", "plain", "rich", "none")
EVERYWHERE = frozenset({"cli", "pytest", "env", "file"})
CLI_ONLY = frozenset({"cli"})
F = TypeVar("F", bound=Callable[..., Any])


Parse = Callable[[Any, str], Any]


def _url(value: Any, label: str) -> str:
    """An http(s) base URL with a host and a valid port; no query, fragment or credentials."""
    text = str(value).strip()
    try:
        parts = urlsplit(text)
        port = parts.port  # parsing the port raises on "abc" and on numbers out of range
    except ValueError as exc:
        raise ConfigError(f"{label} is not a valid URL ({exc}), got {text!r}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{label} must be an http(s) URL with a host, got {text!r}")
    if any(char.isspace() for char in parts.netloc) or port == 0:
        raise ConfigError(f"{label} has an invalid host or port, got {text!r}")
    if parts.username is not None or parts.password is not None:
        raise ConfigError(f"{label} must not carry credentials (user:password@); give the token with --token")
    if parts.query or parts.fragment:
        raise ConfigError(f"{label} must not carry a query or fragment, got {text!r}")
    return text.rstrip("/")


def _ids(value: Any, label: str) -> tuple[int, ...]:
    entries = value if isinstance(value, list | tuple) else [value]
    items = [part for entry in entries for part in str(entry).replace(" ", ",").split(",") if part]
    ids: list[int] = []
    for item in items:
        if not item.isdigit() or int(item) <= 0:
            raise ConfigError(f"{label} takes positive integers, got {item!r}")
        if int(item) not in ids:
            ids.append(int(item))
    return tuple(ids)


def _number(minimum: float, *, strictly: bool, maximum: float | None = None) -> Parse:
    def parse(value: Any, label: str) -> float:
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{label} takes a number, got {value!r}") from None
        if number != number or number in (float("inf"), float("-inf")):
            raise ConfigError(f"{label} takes a finite number, got {value!r}")
        too_small = number <= minimum if strictly else number < minimum
        if too_small or (maximum is not None and number > maximum):
            bound = f"> {minimum:g}" if strictly else f">= {minimum:g}"
            upper = f" and <= {maximum:g}" if maximum is not None else ""
            raise ConfigError(f"{label} must be {bound}{upper}, got {value!r}")
        return number

    return parse


def _integer(minimum: int) -> Parse:
    def parse(value: Any, label: str) -> int:
        try:
            number = int(str(value))
        except ValueError:
            raise ConfigError(f"{label} takes an integer, got {value!r}") from None
        if number < minimum:
            raise ConfigError(f"{label} takes an integer >= {minimum}, got {value!r}")
        return number

    return parse


def _choice(*choices: str) -> Parse:
    def parse(value: Any, label: str) -> str:
        if value not in choices:
            raise ConfigError(f"{label} must be one of {', '.join(choices)}, got {value!r}")
        return str(value)

    return parse


def _command(*placeholders: str) -> Parse:
    def parse(value: Any, label: str) -> str:
        try:
            words = shlex.split(str(value))
        except ValueError as exc:
            raise ConfigError(f"{label} is not a valid command line: {exc}") from None
        if not words:
            raise ConfigError(f"{label} is empty")
        for placeholder in placeholders:
            if not any(placeholder in word for word in words):
                raise ConfigError(f"{label} must contain {placeholder}")
        return str(value)

    return parse


def _text(value: Any, label: str) -> str:
    return str(value)


def _signing_key(value: Any, label: str) -> str:
    """A PEM private key that can sign, checked before the run so a bad one costs no run."""
    from vpsconform.errors import KeyProblem
    from vpsconform.reporting.signing import load_signer

    try:
        load_signer(value)
    except KeyProblem as exc:
        raise ConfigError(f"{label}: {exc}") from None
    return str(value)


@dataclasses.dataclass(frozen=True)
class Option:
    """One run option: its flag, where it applies, how its values are checked, how it is documented."""

    name: str  # the flags key and RunConfig field
    flag: str
    help: str
    metavar: str = ""
    kind: type = str  # the TOML type of a value in the config file
    parse: Parse = _text
    default: Any = None
    repeatable: bool = False
    secret: bool = False  # the file names the environment variable holding it (key ``<name>_env``)
    where: frozenset[str] = EVERYWHERE
    reproduce: bool = False  # part of every reproduction command
    from_target: bool = False  # supplied by the embedded target, so left out of its reproduction commands

    @property
    def env(self) -> str | None:
        """The environment variable read when the flag is not given."""
        return f"VPSCONFORM_{self.name.upper()}" if "env" in self.where else None

    @property
    def key(self) -> str | None:
        """The config-file key: the flag with underscores (``<key>_env`` for a secret)."""
        if "file" not in self.where:
            return None
        return self.flag[2:].replace("-", "_") + ("_env" if self.secret else "")

    def describe(self) -> str:
        """The help text with its default."""
        if self.default is None:
            return self.help
        shown = f"{self.default:g}" if isinstance(self.default, float) else self.default
        return f"{self.help} (default {shown})"


OPTIONS: tuple[Option, ...] = (
    Option(
        "target", "--target", "base URL of the target; omitted: start the embedded reference target",
        "URL", parse=_url, reproduce=True, from_target=True,
    ),
    Option(
        "token", "--token", "bearer token of the account under test", "TOKEN",
        secret=True, reproduce=True, from_target=True,
    ),
    Option(
        "server_ids", "--server-id",
        "server the suite may snapshot and restore; scenarios are spread over them",
        "ID", kind=int, parse=_ids, repeatable=True, reproduce=True, from_target=True,
    ),
    Option(
        "foreign_token", "--foreign-token",
        "token of a second account, for the TENANT checks (out of scope without it)", "TOKEN",
        secret=True, reproduce=True, from_target=True,
    ),
    Option(
        "foreign_server_ids", "--foreign-server-id", "server of that second account",
        "ID", kind=int, parse=_ids, repeatable=True, reproduce=True, from_target=True,
    ),
    Option(
        "time_scale", "--time-scale",
        "the target's clock relative to production; documented durations and polling are multiplied by it",
        "F", kind=float, parse=_number(0, strictly=True, maximum=1000), default=1.0, reproduce=True,
        from_target=True,
    ),
    Option(
        "timing_tolerance", "--timing-tolerance", "slack on documented maxima",
        "F", kind=float, parse=_number(0, strictly=False, maximum=10), default=0.1, reproduce=True,
    ),
    Option(
        "probe_write", "--probe-write",
        "command writing {marker} on {server_id} (split like a shell, run without one); "
        "without the probes the DATA requirements are out of scope",
        "CMD", parse=_command("{server_id}", "{marker}"), reproduce=True, from_target=True,
    ),
    Option(
        "probe_read", "--probe-read", "command printing the marker of {server_id}",
        "CMD", parse=_command("{server_id}"), reproduce=True, from_target=True,
    ),
    Option(
        "profile", "--profile",
        "smoke: the per-deploy gate, no lifecycle waits; standard: nightly; deep: more generated traffic",
        "|".join(PROFILES), parse=_choice(*PROFILES), default="standard", reproduce=True,
    ),
    Option(
        "seed", "--seed", "seed of all generated data (default random, printed in every report)",
        "N", kind=int, parse=_integer(0), reproduce=True,
    ),
    Option(
        "report_dir", "--report-dir",
        "where the reports and the ledger go (default reports/YYYYMMDDTHHMMSSZ/, the UTC time)", "DIR",
    ),
    Option(
        "max_rps", "--max-rps",
        "request rate cap in requests per second; 0: no cap (meant for a mock on loopback) "
        f"(default {REMOTE_MAX_RPS:g}/s for remote targets, none for the embedded one)",
        "N", kind=float, parse=_number(0, strictly=False), reproduce=True,
    ),
    Option(
        "request_timeout", "--request-timeout", "seconds before a request is abandoned",
        "S", kind=float, parse=_number(0, strictly=True, maximum=600), default=30.0, reproduce=True,
    ),
    Option(
        "jobs", "--jobs",
        "scenarios run in parallel, each on its own server (default one per configured server with --target,"
        " 1 for the embedded target; --jobs 1 runs them one by one)",
        "N", kind=int, parse=_integer(1), where=frozenset({"cli", "env", "file"}),
    ),
    Option(
        "progress", "--progress",
        "console output while running: rich (a live status line), plain (timestamped lines, for CI logs), "
        "none (only the summary); auto: rich on a terminal, else plain",
        "|".join(PROGRESS), parse=_choice(*PROGRESS), default="auto", where=frozenset({"cli", "env", "file"}),
    ),
    Option(
        "config", "--config",
        "config file (default ./vpsconform.toml, else [tool.vpsconform] in ./pyproject.toml)",
        "PATH", where=frozenset({"cli", "pytest", "env"}),
    ),
    Option(
        "select", "--select",
        "only the tests matching this pytest -k expression (reproduction commands use it); the requirement"
        " IDs a test checks match too, so AUTH- picks an area",
        "EXPR", where=CLI_ONLY,
    ),
    Option(
        "faults", "--fault", "embedded target only: inject this defect (see `vpsconform serve --list`)",
        "NAME", repeatable=True, where=CLI_ONLY,
    ),
    Option(
        "variants", "--variant", "embedded target only: a faithful variant (see `vpsconform serve --list`)",
        "NAME", repeatable=True, where=CLI_ONLY,
    ),
    Option(
        "sign_key", "--sign-key",
        "PEM private key (ed25519 or ECDSA) signing attestation.json as a DSSE envelope (default unsigned)",
        "PATH", parse=_signing_key,
    ),
    Option(
        "alluredir", "--alluredir", "write allure-pytest results to DIR (passed on to pytest)", "DIR",
        where=CLI_ONLY,
    ),
)  # fmt: skip

BY_NAME = {option.name: option for option in OPTIONS}


def _in(scope: str) -> list[Option]:
    return [option for option in OPTIONS if scope in option.where]


def run_options(command: F) -> F:
    """Decorate `vpsconform run` with the click options of the table (values are checked by build_config)."""
    for option in reversed(_in("cli")):
        suffix = f" [{option.env}]" if option.env else ""
        command = click.option(
            option.flag,
            option.name,
            multiple=option.repeatable,
            metavar=option.metavar or None,
            help=option.describe() + suffix,
        )(command)
    return command


def add_pytest_options(parser: pytest.Parser) -> None:
    """Register the table's pytest options (the plugin's pytest_addoption calls this)."""
    group = parser.getgroup("vpsconform", "VPS.org Snapshots API conformance")
    for option in _in("pytest"):
        group.addoption(
            option.flag,
            dest=option.name,
            action="append" if option.repeatable else "store",
            metavar=option.metavar or None,
            help=option.describe() + (" (repeat)" if option.repeatable else "") + f" [{option.env}]",
        )


def flags_from_pytest(config: pytest.Config) -> dict[str, Any]:
    """The pytest options' values keyed like the CLI's, ready for build_config."""
    return {option.name: config.getoption(option.name) for option in _in("pytest")}


def readme_table() -> str:
    """The options table of README.md (a test keeps the README equal to it)."""
    rows = ["| option | env var | config file key | meaning |", "|---|---|---|---|"]
    for option in OPTIONS:
        flag = f"`{option.flag} {option.metavar}`" if option.metavar else f"`{option.flag}`"
        env = f"`{option.env}`" if option.env else ""
        key = f"`{option.key}`" if option.key else ""
        if option.repeatable:
            flag += " (repeat)"
            env += " (comma-separated)" if env else ""
            key += " (a list)" if key else ""
        if option.secret:
            key += " (names the variable holding it)"
        meaning = option.describe() + ("; `vpsconform run` only" if "pytest" not in option.where else "")
        rows.append("| " + " | ".join(cell.replace("|", r"\|") for cell in (flag, env, key, meaning)) + " |")
    return "\n".join(rows) + "\n"


def _word(value: Any) -> str:
    return shlex.quote(f"{value:g}" if isinstance(value, float) else str(value))


def reproduce_command(
    config: RunConfig,
    *,
    runner: Literal["cli", "pytest"],
    selection: str = "",
    faults: Iterable[str] = (),
    variants: Iterable[str] = (),
) -> str:
    """A command that runs the same checks again the same way; tokens are read from their variables."""
    extras = [*(f"--fault {_word(name)}" for name in faults), *(f"--variant {_word(v)}" for v in variants)]
    if runner == "cli":
        words = ["vpsconform", "run", *extras]
    elif extras:
        raise ValueError("--fault and --variant need `vpsconform run`; pytest has no such options")
    else:
        words = ["pytest", "suites/"]
    for option in OPTIONS:
        value = getattr(config, option.name) if option.reproduce else None
        if value is None or value == () or (config.embedded and option.from_target):
            continue
        if option.secret:
            words.append(f'{option.flag} "${getattr(config, option.name + "_env")}"')
        else:
            words += [f"{option.flag} {_word(item)}" for item in (value if option.repeatable else [value])]
    if selection:
        words.append(("--select " if runner == "cli" else "-k ") + shlex.quote(selection))
    return " ".join(words)
