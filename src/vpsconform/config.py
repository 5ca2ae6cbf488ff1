"""Run configuration: one validated object built from flags and environment variables.

The CLI and the pytest plugin both build a :class:`RunConfig` through :func:`build_config`, so the two entry
points accept the same options, read the same environment variables and reject bad values with the same
one-line messages.
"""

from __future__ import annotations

import dataclasses
import os
import shlex
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

PROFILES = ("smoke", "standard", "deep")

#: option name -> environment variable read when the option is not given.
ENV_VARS = {
    "target": "VPSCONFORM_TARGET",
    "token": "VPSCONFORM_TOKEN",
    "server_ids": "VPSCONFORM_SERVER_IDS",
    "foreign_token": "VPSCONFORM_FOREIGN_TOKEN",
    "foreign_server_ids": "VPSCONFORM_FOREIGN_SERVER_IDS",
    "time_scale": "VPSCONFORM_TIME_SCALE",
    "timing_tolerance": "VPSCONFORM_TIMING_TOLERANCE",
    "probe_write": "VPSCONFORM_PROBE_WRITE",
    "probe_read": "VPSCONFORM_PROBE_READ",
    "profile": "VPSCONFORM_PROFILE",
    "seed": "VPSCONFORM_SEED",
    "report_dir": "VPSCONFORM_REPORT_DIR",
    "max_rps": "VPSCONFORM_MAX_RPS",
    "request_timeout": "VPSCONFORM_REQUEST_TIMEOUT",
}


class ConfigError(ValueError):
    """A configuration value is missing or malformed; the message is one line meant for the user."""


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
    embedded: bool = False

    @property
    def secrets(self) -> dict[str, str]:
        """Secret values mapped to the environment variable a reproduction command should use instead."""
        found = {self.token: "VPSCONFORM_TOKEN"}
        if self.foreign_token:
            found[self.foreign_token] = "VPSCONFORM_FOREIGN_TOKEN"
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
        return {
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
        }


def _pick(flags: Mapping[str, Any], env: Mapping[str, str], name: str, default: Any = None) -> Any:
    """The flag's value if given, else the environment variable's, else ``default``."""
    value = flags.get(name)
    if value is not None and value != () and value != []:
        return value
    raw = env.get(ENV_VARS[name])
    return raw if raw not in (None, "") else default


def _url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"--target must be an http(s) URL with a host, got {value!r}")
    if parts.query or parts.fragment:
        raise ConfigError(f"--target must not carry a query or fragment, got {value!r}")
    return value.rstrip("/")


def _ids(value: Any, option: str) -> tuple[int, ...]:
    items: list[Any]
    if isinstance(value, str):
        items = [part for part in value.replace(" ", ",").split(",") if part]
    else:
        items = []
        for entry in value:
            items.extend(p for p in str(entry).replace(" ", ",").split(",") if p)
    ids: list[int] = []
    for item in items:
        try:
            number = int(item)
        except (TypeError, ValueError):
            raise ConfigError(f"{option} takes positive integers, got {item!r}") from None
        if number <= 0:
            raise ConfigError(f"{option} takes positive integers, got {item!r}")
        if number not in ids:
            ids.append(number)
    return tuple(ids)


def _number(
    value: Any, option: str, *, minimum: float, strictly: bool, maximum: float | None = None
) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{option} takes a number, got {value!r}") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise ConfigError(f"{option} takes a finite number, got {value!r}")
    too_small = number <= minimum if strictly else number < minimum
    if too_small or (maximum is not None and number > maximum):
        bound = f"> {minimum:g}" if strictly else f">= {minimum:g}"
        upper = f" and <= {maximum:g}" if maximum is not None else ""
        raise ConfigError(f"{option} must be {bound}{upper}, got {value!r}")
    return number


def _template(value: str | None, option: str, placeholders: tuple[str, ...]) -> str | None:
    if value is None:
        return None
    try:
        words = shlex.split(value)
    except ValueError as exc:
        raise ConfigError(f"{option} is not a valid command line: {exc}") from None
    if not words:
        raise ConfigError(f"{option} is empty")
    for placeholder in placeholders:
        if not any(placeholder in word for word in words):
            raise ConfigError(f"{option} must contain {placeholder}")
    return value


def default_report_dir(base: Path = Path("reports")) -> Path:
    """A fresh report directory named by the UTC time, e.g. reports/20261127T053000Z."""
    return base / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


def build_config(
    flags: Mapping[str, Any], env: Mapping[str, str] | None = None, *, embedded: RunConfig | None = None
) -> RunConfig:
    """Validate flags (which win) and environment variables into a RunConfig.

    ``embedded`` supplies target, accounts and probes when no ``--target`` is given: the embedded reference
    target's own values, which the user may still override (time scale excepted: it is the target's clock).
    """
    env = os.environ if env is None else env
    target = _pick(flags, env, "target")
    token = _pick(flags, env, "token")
    if target is None and embedded is None:
        raise ConfigError("no --target given (or VPSCONFORM_TARGET set) and no embedded target available")
    if target is not None:
        target = _url(str(target))
        if not token:
            raise ConfigError("--token (or VPSCONFORM_TOKEN) is required with --target")
    base = embedded if target is None else None

    server_value = _pick(flags, env, "server_ids")
    server_ids = _ids(server_value, "--server-id") if server_value is not None else ()
    if not server_ids:
        if base is None:
            raise ConfigError("--server-id (or VPSCONFORM_SERVER_IDS) is required with --target")
        server_ids = base.server_ids

    foreign_token = _pick(flags, env, "foreign_token") or (base.foreign_token if base else None)
    foreign_value = _pick(flags, env, "foreign_server_ids")
    foreign_ids = _ids(foreign_value, "--foreign-server-id") if foreign_value is not None else ()
    if not foreign_ids and base is not None:
        foreign_ids = base.foreign_server_ids
    if foreign_ids and not foreign_token:
        raise ConfigError("--foreign-server-id needs --foreign-token")
    if foreign_token and token and foreign_token == token:
        raise ConfigError("--foreign-token must belong to another account than --token")

    probe_write = _template(_pick(flags, env, "probe_write"), "--probe-write", ("{server_id}", "{marker}"))
    probe_read = _template(_pick(flags, env, "probe_read"), "--probe-read", ("{server_id}",))
    if (probe_write is None) != (probe_read is None):
        raise ConfigError("--probe-write and --probe-read go together: give both or neither")
    if probe_write is None and base is not None:
        probe_write, probe_read = base.probe_write, base.probe_read

    time_scale_value = _pick(flags, env, "time_scale")
    if base is not None:
        if (
            time_scale_value is not None
            and _number(time_scale_value, "--time-scale", minimum=0, strictly=True) != base.time_scale
        ):
            raise ConfigError(
                "--time-scale cannot be changed for the embedded target (it sets its own clock)"
            )
        time_scale = base.time_scale
    else:
        time_scale = _number(
            1 if time_scale_value is None else time_scale_value,
            "--time-scale",
            minimum=0,
            strictly=True,
            maximum=1000,
        )
    tolerance = _number(
        _pick(flags, env, "timing_tolerance", 0.1),
        "--timing-tolerance",
        minimum=0,
        strictly=False,
        maximum=10,
    )
    profile = str(_pick(flags, env, "profile") or "standard")
    if profile not in PROFILES:
        raise ConfigError(f"--profile must be one of {', '.join(PROFILES)}, got {profile!r}")
    seed_value = _pick(flags, env, "seed")
    try:
        seed = int(seed_value) if seed_value is not None else int.from_bytes(os.urandom(3), "big")
    except (TypeError, ValueError):
        raise ConfigError(f"--seed takes an integer, got {seed_value!r}") from None
    if seed < 0:
        raise ConfigError(f"--seed takes a non-negative integer, got {seed_value!r}")
    report_value = _pick(flags, env, "report_dir")
    default_rps = 0.0 if base is not None else 20.0
    max_rps = _number(_pick(flags, env, "max_rps", default_rps), "--max-rps", minimum=0, strictly=False)
    timeout = _number(
        _pick(flags, env, "request_timeout", 30), "--request-timeout", minimum=0, strictly=True, maximum=600
    )
    return RunConfig(
        target=target if base is None else base.target,
        token=str(token) if base is None else base.token,
        server_ids=server_ids,
        foreign_token=foreign_token,
        foreign_server_ids=foreign_ids,
        time_scale=time_scale,
        timing_tolerance=tolerance,
        probe_write=probe_write,
        probe_read=probe_read,
        profile=profile,
        seed=seed,
        report_dir=Path(report_value) if report_value is not None else None,
        max_rps=max_rps,
        request_timeout=timeout,
        embedded=base is not None,
    )
