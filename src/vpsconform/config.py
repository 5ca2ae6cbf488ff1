"""Run configuration: one validated object built from flags, environment variables and a config file.

The CLI and the pytest plugin both build a :class:`RunConfig` through :func:`build_config`, so the two entry
points accept the same options (the table in :mod:`vpsconform.options`), read the same environment variables
and config file, and reject bad values with the same one-line messages. Precedence: flag > environment >
file > default.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from vpsconform.options import BY_NAME, OPTIONS, PROFILES, ConfigError

__all__ = ["PROFILES", "ConfigError", "RunConfig", "build_config", "default_report_dir", "target_configured"]

CONFIG_FILE = "vpsconform.toml"
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
    max_rps: float = 20.0
    request_timeout: float = 30.0
    jobs: int = 1
    progress: str = "auto"
    embedded: bool = False
    token_env: str = "VPSCONFORM_TOKEN"
    foreign_token_env: str = "VPSCONFORM_FOREIGN_TOKEN"
    config_file: Path | None = None

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


def target_configured(
    flags: Mapping[str, Any], env: Mapping[str, str] | None = None, *, file: str | Path | None = None
) -> bool:
    """True when a flag, the environment or the config file names a target (else: start the embedded one).

    Also True when the configuration is broken, so no embedded target is started before build_config says why.
    """
    try:
        return _Sources(flags, os.environ if env is None else env, file).get("target") is not None
    except ConfigError:
        return True


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
    token, token_env = source.secret("token")
    if target is not None and not token:
        raise ConfigError("--token (or VPSCONFORM_TOKEN) is required with --target")
    base = embedded if target is None else None
    if base is not None:
        token, token_env = base.token, base.token_env

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

    probe_write, probe_read = source.get("probe_write"), source.get("probe_read")
    if (probe_write is None) != (probe_read is None):
        raise ConfigError("--probe-write and --probe-read go together: give both or neither")
    if probe_write is None and base is not None:
        probe_write, probe_read = base.probe_write, base.probe_read

    time_scale = source.get("time_scale")
    if base is not None:
        if time_scale is not None and time_scale != base.time_scale:
            raise ConfigError(
                "--time-scale cannot be changed for the embedded target (it sets its own clock)"
            )
        time_scale = base.time_scale
    seed = source.get("seed")
    report_dir = source.get("report_dir")
    return RunConfig(
        target=target if base is None else base.target,
        token=token,
        server_ids=server_ids,
        foreign_token=foreign_token,
        foreign_server_ids=foreign_ids,
        time_scale=BY_NAME["time_scale"].default if time_scale is None else time_scale,
        timing_tolerance=source.get("timing_tolerance", BY_NAME["timing_tolerance"].default),
        probe_write=probe_write,
        probe_read=probe_read,
        profile=source.get("profile", BY_NAME["profile"].default),
        seed=int.from_bytes(os.urandom(3), "big") if seed is None else seed,
        report_dir=Path(report_dir) if report_dir is not None else None,
        max_rps=source.get("max_rps", 0.0 if base is not None else 20.0),
        request_timeout=source.get("request_timeout", BY_NAME["request_timeout"].default),
        jobs=min(source.get("jobs", BY_NAME["jobs"].default), len(server_ids)),  # one scenario per server
        progress=source.get("progress", BY_NAME["progress"].default),
        embedded=base is not None,
        token_env=token_env,
        foreign_token_env=foreign_env,
        config_file=source.path,
    )
