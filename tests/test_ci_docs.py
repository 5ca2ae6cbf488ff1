"""docs/ci.md: its YAML and TOML blocks parse, and every vpsconform option its CI recipes use exists."""

from __future__ import annotations

import re
import shlex
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from vpsconform.cli import main
from vpsconform.config import build_config

CI_DOCS = Path(__file__).resolve().parents[1] / "docs" / "ci.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)
CALL = re.compile(r"(^|[\s;&|(])vpsconform\s")
SHELL_OPERATORS = re.compile(r"[;&|<>()]+")
SECRET_FLAGS = {"--token", "--foreign-token"}
SCRIPT_KEYS = {"run", "script", "before_script", "after_script"}


def blocks(language: str) -> list[str]:
    """The fenced blocks of docs/ci.md in `language`, in page order."""
    return [body for lang, body in FENCE.findall(CI_DOCS.read_text(encoding="utf-8")) if lang == language]


def scripts(node: Any) -> Iterator[str]:
    """The shell scripts of a parsed CI file: GitHub's `run:` steps and GitLab's `*script:` lists."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in SCRIPT_KEYS:
                yield from [value] if isinstance(value, str) else value
            else:
                yield from scripts(value)
    elif isinstance(node, list):
        for item in node:
            yield from scripts(item)


def invocations(script: str) -> Iterator[list[str]]:
    """Each `vpsconform CMD ARGS...` in a shell script, line continuations joined, up to a shell operator."""
    for line in script.replace("\\\n", " ").splitlines():
        if not CALL.search(line):
            continue  # other lines may open quotes they close lines later (python -c '...')
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        words = list(lexer)
        for start in (i for i, word in enumerate(words) if word == "vpsconform"):
            end = next(
                (i for i in range(start + 1, len(words)) if SHELL_OPERATORS.fullmatch(words[i])), len(words)
            )
            yield words[start + 1 : end]


def recipe_invocations() -> list[tuple[int, list[str]]]:
    """(YAML block number, the arguments after `vpsconform`) for every invocation in the page's YAML."""
    found = []
    for number, body in enumerate(blocks("yaml"), 1):
        for text in scripts(yaml.safe_load(body)):
            found.extend((number, args) for args in invocations(text))
    return found


def option_names(command: click.Command) -> set[str]:
    """Every long and short spelling of the command's options."""
    return {
        name
        for param in command.params
        if isinstance(param, click.Option)
        for name in param.opts + param.secondary_opts
    }


def test_the_page_has_recipes() -> None:
    assert len(blocks("yaml")) >= 4, "GitHub gate, nightly and mock workflows plus the GitLab jobs"
    assert blocks("toml"), "the config file example"
    commands = {args[0] for _, args in recipe_invocations() if args}
    assert {"run", "compare", "verify", "publish"} <= commands


@pytest.mark.parametrize("body", blocks("yaml"), ids=lambda body: body.splitlines()[0][:60])
def test_yaml_blocks_parse(body: str) -> None:
    assert isinstance(yaml.safe_load(body), dict)


@pytest.mark.parametrize(("block", "args"), recipe_invocations(), ids=lambda value: str(value)[:80])
def test_every_option_exists(block: int, args: list[str]) -> None:
    assert args, f"yaml block {block}: `vpsconform` without a command"
    name, rest = args[0], args[1:]
    assert name in main.commands, f"yaml block {block}: no command `vpsconform {name}`"
    known = option_names(main.commands[name])
    used = {word.split("=", 1)[0] for word in rest if word.startswith("-") and word != "-"}
    missing = sorted(used - known)
    assert not missing, f"yaml block {block}: `vpsconform {name}` has no option {', '.join(missing)}"
    assert not used & SECRET_FLAGS, (
        f"yaml block {block}: tokens come from the environment, not the command line"
    )


@pytest.mark.parametrize(
    ("block", "args"),
    [(block, args) for block, args in recipe_invocations() if args[:1] == ["run"]],
    ids=lambda value: str(value)[:80],
)
def test_runs_write_to_reports_ci(block: int, args: list[str]) -> None:
    assert "--report-dir" in args and args[args.index("--report-dir") + 1] == "reports/ci", block


def test_invocations_are_found_across_continuations_and_operators() -> None:
    script = "x=0\nvpsconform run --profile smoke \\\n  --report-dir reports/ci || x=$?\n"
    script += "echo 'vpsconform compare'\npython3 -c 'print(\n1)'\n"
    assert list(invocations(script)) == [["run", "--profile", "smoke", "--report-dir", "reports/ci"]]


@pytest.mark.parametrize("body", blocks("toml"), ids=lambda body: body.splitlines()[0][:60])
def test_toml_blocks_are_valid_config_files(body: str, tmp_path: Path) -> None:
    settings = tomllib.loads(body)
    assert not {"token", "foreign_token"} & set(settings), "no token in a config file"
    path = tmp_path / "vpsconform.toml"
    path.write_text(body, encoding="utf-8")
    env = {"VPSCONFORM_TOKEN": "t", "VPSCONFORM_FOREIGN_TOKEN": "f"}
    config = build_config({}, env, file=path)
    assert config.target == settings["target"]
    assert list(config.server_ids) == settings["server_id"]
    assert list(config.foreign_server_ids) == settings.get("foreign_server_id", [])
    jobs = settings.get("jobs", len(settings["server_id"]))  # default: one scenario per configured server
    assert (config.jobs, config.max_rps) == (jobs, settings.get("max_rps", 20))


def _workflow(name: str) -> dict[str, Any]:
    """The parsed YAML block whose first line names ``name``."""
    found = [yaml.safe_load(body) for body in blocks("yaml") if name in body.splitlines()[0]]
    assert len(found) == 1, name
    return found[0]


def test_the_auditor_recipe_runs_one_job_per_provider_then_verifies_and_publishes() -> None:
    jobs = _workflow("conformance-audit.yml")["jobs"]
    provider, publish = jobs["provider"], jobs["publish"]
    assert len(provider["strategy"]["matrix"]["provider"]) >= 2
    assert provider["strategy"]["fail-fast"] is False
    assert "matrix.provider" in provider["environment"], "secrets per provider: one environment each"
    assert provider["env"]["VPSCONFORM_TOKEN"] == "${{ secrets.VPSCONFORM_TOKEN }}"
    runs = [args for text in scripts(provider) for args in invocations(text) if args[:1] == ["run"]]
    assert runs and all("--sign-key" in args for args in runs)
    assert publish["needs"] == "provider"
    steps = [args[0] for text in scripts(publish) for args in invocations(text)]
    assert steps == ["verify", "publish"], "every attestation is verified before the site is built"
    verify = next(a for t in scripts(publish) for a in invocations(t) if a[0] == "verify")
    assert "--key" in verify


def test_the_mock_recipe_publishes_its_badge_for_the_readme() -> None:
    steps = _workflow("conformance.yml (in the mock")["jobs"]["conformance"]["steps"]
    assert any(args[:1] == ["publish"] for s in steps for args in invocations(s.get("run", "")))
    readme = [body for lang, body in FENCE.findall(CI_DOCS.read_text(encoding="utf-8")) if lang == "markdown"]
    assert any("badge.svg" in body for body in readme)
