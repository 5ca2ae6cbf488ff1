"""build_config: flags win over environment variables, and every bad value gets a one-line ConfigError."""

from __future__ import annotations

from pathlib import Path

import pytest

from vpsconform.config import ConfigError, RunConfig, build_config

REMOTE = {"target": "http://127.0.0.1:8000/", "token": "secret-token", "server_ids": ["11", "12"]}
EMBEDDED = RunConfig(
    target="http://127.0.0.1:1234",
    token="embedded-token",
    server_ids=(1, 2),
    foreign_token="other",
    foreign_server_ids=(9,),
    time_scale=0.002,
    probe_write="w {server_id} {marker}",
    probe_read="r {server_id}",
    max_rps=0.0,
    embedded=True,
)


def test_flags_build_a_remote_config() -> None:
    config = build_config(REMOTE, env={})
    assert config.target == "http://127.0.0.1:8000"
    assert config.server_ids == (11, 12)
    assert (config.time_scale, config.timing_tolerance, config.profile, config.max_rps) == (
        1.0,
        0.1,
        "standard",
        20.0,
    )
    assert not config.has_probes and not config.has_foreign_account and not config.embedded


def test_environment_fills_in_and_flags_win() -> None:
    env = {
        "VPSCONFORM_TARGET": "https://staging.example.test",
        "VPSCONFORM_TOKEN": "from-env",
        "VPSCONFORM_SERVER_IDS": "5, 6,7",
        "VPSCONFORM_TIME_SCALE": "0.5",
        "VPSCONFORM_SEED": "42",
        "VPSCONFORM_REPORT_DIR": "out",
    }
    config = build_config({}, env=env)
    assert (config.target, config.token, config.server_ids) == (
        "https://staging.example.test",
        "from-env",
        (5, 6, 7),
    )
    assert (config.time_scale, config.seed, config.report_dir) == (0.5, 42, Path("out"))
    assert build_config({"token": "flag", "time_scale": "2"}, env=env).token == "flag"
    assert build_config({"token": "flag", "time_scale": "2"}, env=env).time_scale == 2.0


def test_zero_tolerance_and_unlimited_rate_are_kept() -> None:
    config = build_config({**REMOTE, "timing_tolerance": "0", "max_rps": "0"}, env={})
    assert (config.timing_tolerance, config.max_rps) == (0.0, 0.0)


def test_embedded_defaults_come_from_the_target() -> None:
    config = build_config({}, env={}, embedded=EMBEDDED)
    assert (
        config.embedded
        and config.token == "embedded-token"
        and config.has_probes
        and config.has_foreign_account
    )
    assert config.time_scale == 0.002 and config.server_ids == (1, 2)
    with pytest.raises(ConfigError, match="cannot be changed"):
        build_config({"time_scale": "1"}, env={}, embedded=EMBEDDED)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ({"target": "ftp://host"}, "http"),
        ({"target": "not a url"}, "http"),
        ({"target": "http://h?x=1", "token": "t", "server_ids": ["1"]}, "query"),
        ({"target": "http://h"}, "--token"),
        ({"target": "http://h", "token": "t"}, "--server-id"),
        ({**REMOTE, "server_ids": ["abc"]}, "positive integers"),
        ({**REMOTE, "server_ids": ["-3"]}, "positive integers"),
        ({**REMOTE, "time_scale": "fast"}, "--time-scale takes a number"),
        ({**REMOTE, "time_scale": "0"}, "--time-scale must be > 0"),
        ({**REMOTE, "time_scale": "nan"}, "finite"),
        ({**REMOTE, "timing_tolerance": "-1"}, "--timing-tolerance"),
        ({**REMOTE, "profile": "huge"}, "--profile"),
        ({**REMOTE, "seed": "x"}, "--seed"),
        ({**REMOTE, "seed": "-1"}, "--seed"),
        ({**REMOTE, "probe_write": "w {server_id} {marker}"}, "go together"),
        ({**REMOTE, "probe_write": "w {marker}", "probe_read": "r {server_id}"}, "{server_id}"),
        ({**REMOTE, "probe_write": "w {server_id}", "probe_read": "r {server_id}"}, "{marker}"),
        (
            {**REMOTE, "probe_write": "w 'unclosed {server_id} {marker}", "probe_read": "r {server_id}"},
            "command line",
        ),
        ({**REMOTE, "foreign_server_ids": ["3"]}, "--foreign-token"),
        ({**REMOTE, "foreign_token": "secret-token"}, "another account"),
        ({**REMOTE, "request_timeout": "0"}, "--request-timeout"),
    ],
)
def test_bad_values_are_refused_with_one_line(flags: dict, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        build_config(flags, env={})
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_no_target_and_no_embedded_target_is_an_error() -> None:
    with pytest.raises(ConfigError, match="no --target"):
        build_config({}, env={})


def test_tokens_stay_out_of_repr_and_public_dict() -> None:
    config = build_config({**REMOTE, "foreign_token": "foreign-secret"}, env={})
    shown = repr(config) + repr(config.public_dict())
    assert "secret-token" not in shown and "foreign-secret" not in shown
    assert config.secrets == {
        "secret-token": "VPSCONFORM_TOKEN",
        "foreign-secret": "VPSCONFORM_FOREIGN_TOKEN",
    }
