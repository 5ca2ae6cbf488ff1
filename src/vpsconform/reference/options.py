"""Options of a reference target: time scale, faithful variants and injected faults."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from vpsconform.reference.faults import FAULTS
from vpsconform.reference.variants import VARIANTS


def _names(kind: str, given: Iterable[str], known: Mapping[str, object]) -> frozenset[str]:
    """Freeze `given` and reject names missing from the `known` registry."""
    if isinstance(given, str):
        raise ValueError(f"{kind} must be a collection of names, not the string {given!r}")
    names = frozenset(given)
    unknown = sorted(names - known.keys())
    if unknown:
        choices = ", ".join(sorted(known)) or "(none defined)"
        raise ValueError(f"unknown {kind}: {', '.join(unknown)}; known {kind}: {choices}")
    return names


@dataclass(frozen=True)
class TargetOptions:
    """How a reference target behaves; 1.0 is production time, 0.01 makes a documented minute last 0.6 s."""

    time_scale: float = 1.0
    variants: frozenset[str] = field(default_factory=frozenset)
    faults: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if isinstance(self.time_scale, bool) or not isinstance(self.time_scale, int | float):
            raise ValueError(f"time_scale must be a number, not {self.time_scale!r}")
        if not math.isfinite(self.time_scale) or self.time_scale <= 0:
            raise ValueError(f"time_scale must be a positive finite number, not {self.time_scale!r}")
        object.__setattr__(self, "time_scale", float(self.time_scale))
        object.__setattr__(self, "variants", _names("variants", self.variants, VARIANTS))
        object.__setattr__(self, "faults", _names("faults", self.faults, FAULTS))

    def variant(self, name: str) -> bool:
        """Whether variant `name` is on; a name missing from the registry is a programming error."""
        if name not in VARIANTS:
            raise KeyError(f"no such variant: {name}")
        return name in self.variants

    def fault(self, name: str) -> bool:
        """Whether fault `name` is injected; a name missing from the registry is a programming error."""
        if name not in FAULTS:
            raise KeyError(f"no such fault: {name}")
        return name in self.faults
