"""The shape of an injected fault: its name, what it does, and the requirements it breaks."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Fault:
    """A named defect, with the requirement ids it is expected to break.

    `keeps_snapshots`: the target keeps (or keeps listing) snapshots the suite deleted, so no run against it
    can end with nothing left; the kill matrix then does not hold leftovers against the suite.
    `shows_in`: areas whose scenarios make the defect show, beyond those of the requirements it breaks (a
    snapshot that regresses after a restore shows only where restores happen); its kill-matrix cell runs them.
    """

    name: str
    description: str
    breaks: tuple[str, ...]
    keeps_snapshots: bool = False
    shows_in: tuple[str, ...] = ()
