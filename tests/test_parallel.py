"""`vpsconform run --jobs N`: parallel scenarios reach the same verdicts as a serial run, in one report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from vpsconform.config import RunConfig
from vpsconform.plugin.locks import ServerLocks
from vpsconform.plugin.parallel import LongestFirst, config_from_wire, config_to_wire
from vpsconform.reference.server import RunningTarget

TIME_SCALE = 0.005


def run_parallel(
    target: RunningTarget, report_dir: Path, jobs: int, *options: str
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """`vpsconform run --jobs N` on N of the reference target's main servers, with its foreign account and the
    tokens in the environment: the finished process and its JSON report."""
    main, foreign = target.account("main"), target.account("foreign")
    env = os.environ | {"VPSCONFORM_TOKEN": main.token, "VPSCONFORM_FOREIGN_TOKEN": foreign.token}
    args = [sys.executable, "-m", "vpsconform", "run", "--target", target.url, "--jobs", str(jobs)]
    args += ["--time-scale", str(TIME_SCALE), "--foreign-server-id", str(foreign.server_ids[0])]
    args += [w for sid in main.server_ids[:jobs] for w in ("--server-id", str(sid))]
    args += [*options, "--report-dir", str(report_dir)]
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=600, check=False)
    return done, json.loads((report_dir / "report.json").read_text())


def test_configuration_crosses_to_workers_unchanged(tmp_path) -> None:
    config = RunConfig(
        target="http://127.0.0.1:1",
        token="secret",
        server_ids=(1, 2),
        foreign_token="other",
        foreign_server_ids=(3,),
        report_dir=tmp_path,
        jobs=2,
    )
    assert config_from_wire(json.loads(json.dumps(config_to_wire(config)))) == config


@pytest.mark.slow
def test_parallel_run_is_conformant_and_reports_once(start_reference_target, tmp_path) -> None:
    target = start_reference_target(time_scale=TIME_SCALE)
    main = target.account("main")
    probes = ["--probe-write", target.probe_write_command, "--probe-read", target.probe_read_command]
    # As many workers as servers: the scenarios holding two (data, limit, list) must not starve each other.
    done, report = run_parallel(target, tmp_path, 3, "--max-rps", "0", "--seed", "11", *probes)
    assert report["verdict"] == "conformant", done.stdout[-3000:]
    assert done.returncode == 0
    assert report["target"]["jobs"] == 3
    assert report["scope"]["statement"] == "judged 69 of 69 MUST requirements"
    assert report["cleanup"]["left"] == 0
    assert len({t["test"] for t in report["tests"]}) == len(report["tests"]) > 50
    stats = target.stats()
    assert stats["held_by_api"] == 0 and stats["foreign_restores"] == stats["foreign_deletes"] == 0
    assert main.token not in done.stdout + done.stderr
    # A CI log states the scope the workers collected before the first test's line.
    lines = done.stdout.splitlines()
    scope = next(i for i, line in enumerate(lines) if "scope: judging 69 of 69 MUST requirements" in line)
    assert scope < next(i for i, line in enumerate(lines) if " passed " in line)


@pytest.mark.slow
def test_parallel_workers_share_one_rate_cap(start_reference_target, tmp_path) -> None:
    """Two workers under --max-rps 20, with LIMIT-06's burst of concurrent creates: the target never sees
    more than 20 requests in a second (each worker at the full cap, or an unpaid burst, would show ~32)."""
    target = start_reference_target(time_scale=TIME_SCALE)
    done, report = run_parallel(target, tmp_path, 2, "--profile", "smoke", "--max-rps", "20", "--seed", "3")
    assert report["verdict"] == "conformant", done.stdout[-3000:]
    assert {r["id"]: r["verdict"] for r in report["requirements"]}["LIMIT-06"] == "pass"  # the burst went out
    assert 0 < target.stats()["busiest_second"] <= 20


def test_longest_first_deals_one_long_test_to_each_worker() -> None:
    class Node:
        def __init__(self, name: str) -> None:
            self.name, self.sent, self.shutting_down = name, [], False
            self.gateway = type("Gateway", (), {"id": name})()

        def send_runtest_some(self, indices: list[int]) -> None:
            self.sent.extend(indices)

        def shutdown(self) -> None:
            self.shutting_down = True

    class Config:
        def getvalue(self, name: str) -> list[str]:
            return ["3*popen"]

        def getoption(self, name: str) -> None:
            return None

    class Log:
        def __getattr__(self, name: str) -> Log:
            return self

        def __call__(self, *args: object) -> None:
            pass

    scheduler = LongestFirst(Config(), log=Log())
    nodes = [Node("gw0"), Node("gw1"), Node("gw2")]
    collection = [f"t{i}" for i in range(10)]
    for node in nodes:
        scheduler.add_node(node)
        scheduler.add_node_collection(node, collection)
    scheduler.schedule()
    assert [node.sent for node in nodes] == [[0, 3], [1, 4], [2, 5]]
    scheduler.mark_test_complete(nodes[1], 1)
    assert nodes[1].sent == [1, 4, 6]


def test_server_holds_are_exclusive_across_processes_reentrant_and_parked(tmp_path) -> None:
    mine, other = ServerLocks(tmp_path), ServerLocks(tmp_path)
    assert mine.try_hold(1) and mine.try_hold(1)  # a lease inside a lease
    assert not other.try_hold(1)  # flock: another open file description, as another worker has
    mine.release(1)
    assert not other.try_hold(1)
    mine.park(1)
    assert not other.try_hold(1)  # parked until the test's teardown
    mine.release_parked()
    assert other.try_hold(1)
