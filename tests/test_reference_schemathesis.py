"""schemathesis' own CLI, all phases, finds no server error and no spec violation in the reference target."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from vpsconform.paths import SPEC_DIR
from vpsconform.reference.server import RunningTarget

CHECKS = ",".join(
    [
        "not_a_server_error",
        "response_schema_conformance",
        "content_type_conformance",
        "use_after_free",
        "ensure_resource_availability",
    ]
)


@pytest.mark.slow  # over 1000 generated requests: about 12 s
def test_schemathesis_finds_nothing_in_over_1000_cases(start_reference_target, tmp_path: Path) -> None:
    target: RunningTarget = start_reference_target(time_scale=0.002)
    account = target.account("main")
    config = tmp_path / "schemathesis.toml"
    # Generated bodies name a real server of the account, so creates succeed and links chain into restores.
    config.write_text(f'[parameters]\n"body.server_id" = {account.server_ids[0]}\n')
    report = tmp_path / "st.json"
    done = subprocess.run(
        [
            str(Path(sys.executable).with_name("st")),
            "--config-file",
            str(config),
            "run",
            str(SPEC_DIR / "openapi.yaml"),
            "--url",
            target.url,
            "-H",
            f"Authorization: Bearer {account.token}",
            "--phases",
            "examples,coverage,fuzzing,stateful",
            "-m",
            "all",
            "-n",
            "150",
            "--seed",
            "1",
            "--generation-database",
            "none",
            "-c",
            CHECKS,
            "--continue-on-failure",
            "--report",
            "json",
            "--report-json-path",
            str(report),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert account.token not in done.stdout + done.stderr
    summary = json.loads(report.read_text())
    assert summary["complete"] and done.returncode == 0, done.stdout[-4000:]
    assert summary["test_cases"]["generated"] >= 1000
    assert summary["test_cases"]["with_failures"] == 0 and summary["errors"] == []
    assert all(phase["status"] == "success" for phase in summary["phases"].values()), summary["phases"]
    assert "covered" in done.stdout and "API Links: 0 covered" not in done.stdout
