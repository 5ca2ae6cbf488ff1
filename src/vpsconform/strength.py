"""The suite's published strength (the kill matrix score), read by reports and written by `selftest --record`.

Kept apart from the kill matrix so that reports never load the reference target.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from vpsconform.catalog import spec_hash
from vpsconform.errors import NotACheckout

STRENGTH_FILE = Path(__file__).with_name("strength.json")


def current_strength() -> dict[str, Any] | None:
    """The recorded kill score, marked stale when the requirement catalog changed since it was measured."""
    if not STRENGTH_FILE.is_file():
        return None
    record = json.loads(STRENGTH_FILE.read_text(encoding="utf-8"))
    record["stale"] = record.get("spec_hash") != spec_hash()
    return record


def source_checkout() -> Path | None:
    """The repository root when this package runs from a source checkout (src layout), else None."""
    package = Path(__file__).resolve().parent
    root = package.parent.parent
    if package.parent.name == "src" and (root / "pyproject.toml").is_file():
        return root
    return None


def ensure_recordable() -> None:
    """Raise NotACheckout (one line) unless STRENGTH_FILE belongs to a source checkout."""
    if source_checkout() is None:
        raise NotACheckout(
            f"--record writes the published strength into a source checkout; this vpsconform is installed "
            f"({STRENGTH_FILE.parent}), so run selftest from the repository (pip install -e .)"
        )


def publish(record: dict[str, Any]) -> Path:
    """Write `record` as the published strength of the source checkout; NotACheckout when installed."""
    ensure_recordable()
    STRENGTH_FILE.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return STRENGTH_FILE
