"""Durations and sizes of the snapshot and restore lifecycles, in documented minutes."""

from __future__ import annotations

from vpsconform.reference.options import TargetOptions

# (largest disk in GB, create minutes, restore minutes): bigger servers take longer, always strictly
# inside the documented 3-10 minutes for a create and 5-15 minutes for a restore.
_TIERS: tuple[tuple[int, float, float], ...] = ((25, 3.0, 5.0), (50, 5.0, 8.0), (80, 7.5, 11.0))
_LARGEST: tuple[float, float] = (9.0, 14.0)
_SLOW: tuple[float, float] = (9.5, 14.0)


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
    return _tier(disk_gb, options)[0]


def restore_minutes(disk_gb: int, options: TargetOptions) -> float:
    """How long a server of `disk_gb` stays restoring."""
    return _tier(disk_gb, options)[1]


def snapshot_size_mb(disk_gb: int, snapshot_id: int) -> int:
    """Deterministic size of a completed snapshot: about a fifth of the disk, varying per snapshot."""
    return disk_gb * 1024 // 5 + (snapshot_id * 37) % 512
