"""Run configuration: one validated object built from flags, environment variables and a config file.

The CLI and the pytest plugin both build a :class:`RunConfig` through :func:`build_config`, so the two entry
points accept the same options (the table in :mod:`vpsconform.options`), read the same environment variables
and config file, and reject bad values with the same one-line messages. Precedence: flag > environment >
file > default.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
import tomllib
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from vpsconform.errors import ConfigError
from vpsconform.options import BY_NAME, OPTIONS, PROFILES, REMOTE_MAX_RPS

__all__ = [
    "PROFILES",
    "ConfigError",
    "RunConfig",
    "build_config",
    "check_options",
    "default_report_dir",
    "prepare_report_dir",
]

CONFIG_FILE = "vpsconform.toml"
#: The embedded reference target's clock: a documented minute lasts 0.12 s (a 15-minute restore: 1.8 s).
EMBEDDED_TIME_SCALE = 0.002
#: Files that mark a folder as holding a run already: its report and its cleanup ledger.
RUN_FILES = ("report.json", "ledger.jsonl")
_FILE_KEYS = {option.key: option for option in OPTIONS if option.key}
_TYPE_NAMES = {str: "a string", int: "an integer", float: "a number"}


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """Everything a conformance run needs to know about its target and how to treat it."""

    target: str
    token: str = dataclasses.field(repr=False)
    server_ids: tuple[int, ...]
    foreign_token: str | None = dataclasses.field(default=None, repr=False)
    foreign_server_ids: tuple[int, ...] = ()
    time_scale: float = 1.0
    timing_tolerance: float = 0.1
    probe_write: str | None = None
    probe_read: str | None = None
    profile: str = "standard"
    seed: int = 0
    report_dir: Path | None = None
    max_rps: float = REMOTE_MAX_RPS
    request_timeout: float = 30.0
    jobs: int = 1
    progress: str = "auto"
    embedded: bool = False
    token_env: str = "VPSCONFORM_TOKEN"
    foreign_token_env: str = "VPSCONFORM_FOREIGN_TOKEN"
    config_file: Path | None = None
    sign_key: str | None = None
    #: What the run does differently from what was asked, one plain line each, for the console.
    notes: tuple[str, ...] = ()

    @property
    def secrets(self) -> dict[str, str]:
        """Secret values mapped to the environment variable a reproduction command should use instead."""
        found = {self.token: self.token_env}
        if self.foreign_token:
            found[self.foreign_token] = self.foreign_token_env
        return found

    @property
    def has_probes(self) -> bool:
        """True when the target's data can be written and read (the DATA requirements)."""
        return bool(self.probe_write and self.probe_read)

    @property
    def has_foreign_account(self) -> bool:
        """True when a second account is configured (the TENANT requirements)."""
        return bool(self.foreign_token)

    def public_dict(self) -> dict[str, Any]:
        """The configuration without secrets, for reports."""
        shown = {
            "target": self.target,
            "embedded": self.embedded,
            "server_ids": list(self.server_ids),
            "foreign_account": self.has_foreign_account,
            "foreign_server_ids": list(self.foreign_server_ids),
            "time_scale": self.time_scale,
            "timing_tolerance": self.timing_tolerance,
            "probes": self.has_probes,
            "profile": self.profile,
            "seed": self.seed,
            "max_rps": self.max_rps,
            "request_timeout": self.request_timeout,
            "jobs": self.jobs,
        }
        if self.config_file is not None:
            shown["config_file"] = str(self.config_file)
        return shown


def default_report_dir(base: Path = Path("reports")) -> Path:
    """A fresh report directory named by the UTC time, e.g. reports/20261127T053000Z."""
    return base / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


def _file_section(path: Path) -> dict[str, Any] | None:
    """The settings a file holds: all of it, or [tool.vpsconform] of a pyproject.toml (None: no section)."""
    try:
        with path.open("rb") as stream:
            data = tomllib.load(stream)
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    return data.get("tool", {}).get("vpsconform") if path.name == "pyproject.toml" else data


def find_config_file(
    flags: Mapping[str, Any], env: Mapping[str, str], file: str | Path | None = None
) -> tuple[Path, dict[str, Any]] | None:
    """The config file in use and its settings (--config, ./vpsconform.toml, ./pyproject.toml), or None."""
    named = file or flags.get("config") or env.get(BY_NAME["config"].env or "")
    if named:
        path = Path(named)
        if not path.is_file():
            raise ConfigError(f"--config {named}: no such file")
        return path, _file_section(path) or {}
    for path in (Path(CONFIG_FILE), Path("pyproject.toml")):
        section = _file_section(path) if path.is_file() else None
        if section is not None:
            return path, section
    return None


def _check_file(path: Path, section: Mapping[str, Any]) -> dict[str, Any]:
    """The file's checked settings keyed by option name; secrets, unknown keys and bad values are refused."""
    values: dict[str, Any] = {}
    for key, value in section.items():
        option = _FILE_KEYS.get(key)
        if option is None:
            secret = next((o for o in OPTIONS if o.secret and o.key == f"{key}_env"), None)
            if secret is not None:
                raise ConfigError(
                    f"{path}: {key} does not belong in a file; set {secret.key} to the name of the "
                    "environment variable that holds it"
                )
            raise ConfigError(f"{path}: unknown key {key!r}; valid keys: {', '.join(_FILE_KEYS)}")
        kind = str if option.secret else option.kind
        items = value if option.repeatable and isinstance(value, list) else [value]
        if not all(type(item) is kind or (kind is float and type(item) is int) for item in items):
            wanted = _TYPE_NAMES[kind] + (" or a list of them" if option.repeatable else "")
            raise ConfigError(f"{path}: {key} must be {wanted}, got {value!r}")
        values[option.name] = value if option.secret else option.parse(value, f"{path}: {key}")
    return values


class _Sources:
    """Looks an option up in the flags, then the environment, then the config file, and checks the value."""

    def __init__(self, flags: Mapping[str, Any], env: Mapping[str, str], file: str | Path | None) -> None:
        self.flags, self.env = flags, env
        found = find_config_file(flags, env, file)
        self.path = found[0] if found else None
        self.file = _check_file(*found) if found else {}

    def get(self, name: str, default: Any = None) -> Any:
        """The option's checked value from the first source that has it, else ``default``."""
        option = BY_NAME[name]
        value = self.flags.get(name)
        if value is not None and value != () and value != []:
            return option.parse(value, option.flag)
        raw = self.env.get(option.env or "")
        if raw:
            return option.parse(raw, option.flag)
        if name in self.file:
            return self.file[name]
        return default

    def secret(self, name: str) -> tuple[str | None, str]:
        """A token and the environment variable that holds it (the one its ``<name>_env`` key names)."""
        option = BY_NAME[name]
        value = self.flags.get(name) or self.env.get(option.env or "")
        if value or name not in self.file:
            return value or None, option.env or ""
        variable = self.file[name]
        if not self.env.get(variable):
            raise ConfigError(f"{self.path}: {option.key} names {variable}, which is not set")
        return self.env[variable], variable


def check_options(
    flags: Mapping[str, Any], env: Mapping[str, str] | None = None, *, file: str | Path | None = None
) -> tuple[bool, Path]:
    """Check every option from every source before anything starts, then make the report folder.

    Returns whether a target is configured (else the embedded one is to be started) and the report folder,
    created and proven writable. Without a target, values are checked as far as they can be before the
    embedded target exists (its clock included), so a bad value never starts it.
    """
    env = os.environ if env is None else env
    source = _Sources(flags, env, file)
    for option in OPTIONS:
        if not option.secret:
            source.get(option.name)
    _probes(source)
    configured = source.get("target") is not None
    if configured:
        build_config(flags, env, file=file)
    else:
        _embedded_clock(source.get("time_scale"), EMBEDDED_TIME_SCALE)
    named = source.get("report_dir")
    return configured, prepare_report_dir(Path(named) if named is not None else default_report_dir())


def prepare_report_dir(path: Path) -> Path:
    """Create the report folder now and prove it writable, so a bad one ends the run before any request.

    A folder that already holds a run (its report.json or ledger.jsonl) is refused: reports would be
    overwritten and the two runs' ledgers mixed.
    """
    label = f"--report-dir {path}"
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{label} is a file, not a directory")
    held = [name for name in RUN_FILES if (path / name).exists()]
    if held:
        raise ConfigError(
            f"{label} already holds a run ({held[0]}): give a new folder, or remove it (after "
            f"`vpsconform cleanup --report-dir {path}` if that run was killed)"
        )
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise ConfigError(f"{label} cannot be written: {exc.strerror or exc}") from None
    return path


def _probes(source: _Sources) -> tuple[str | None, str | None]:
    """The probe commands, which go together."""
    probe_write, probe_read = source.get("probe_write"), source.get("probe_read")
    if (probe_write is None) != (probe_read is None):
        raise ConfigError("--probe-write and --probe-read go together: give both or neither")
    return probe_write, probe_read


def _embedded_clock(time_scale: float | None, clock: float) -> float:
    """The embedded target's clock; a different --time-scale is refused (the target sets its own)."""
    if time_scale is not None and time_scale != clock:
        raise ConfigError("--time-scale cannot be changed for the embedded target (it sets its own clock)")
    return clock


@dataclasses.dataclass(frozen=True)
class _Accounts:
    """The account under test and the foreign one: tokens, the variables naming them, and their servers."""

    token: str
    token_env: str
    server_ids: tuple[int, ...]
    foreign_token: str | None
    foreign_env: str
    foreign_ids: tuple[int, ...]


def _accounts(source: _Sources, base: RunConfig | None) -> _Accounts:
    """Both accounts from the sources, the embedded target's (``base``) filling in what was not given."""
    token, token_env = source.secret("token")
    if base is not None:
        token, token_env = base.token, base.token_env
    if not token:
        raise ConfigError("--token (or VPSCONFORM_TOKEN) is required with --target")
    server_ids = source.get("server_ids", ())
    if not server_ids:
        if base is None:
            raise ConfigError("--server-id (or VPSCONFORM_SERVER_IDS) is required with --target")
        server_ids = base.server_ids
    foreign_token, foreign_env = source.secret("foreign_token")
    if foreign_token is None and base is not None:
        foreign_token = base.foreign_token
    foreign_ids = source.get("foreign_server_ids", ()) or (base.foreign_server_ids if base else ())
    if foreign_ids and not foreign_token:
        raise ConfigError("--foreign-server-id needs --foreign-token")
    if foreign_token and token and foreign_token == token:
        raise ConfigError("--foreign-token must belong to another account than --token")
    return _Accounts(token, token_env, tuple(server_ids), foreign_token, foreign_env, tuple(foreign_ids))


def build_config(
    flags: Mapping[str, Any],
    env: Mapping[str, str] | None = None,
    *,
    embedded: RunConfig | None = None,
    file: str | Path | None = None,
) -> RunConfig:
    """Validate flags (which win), environment variables and the config file into a RunConfig.

    ``embedded`` supplies target, accounts and probes when no target is configured: the embedded reference
    target's own values, which the user may still override (time scale excepted: it is the target's clock).
    ``file`` is the config file to read instead of looking for one.
    """
    source = _Sources(flags, os.environ if env is None else env, file)
    target = source.get("target")
    if target is None and embedded is None:
        raise ConfigError("no --target given (or VPSCONFORM_TARGET set) and no embedded target available")
    base = embedded if target is None else None
    accounts = _accounts(source, base)
    probe_write, probe_read = _probes(source)
    if probe_write is None and base is not None:
        probe_write, probe_read = base.probe_write, base.probe_read

    time_scale = source.get("time_scale")
    if base is not None:
        time_scale = _embedded_clock(time_scale, base.time_scale)
    seed = source.get("seed")
    report_dir = source.get("report_dir")
    # A remote target's waits are its clock's: one scenario per server by default (the fast path). The
    # embedded target's are CPU: parallel workers measured no faster there, so it stays serial.
    jobs = source.get("jobs", 1 if base is not None else len(accounts.server_ids))
    max_rps = source.get("max_rps", 0.0 if base is not None else REMOTE_MAX_RPS)
    return RunConfig(
        target=target if base is None else base.target,
        token=accounts.token,
        server_ids=accounts.server_ids,
        foreign_token=accounts.foreign_token,
        foreign_server_ids=accounts.foreign_ids,
        time_scale=BY_NAME["time_scale"].default if time_scale is None else time_scale,
        timing_tolerance=source.get("timing_tolerance", BY_NAME["timing_tolerance"].default),
        probe_write=probe_write,
        probe_read=probe_read,
        profile=source.get("profile", BY_NAME["profile"].default),
        seed=int.from_bytes(os.urandom(3), "big") if seed is None else seed,
        report_dir=Path(report_dir) if report_dir is not None else None,
        max_rps=max_rps,
        request_timeout=source.get("request_timeout", BY_NAME["request_timeout"].default),
        jobs=min(jobs, len(accounts.server_ids)),  # one scenario per server
        progress=source.get("progress", BY_NAME["progress"].default),
        embedded=base is not None,
        token_env=accounts.token_env,
        foreign_token_env=accounts.foreign_env,
        config_file=source.path,
        sign_key=source.get("sign_key"),
        notes=_notes(jobs, len(accounts.server_ids), max_rps, embedded=base is not None),
    )


def _notes(jobs: int, servers: int, max_rps: float, *, embedded: bool) -> tuple[str, ...]:
    """Plain lines for what the run does differently from what was asked, or what an option means here."""
    notes = []
    if jobs > servers:
        notes.append(
            f"--jobs {jobs} capped to {servers}: each scenario runs on a server of its own, and "
            f"{servers} server{'s are' if servers != 1 else ' is'} configured (give more --server-id)"
        )
    if max_rps == 0 and not embedded:
        notes.append("--max-rps 0: no request rate cap, requests go as fast as the target answers")
    return tuple(notes)
