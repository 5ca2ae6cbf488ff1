"""The option table: the CLI, pytest, the README and reproduction commands all follow it."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from vpsconform.cli import main, run
from vpsconform.config import RunConfig, build_config
from vpsconform.options import OPTIONS, readme_table, reproduce_command
from vpsconform.reference.options import TargetOptions
from vpsconform.reference.server import start

ROOT = Path(__file__).resolve().parents[1]
REMOTE = {
    "target": "https://staging.example.test",
    "token": "main-secret",
    "server_ids": ("11", "12"),
    "foreign_token": "other-secret",
    "foreign_server_ids": ("21",),
    "time_scale": "0.5",
    "timing_tolerance": "0.2",
    "probe_write": "ssh root@{server_id} 'echo {marker} > /m'",
    "probe_read": "ssh root@{server_id} cat /m",
    "profile": "deep",
    "seed": "42",
    "max_rps": "5",
    "request_timeout": "12",
}
PYTEST_FLAGS = ("--server-id", "1", "--server-id", "2", "--profile", "deep")
EMBEDDED = RunConfig(target="http://127.0.0.1:1", token="t", server_ids=(1,), max_rps=0.0, embedded=True)


def clean_env(**extra: str) -> dict[str, str]:
    """The caller's environment without VPSCONFORM_* variables, plus ``extra``."""
    return {**{k: v for k, v in os.environ.items() if not k.startswith("VPSCONFORM_")}, **extra}


def test_the_readme_table_is_the_option_table() -> None:
    readme = (ROOT / "README.md").read_text()
    start_at = readme.index("| option | env var |")
    table = readme[start_at : readme.index("\n\n", start_at) + 1]
    assert table == readme_table(), "README.md's options table differs: paste options.readme_table() there"


def test_run_help_lists_every_cli_option() -> None:
    shown = CliRunner().invoke(main, ["run", "--help"], terminal_width=200).output
    for option in OPTIONS:
        if "cli" in option.where:
            assert re.search(rf"{option.flag}\b", shown), option.flag
            assert option.env is None or option.env in shown


def test_pytest_help_of_the_suites_lists_every_pytest_option() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "suites/", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env=clean_env(),
        check=False,
    )
    assert done.returncode == 0, done.stderr
    for option in OPTIONS:
        if "pytest" in option.where:
            assert re.search(rf"{option.flag}\b", done.stdout), option.flag
    assert "--select" not in done.stdout


def test_flags_from_pytest_reads_the_options_like_the_cli(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text(
        textwrap.dedent(
            """
            from vpsconform.options import add_pytest_options, flags_from_pytest

            def pytest_addoption(parser):
                add_pytest_options(parser)

            def test_flags(pytestconfig):
                flags = flags_from_pytest(pytestconfig)
                assert flags["server_ids"] == ["1", "2"] and flags["profile"] == "deep", flags
                assert flags["target"] is None and "select" not in flags and "alluredir" not in flags
            """
        )
    )
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "conftest.py", *PYTEST_FLAGS],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env=clean_env(),
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_reproduce_command_runs_the_same_configuration_again(monkeypatch: pytest.MonkeyPatch) -> None:
    config = build_config(REMOTE, env={})
    command = reproduce_command(config, runner="cli", selection="test_a or test_b")
    assert "--profile deep" in command and "--select 'test_a or test_b'" in command
    assert "secret" not in command and '--token "$VPSCONFORM_TOKEN"' in command
    monkeypatch.setenv("VPSCONFORM_TOKEN", "main-secret")
    monkeypatch.setenv("VPSCONFORM_FOREIGN_TOKEN", "other-secret")
    words = [os.path.expandvars(word) for word in shlex.split(command)]
    assert words[:2] == ["vpsconform", "run"]
    params = run.make_context("run", words[2:]).params
    assert params["select"] == "test_a or test_b"
    assert build_config(params, env={}) == config


def test_the_pytest_runner_uses_k_never_select() -> None:
    config = build_config(REMOTE, env={})
    command = reproduce_command(config, runner="pytest", selection="test_a or test_b")
    assert command.startswith("pytest suites/ --target https://staging.example.test ")
    assert command.endswith(" -k 'test_a or test_b'") and "--select" not in command
    assert "--profile deep" in command and "--seed 42" in command
    with pytest.raises(ValueError, match="--fault"):
        reproduce_command(config, runner="pytest", selection="x", faults=("slow",))


def test_embedded_commands_carry_faults_and_leave_the_target_to_the_suite() -> None:
    command = reproduce_command(EMBEDDED, runner="cli", selection="t", faults=("f1",), variants=("v1",))
    assert command.startswith("vpsconform run --fault f1 --variant v1 ")
    assert "--target" not in command and "--token" not in command and "--time-scale" not in command
    assert "--profile standard" in command and "--max-rps 0" in command


def test_tokens_are_named_by_the_variable_that_holds_them() -> None:
    config = build_config({**REMOTE, "token": None}, env={"VPSCONFORM_TOKEN": "main-secret"})
    assert '--token "$VPSCONFORM_TOKEN"' in reproduce_command(config, runner="cli")
    renamed = dataclasses.replace(config, token_env="STAGING_TOKEN")
    assert '--token "$STAGING_TOKEN"' in reproduce_command(renamed, runner="pytest")


def test_a_token_in_the_config_file_stops_the_cli_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "vpsconform.toml").write_text('token = "s3cret"\n')
    done = subprocess.run(
        [sys.executable, "-m", "vpsconform", "run"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env=clean_env(),
        check=False,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.count("\n") == 1 and "token_env" in done.stderr and "s3cret" not in done.stderr


@pytest.mark.slow  # an end-to-end `vpsconform run` in a subprocess
def test_a_config_file_and_the_tokens_variable_are_enough_for_a_remote_run(tmp_path: Path) -> None:
    target = start(TargetOptions(time_scale=0.002))
    try:
        main_account = target.account("main")
        (tmp_path / "vpsconform.toml").write_text(
            f'target = "{target.url}"\n'
            f"server_id = {list(main_account.server_ids)}\n"
            'token_env = "STAGING_TOKEN"\n'
            "time_scale = 0.002\n"
            "seed = 9\n"
            'report_dir = "out"\n'
            "jobs = 1\n"  # one selected test: parallel workers (the default with a target) would only cost
        )
        done = subprocess.run(
            [sys.executable, "-m", "vpsconform", "run", "--select", "test_list_answers_count_and_results"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            env=clean_env(STAGING_TOKEN=main_account.token),
            check=False,
        )
    finally:
        target.stop()
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["target"]["target"] == target.url and report["target"]["seed"] == 9
    assert report["target"]["config_file"] == "vpsconform.toml" and not report["target"]["embedded"]
    assert main_account.token not in (tmp_path / "out" / "report.json").read_text()
