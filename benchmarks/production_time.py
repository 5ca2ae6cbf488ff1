"""Project the suite's wall time on a production clock (issue 9).

The suite is run against the reference target (`vpsconform serve`, one fresh target per run) at two or more
time scales; wall = fixed + slope x scale is fitted per profile (least squares) and evaluated at scale 1,
where a snapshot takes 3-10 minutes and a restore 5-15, as on staging. Tokens are handed to
`vpsconform run` through the environment only and never printed.

    python benchmarks/production_time.py --servers 3 --foreign --probes --json bench.json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

#: The longest documented wait chain in minutes: a snapshot (<= 10), a second one (<= 10), a restore (<= 15).
CHAIN_MINUTES = 35.0
#: Production minutes a run of each profile should take with three servers (issue 9).
GOAL_MINUTES = {"standard": 45.0, "smoke": 3.0}
DEFAULT_SCALES = (0.005, 0.02)
PROFILES = ("standard", "smoke", "deep")
SERVE_START_S = 60.0
SERVE_STOP_S = 15.0
EXIT_OK, EXIT_USAGE, EXIT_INCOMPLETE = 0, 2, 3
VPSCONFORM = (sys.executable, "-m", "vpsconform")


class BenchmarkError(Exception):
    """A measurement could not be taken; ends the benchmark with one line and an exit status."""

    def __init__(self, message: str, code: int = EXIT_INCOMPLETE) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Served:
    """What a `vpsconform serve` printed: URL, per-account tokens and server ids, probe commands."""

    url: str
    tokens: dict[str, str]
    servers: dict[str, list[str]]
    probe_write: str
    probe_read: str


@dataclass
class Measurement:
    """One timed `vpsconform run`: its scale, wall time, exit status, verdict and judged scope."""

    profile: str
    scale: float
    wall_s: float
    exit_status: int | None
    verdict: str
    report_duration_s: float | None = None
    judged: str | None = None
    report_dir: str = ""

    @property
    def completed(self) -> bool:
        """Whether the run reached a verdict (exit 0 or 1); only those enter the fit."""
        return self.exit_status in (0, 1)


@dataclass(frozen=True)
class Fit:
    """wall = fixed + slope x scale, from least squares over the measured points."""

    fixed_s: float
    slope_s: float
    points: int

    def wall_at(self, scale: float) -> float:
        """Projected wall seconds at a time scale (1: the production clock)."""
        return self.fixed_s + self.slope_s * scale


@dataclass(frozen=True)
class Projection:
    """A profile's projected wall time at scale 1, its ratio to the 35-minute chain and its goal."""

    profile: str
    fit: Fit
    minutes: float
    chain_ratio: float
    goal_minutes: float | None
    goal_met: bool | None
    residuals_s: list[float] = field(default_factory=list)


def fit_line(points: Sequence[tuple[float, float]]) -> Fit:
    """Least-squares line through (scale, wall) points; two distinct scales give the exact line."""
    if len({scale for scale, _ in points}) < 2:
        raise ValueError("fitting a line needs measurements at two or more distinct scales")
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    sxx = sum((x - mean_x) ** 2 for x, _ in points)
    sxy = sum((x - mean_x) * (y - mean_y) for x, y in points)
    slope = sxy / sxx
    return Fit(fixed_s=mean_y - slope * mean_x, slope_s=slope, points=n)


def project(profile: str, points: Sequence[tuple[float, float]]) -> Projection:
    """Fit a profile's points and project them to the production clock, against the chain and the goal."""
    fit = fit_line(points)
    minutes = fit.wall_at(1.0) / 60
    goal = GOAL_MINUTES.get(profile)
    return Projection(
        profile=profile,
        fit=fit,
        minutes=minutes,
        chain_ratio=minutes / CHAIN_MINUTES,
        goal_minutes=goal,
        goal_met=None if goal is None else minutes <= goal,
        residuals_s=[y - fit.wall_at(x) for x, y in points],
    )


def parse_serve(lines: Sequence[str]) -> Served | None:
    """Parse `vpsconform serve` output; None until the last line (the read probe) has been printed."""
    url = tokens_account = None
    tokens: dict[str, str] = {}
    servers: dict[str, list[str]] = {}
    write = read = None
    for line in lines:
        text = line.strip()
        if match := re.match(r"VPS\.org Snapshots API reference target at (\S+)", text):
            url = match[1]
        elif match := re.match(r"account (\S+):$", text):
            tokens_account = match[1]
            servers[tokens_account] = []
        elif tokens_account and (match := re.match(r"token: (\S+)$", text)):
            tokens[tokens_account] = match[1]
        elif tokens_account and (match := re.match(r"server (\S+) ", text)):
            servers[tokens_account].append(match[1])
        elif match := re.match(r"write: (.+)$", text):
            write = match[1]
        elif match := re.match(r"read: +(.+)$", text):
            read = match[1]
    if url is None or write is None or read is None:
        return None
    return Served(url=url, tokens=tokens, servers=servers, probe_write=write, probe_read=read)


def judged_of(report: dict[str, Any]) -> str | None:
    """'judged N of M' from the report's scope statement (if the report has one), else the statement."""
    scope = report.get("scope")
    statement = scope.get("statement") if isinstance(scope, dict) else None
    if not statement:
        return None
    match = re.search(r"(\d+)\s+of\s+(\d+)", str(statement))
    return f"judged {match[1]} of {match[2]}" if match else str(statement)


def measured_package() -> str:
    """Where the children import vpsconform from (PYTHONPATH can point at another checkout's src/)."""
    try:
        return subprocess.run(
            [sys.executable, "-c", "import vpsconform; print(vpsconform.__path__[0])"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
            env=_clean_env(),
        ).stdout.strip()
    except (subprocess.TimeoutExpired, subprocess.CalledProcessError) as exc:
        raise BenchmarkError(f"vpsconform cannot be imported: {exc}", EXIT_USAGE) from None


def run_supports_jobs() -> bool:
    """Whether this checkout's `vpsconform run` takes --jobs (scenario parallelism is being added)."""
    try:
        help_text = subprocess.run(
            [*VPSCONFORM, "run", "--help"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env=_clean_env(),
        ).stdout
    except subprocess.TimeoutExpired:
        return False
    return re.search(r"(^|\s)--jobs\b", help_text) is not None


def _clean_env() -> dict[str, str]:
    """The inherited environment without VPSCONFORM_* settings, so only the benchmark's choices apply."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VPSCONFORM_")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _stop(process: subprocess.Popen[Any]) -> None:
    """Stop a child: SIGTERM, then SIGKILL after a bounded wait."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(SERVE_STOP_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(SERVE_STOP_S)


@contextlib.contextmanager
def serving(scale: float, variants: Sequence[str], log: Path) -> Iterator[Served]:
    """Start `vpsconform serve` on a free port at a time scale, yield what it printed, stop it at the end."""
    command = [*VPSCONFORM, "serve", "--port", "0", "--time-scale", f"{scale:g}"]
    command += [w for name in variants for w in ("--variant", name)]
    with log.open("w") as errors:
        process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
            env=_clean_env(),
            start_new_session=True,
        )
        try:
            lines: queue.Queue[str | None] = queue.Queue()

            def drain() -> None:
                """Read serve's stdout to the end (it carries tokens: kept in memory only)."""
                assert process.stdout is not None
                for line in process.stdout:
                    lines.put(line)
                lines.put(None)

            threading.Thread(target=drain, daemon=True).start()
            seen: list[str] = []
            deadline = time.monotonic() + SERVE_START_S
            served = None
            while served is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise BenchmarkError(
                        f"vpsconform serve printed no complete description in {SERVE_START_S:g} s"
                    )
                try:
                    line = lines.get(timeout=remaining)
                except queue.Empty:
                    continue
                if line is None:
                    process.wait(SERVE_STOP_S)
                    detail = (log.read_text().strip().splitlines() or ["no output"])[-1]
                    raise BenchmarkError(
                        f"vpsconform serve exited ({process.returncode}): {detail}",
                        EXIT_USAGE if process.returncode == EXIT_USAGE else EXIT_INCOMPLETE,
                    )
                seen.append(line)
                served = parse_serve(seen)
            yield served
        finally:
            _stop(process)


@dataclass(frozen=True)
class Plan:
    """What every measured run gets: servers, accounts, probes, jobs, seed, timeouts, variants."""

    servers: int
    foreign: bool
    probes: bool
    jobs: int | None
    seed: int
    run_timeout_s: float
    variants: tuple[str, ...]
    report_root: Path


def measure(plan: Plan, profile: str, scale: float, index: int) -> Measurement:
    """Serve a fresh reference target at a scale and time one `vpsconform run` of a profile against it."""
    name = f"{profile}-{scale:g}-{index}"
    report_dir = plan.report_root / name
    report_dir.mkdir(parents=True, exist_ok=True)
    with serving(scale, plan.variants, plan.report_root / f"{name}.serve.log") as served:
        main_servers = served.servers.get("main", [])
        if len(main_servers) < plan.servers:
            raise BenchmarkError(
                f"--servers {plan.servers}: the reference target has {len(main_servers)} main servers",
                EXIT_USAGE,
            )
        command = [*VPSCONFORM, "run", "--target", served.url, "--time-scale", f"{scale:g}"]
        command += ["--profile", profile, "--seed", str(plan.seed), "--report-dir", str(report_dir)]
        command += [w for sid in main_servers[: plan.servers] for w in ("--server-id", sid)]
        env = _clean_env()
        env["VPSCONFORM_TOKEN"] = served.tokens["main"]
        if plan.foreign:
            env["VPSCONFORM_FOREIGN_TOKEN"] = served.tokens["foreign"]
            command += ["--foreign-server-id", served.servers["foreign"][0]]
        if plan.probes:
            command += ["--probe-write", served.probe_write, "--probe-read", served.probe_read]
        if plan.jobs is not None:
            command += ["--jobs", str(plan.jobs)]
        with (plan.report_root / f"{name}.run.log").open("w") as log:
            started = time.monotonic()
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
            try:
                status: int | None = process.wait(plan.run_timeout_s)
            except subprocess.TimeoutExpired:
                status = None
            finally:
                _stop(process)
            wall = time.monotonic() - started
    report_path = report_dir / "report.json"
    report = json.loads(report_path.read_text()) if report_path.exists() else {}
    verdict = report.get("verdict") or ("timeout" if status is None else f"no report (exit {status})")
    return Measurement(
        profile=profile,
        scale=scale,
        wall_s=wall,
        exit_status=status,
        verdict=verdict,
        report_duration_s=report.get("duration_s"),
        judged=judged_of(report),
        report_dir=str(report_dir),
    )


def describe_measurement(m: Measurement) -> str:
    """One line per measured run."""
    text = f"  {m.profile:8} scale {m.scale:<6g} wall {m.wall_s:7.1f} s  {m.verdict}"
    return text + (f"  {m.judged}" if m.judged else "")


def describe_projection(p: Projection) -> str:
    """The fit, the projection at scale 1, its ratio to the 35-minute chain and the goal."""
    text = (
        f"  {p.profile:8} fixed {p.fit.fixed_s:7.1f} s  slope {p.fit.slope_s:9.1f} s/scale  "
        f"-> at scale 1: {p.minutes:6.1f} min  = {p.chain_ratio:.2f} x the {CHAIN_MINUTES:g}-min chain"
    )
    if p.goal_minutes is not None:
        text += f"  goal <= {p.goal_minutes:g} min: {'met' if p.goal_met else 'NOT met'}"
    if p.fit.points > 2:
        text += f"  (max residual {max(abs(r) for r in p.residuals_s):.1f} s over {p.fit.points} points)"
    return text


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", type=int, default=3, help="main-account servers to pass (default 3)")
    parser.add_argument(
        "--profile", action="append", choices=PROFILES, help="repeatable (default: standard and smoke)"
    )
    parser.add_argument(
        "--scale", action="append", type=float, help=f"time scale, repeatable (default {DEFAULT_SCALES})"
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs per scale (more points: least squares)")
    parser.add_argument("--jobs", type=int, help="passed to `vpsconform run --jobs` if it has that option")
    parser.add_argument(
        "--foreign", action="store_true", help="also pass the foreign account (TENANT checks)"
    )
    parser.add_argument("--probes", action="store_true", help="pass the data probes printed by serve (DATA)")
    parser.add_argument("--variant", action="append", default=[], help="passed to `vpsconform serve`")
    parser.add_argument(
        "--seed", type=int, default=1, help="seed of every run, so scales compare (default 1)"
    )
    parser.add_argument("--run-timeout", type=float, default=1800.0, help="seconds per run (default 1800)")
    parser.add_argument("--report-root", type=Path, help="default reports/benchmark-<UTC time>/")
    parser.add_argument("--json", type=Path, help="write the numbers to this file")
    args = parser.parse_args(argv)
    if args.servers < 1 or args.repeat < 1 or args.run_timeout <= 0:
        parser.error("--servers, --repeat and --run-timeout must be positive")
    args.profile = list(dict.fromkeys(args.profile or ("standard", "smoke")))
    args.scale = sorted(set(args.scale or DEFAULT_SCALES))
    if len(args.scale) < 2 or any(s <= 0 or s > 1000 for s in args.scale):
        parser.error("--scale needs two or more distinct values in (0, 1000]")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Measure every profile at every scale, fit, project, print, optionally write JSON; the exit status."""
    args = _arguments(argv)
    try:
        package = measured_package()
    except BenchmarkError as exc:
        print(f"benchmark: error: {exc}", file=sys.stderr)
        return exc.code
    jobs_supported = run_supports_jobs()
    if args.jobs is not None and not jobs_supported:
        print(f"note: `vpsconform run` has no --jobs in this checkout: --jobs {args.jobs} not passed")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    plan = Plan(
        servers=args.servers,
        foreign=args.foreign,
        probes=args.probes,
        jobs=args.jobs if jobs_supported else None,
        seed=args.seed,
        run_timeout_s=args.run_timeout,
        variants=tuple(args.variant),
        report_root=args.report_root or Path("reports") / f"benchmark-{stamp}",
    )
    load = os.getloadavg()
    print(
        f"benchmark: profiles {', '.join(args.profile)}  scales {', '.join(f'{s:g}' for s in args.scale)}"
        f" x{args.repeat}  servers {plan.servers}  foreign {'on' if plan.foreign else 'off'}"
        f"  probes {'on' if plan.probes else 'off'}  jobs {plan.jobs if plan.jobs is not None else '-'}"
        f" (run --jobs {'available' if jobs_supported else 'absent'})"
        f"  variants {', '.join(plan.variants) or '-'}"
        f"  seed {plan.seed}  cpus {os.cpu_count()}  load {load[0]:.2f}",
        flush=True,
    )
    print(f"measuring vpsconform from {package}; reports under {plan.report_root}/", flush=True)
    measurements: list[Measurement] = []
    projections: list[Projection] = []
    status = EXIT_OK
    try:
        for profile in args.profile:
            for index in range(args.repeat):
                for scale in args.scale:
                    m = measure(plan, profile, scale, index)
                    measurements.append(m)
                    print(describe_measurement(m), flush=True)
                    if not m.completed:
                        status = EXIT_INCOMPLETE
            points = [(m.scale, m.wall_s) for m in measurements if m.profile == profile and m.completed]
            if len({scale for scale, _ in points}) >= 2:
                projections.append(project(profile, points))
            else:
                print(f"  {profile}: too few completed runs to fit a line", flush=True)
    except BenchmarkError as exc:
        print(f"benchmark: error: {exc}", file=sys.stderr)
        status = exc.code
    except KeyboardInterrupt:
        print("benchmark: interrupted", file=sys.stderr)
        status = 130
    if projections:
        print("projection to the production clock (scale 1):")
        for p in projections:
            print(describe_projection(p))
    if any(not m.completed for m in measurements):
        print("note: some runs did not complete (see their .run.log) and were left out of the fit")
    if args.json:
        payload = {
            "created": stamp,
            "plan": {**asdict(plan), "report_root": str(plan.report_root), "jobs_supported": jobs_supported},
            "machine": {"cpus": os.cpu_count(), "load_start": load, "load_end": os.getloadavg()},
            "chain_minutes": CHAIN_MINUTES,
            "measurements": [asdict(m) for m in measurements],
            "projections": [asdict(p) for p in projections],
        }
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
        print(f"numbers written to {args.json}")
    return status


if __name__ == "__main__":
    sys.exit(main())
