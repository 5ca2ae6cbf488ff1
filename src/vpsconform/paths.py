"""Where the spec and the suites live: bundled inside an installed wheel, or in the source checkout."""

from __future__ import annotations

from pathlib import Path


def project_dir(name: str) -> Path:
    """The bundled copy of top-level directory ``name`` if this is a wheel install, else the checkout's."""
    bundled = Path(__file__).parent / "_bundled" / name
    return bundled if bundled.is_dir() else Path(__file__).resolve().parents[2] / name


SPEC_DIR = project_dir("spec")
SUITES_DIR = project_dir("suites")
