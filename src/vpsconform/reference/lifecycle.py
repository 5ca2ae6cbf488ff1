"""Durations and sizes of the snapshot and restore lifecycles, in documented minutes."""

from __future__ import annotations

from vpsconform.reference.options import TargetOptions

# (largest disk in GB, create minutes, restore minutes): bigger servers take longer, always strictly
# inside the documented 3-10 minutes for a create and 5-15 minutes for a restore.
_TIERS: tuple[tuple[int, float, float], ...] = ((25, 3.0, 5.0), (50, 5.0, 8.0), (80, 7.5, 11.0))
_LARGEST: tuple[float, float] = (9.0, 14.0)
_SLOW: tuple[float, float] = (9.5, 14.0)
# What the time-slow-* faults take instead: past the documented 10 and 15 minutes.
_TOO_SLOW: tuple[float, float] = (12.0, 18.0)


def _tier(disk_gb: int, options: TargetOptions) -> tuple[float, float]:
    """Create and restore minutes for a server of `disk_gb`."""
    if options.variant("slow-but-inside"):
        return _SLOW
    for largest, create, restore in _TIERS:
        if disk_gb <= largest:
            return create, restore
    return _LARGEST


def create_minutes(disk_gb: int, options: TargetOptions) -> float:
    """How long a snapshot of a server of `disk_gb` stays in_progress."""
    if options.fault("time-slow-create"):
        return _TOO_SLOW[0]
    return _tier(disk_gb, options)[0]


def restore_minutes(disk_gb: int, options: TargetOptions) -> float:
    """How long a server of `disk_gb` stays restoring."""
    if options.fault("time-slow-restore"):
        return _TOO_SLOW[1]
    return _tier(disk_gb, options)[1]


def snapshot_size_mb(disk_gb: int, snapshot_id: int) -> int:
    """Deterministic size of a completed snapshot: about a fifth of the disk, varying per snapshot."""
    return disk_gb * 1024 // 5 + (snapshot_id * 37) % 512
