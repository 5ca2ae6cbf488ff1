"""badge.svg: a shields-style badge, "vpsconform | conformant 69/69", coloured by the run's verdict.

The figures are MUST requirements judged of those in scope; a reduced scope says how many were out of it,
so a smoke run's badge never reads like a full one. Drawn by anybadge (a maintained badge library: text
widths measured from font metrics, which a hand-made template would have to guess).
"""

from __future__ import annotations

from typing import Any

import anybadge  # type: ignore[import-untyped]

LABEL = "vpsconform"
#: Colours by run verdict (shields' palette): pass green, incomplete orange, fail red, error grey.
COLOURS = {"conformant": "#44cc11", "nonconformant": "#e05d44", "incomplete": "#fe7d37", "error": "#9f9f9f"}


def badge_value(report: dict[str, Any]) -> str:
    """The badge's right half: verdict, judged/in scope, and what was out of scope if anything."""
    scope = report.get("scope") or {}
    value = f"{report['verdict']} {scope.get('judged', 0)}/{scope.get('must_in_scope', 0)}"
    out = int(scope.get("must_total", 0)) - int(scope.get("must_in_scope", 0))
    return f"{value}, {out} out of scope" if out > 0 else value


def badge_svg(report: dict[str, Any]) -> str:
    """The SVG text of the run's badge."""
    badge = anybadge.Badge(
        label=LABEL, value=badge_value(report), default_color=COLOURS.get(report["verdict"], COLOURS["error"])
    )
    return str(badge.badge_svg_text)
