"""build_config: flag > environment > config file > default, and every bad value gets a one-line error."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from vpsconform.config import RunConfig, build_config, check_options
from vpsconform.errors import ConfigError

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


# The config file -----------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test runs in an empty directory, so no vpsconform.toml or pyproject.toml is found by accident."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_precedence_is_flag_then_environment_then_file_then_default(tmp_path: Path) -> None:
    write(
        tmp_path / "vpsconform.toml",
        'target = "https://file.example.test"\nserver_id = [1, 2]\ntoken_env = "T"\n'
        "time_scale = 0.5\ntiming_tolerance = 0.3\nseed = 5\n",
    )
    env = {"T": "tok", "VPSCONFORM_TIME_SCALE": "0.25", "VPSCONFORM_SEED": "6"}
    config = build_config({"seed": "7"}, env=env)
    assert config.seed == 7  # flag over environment over file
    assert config.time_scale == 0.25  # environment over file
    assert (config.target, config.server_ids, config.timing_tolerance) == (
        "https://file.example.test",
        (1, 2),
        0.3,
    )
    assert config.profile == "standard" and config.request_timeout == 30.0  # defaults
    assert config.jobs == 2  # default against a target: one scenario per configured server
    assert config.config_file == Path("vpsconform.toml")
    assert config.public_dict()["config_file"] == "vpsconform.toml"


def test_a_token_in_the_file_is_refused_naming_token_env(tmp_path: Path) -> None:
    write(tmp_path / "vpsconform.toml", 'target = "http://h"\nserver_id = 1\nforeign_token = "s3cret"\n')
    with pytest.raises(ConfigError) as error:
        build_config({}, env={})
    message = str(error.value)
    assert "foreign_token_env" in message and "s3cret" not in message and "\n" not in message


def test_token_env_names_the_variable_used_for_the_token_and_in_curl_commands(tmp_path: Path) -> None:
    write(
        tmp_path / "vpsconform.toml",
        'target = "http://h"\nserver_id = 1\ntoken_env = "STAGING_TOKEN"\n'
        'foreign_token_env = "OTHER_TOKEN"\nforeign_server_id = [3]\n',
    )
    config = build_config({}, env={"STAGING_TOKEN": "main-secret", "OTHER_TOKEN": "other-secret"})
    assert (config.token, config.foreign_token, config.foreign_server_ids) == (
        "main-secret",
        "other-secret",
        (3,),
    )
    assert config.secrets == {"main-secret": "STAGING_TOKEN", "other-secret": "OTHER_TOKEN"}
    assert (
        build_config({}, env={"STAGING_TOKEN": "x", "OTHER_TOKEN": "y", "VPSCONFORM_TOKEN": "e"}).secrets["e"]
        == "VPSCONFORM_TOKEN"
    )
    with pytest.raises(ConfigError, match="token_env names STAGING_TOKEN, which is not set"):
        build_config({}, env={"OTHER_TOKEN": "y"})


def test_repeatable_keys_take_a_list_or_one_value(tmp_path: Path) -> None:
    write(tmp_path / "vpsconform.toml", 'target = "http://h"\nserver_id = 12345\n')
    assert build_config({}, env={"VPSCONFORM_TOKEN": "t"}).server_ids == (12345,)
    write(tmp_path / "vpsconform.toml", 'target = "http://h"\nserver_id = [12345, 12346]\n')
    assert build_config({}, env={"VPSCONFORM_TOKEN": "t"}).server_ids == (12345, 12346)


def test_unknown_keys_are_refused_listing_the_valid_ones(tmp_path: Path) -> None:
    write(tmp_path / "vpsconform.toml", "server_ids = [1]\n")
    with pytest.raises(ConfigError) as error:
        build_config({}, env={})
    assert "'server_ids'" in str(error.value) and "server_id, " in str(error.value)
    assert "token_env" in str(error.value) and "\n" not in str(error.value)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('time_scale = "fast"', "time_scale must be a number"),
        ("time_scale = true", "time_scale must be a number"),
        ('server_id = ["a"]', "server_id must be an integer or a list of them"),
        ("seed = 1.5", "seed must be an integer"),
        ("profile = 3", "profile must be a string"),
        ("token_env = 3", "token_env must be a string"),
        ("[target]\nurl = 'x'", "target must be a string"),
        ('profile = "huge"', "profile must be one of"),
        ("time_scale = 0", "time_scale must be > 0"),
        ("server_id = [0]", "positive integers"),
        ("target =", "not valid TOML"),
    ],
)
def test_bad_file_values_are_refused_with_one_line(tmp_path: Path, line: str, message: str) -> None:
    write(tmp_path / "vpsconform.toml", line + "\n")
    with pytest.raises(ConfigError) as error:
        build_config({"target": "http://h", "token": "t", "server_ids": ["1"]}, env={})
    assert message in str(error.value) and "\n" not in str(error.value)


def test_pyproject_section_and_explicit_files(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", '[project]\nname = "x"\n')
    assert build_config(REMOTE, env={}).config_file is None  # a pyproject.toml without the section
    write(tmp_path / "pyproject.toml", '[tool.vpsconform]\nprofile = "deep"\n')
    assert build_config(REMOTE, env={}).profile == "deep"
    write(tmp_path / "vpsconform.toml", 'profile = "smoke"\n')
    assert build_config(REMOTE, env={}).profile == "smoke"  # vpsconform.toml first
    other = write(tmp_path / "other.toml", "jobs = 1\n")
    assert build_config({**REMOTE, "config": str(other)}, env={}).jobs == 1
    assert build_config(REMOTE, env={"VPSCONFORM_CONFIG": str(other)}).jobs == 1
    write(other, "jobs = 3\n")
    assert build_config({**REMOTE, "config": str(other)}, env={}).jobs == 2  # one scenario per server
    assert build_config(REMOTE, env={}, file=other).config_file == other
    with pytest.raises(ConfigError, match=r"--config missing\.toml: no such file"):
        build_config({**REMOTE, "config": "missing.toml"}, env={})


def test_check_options_says_whether_a_target_is_configured_and_makes_the_report_dir(tmp_path: Path) -> None:
    configured, report_dir = check_options({}, env={})
    assert not configured and report_dir.is_dir() and report_dir.parent == Path("reports")
    assert check_options({**REMOTE, "report_dir": "out"}, env={}) == (True, Path("out"))
    write(tmp_path / "vpsconform.toml", 'target = "http://h"\nserver_id = 1\ntoken_env = "T"\n')
    assert check_options({"report_dir": "second"}, env={"T": "x"})[0]


def test_check_options_refuses_before_the_embedded_target_exists(tmp_path: Path) -> None:
    for flags, message in [
        ({"time_scale": "1"}, "cannot be changed"),
        ({"time_scale": "-1"}, "--time-scale must be > 0"),
        ({"server_ids": ["abc"]}, "positive integers"),
        ({"jobs": "0"}, "--jobs takes an integer >= 1"),
        ({"probe_write": "w 'open {server_id} {marker}", "probe_read": "r {server_id}"}, "command line"),
        ({"probe_read": "r {server_id}"}, "go together"),
    ]:
        with pytest.raises(ConfigError, match=re.escape(message)):
            check_options({**flags, "report_dir": "never"}, env={})
    assert not (tmp_path / "never").exists()  # nothing is made for a configuration that is refused


def test_jobs_defaults_to_one_per_server_against_a_target_and_to_serial_embedded() -> None:
    assert build_config(REMOTE, env={}).jobs == 2  # two servers: the fast path without a flag
    three = {**REMOTE, "server_ids": ["11", "12", "13"]}
    assert build_config(three, env={}).jobs == 3
    assert build_config({**three, "jobs": "1"}, env={}).jobs == 1  # --jobs 1: serial
    assert build_config(three, env={"VPSCONFORM_JOBS": "1"}).jobs == 1
    assert build_config({}, env={}, embedded=EMBEDDED).jobs == 1  # the embedded target stays serial
    assert build_config({"jobs": "2"}, env={}, embedded=EMBEDDED).jobs == 2  # unless asked


def test_jobs_is_at_least_one_and_at_most_one_per_server() -> None:
    assert build_config({**REMOTE, "jobs": "2"}, env={}).jobs == 2
    assert build_config({**REMOTE, "jobs": "4"}, env={}).jobs == 2  # two servers: two scenarios at once
    with pytest.raises(ConfigError, match="--jobs takes an integer >= 1"):
        build_config({**REMOTE, "jobs": "0"}, env={})
