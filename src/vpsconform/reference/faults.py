"""Deliberate defects the target can be told to commit, so the suite can be shown to catch them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Fault:
    """A named defect, with the requirement ids it is expected to break."""

    name: str
    description: str
    breaks: tuple[str, ...]


FAULTS: dict[str, Fault] = {}
