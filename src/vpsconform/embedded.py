"""The embedded default target: the reference implementation, started on a free loopback port."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from vpsconform.config import EMBEDDED_TIME_SCALE, RunConfig
from vpsconform.reference.options import TargetOptions
from vpsconform.reference.server import RunningTarget, start

__all__ = ["EMBEDDED_TIME_SCALE", "STATS_ENV", "start_embedded"]
#: Env var naming a file the target writes its counters to when it stops (read by the kill matrix).
STATS_ENV = "VPSCONFORM_REFERENCE_STATS"


def start_embedded(
    time_scale: float = EMBEDDED_TIME_SCALE, faults: Iterable[str] = (), variants: Iterable[str] = ()
) -> tuple[RunningTarget, RunConfig]:
    """Start the reference target and describe it as a RunConfig (accounts, servers, probes, clock).

    The main account's customer servers (pre-existing data) are deliberately left out of the configuration.
    """
    options = TargetOptions(time_scale=time_scale, faults=frozenset(faults), variants=frozenset(variants))
    stats_file = os.environ.get(STATS_ENV)
    target = start(options, stats_path=Path(stats_file) if stats_file else None)
    main, foreign = target.accounts[0], target.accounts[1]
    config = RunConfig(
        target=target.url,
        token=main.token,
        server_ids=tuple(main.server_ids),
        foreign_token=foreign.token,
        foreign_server_ids=tuple(foreign.server_ids),
        time_scale=time_scale,
        probe_write=target.probe_write_command,
        probe_read=target.probe_read_command,
        max_rps=0.0,
        embedded=True,
    )
    return target, config
