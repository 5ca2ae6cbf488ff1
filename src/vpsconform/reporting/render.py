"""Render a report.json document as report.html (offline, self-contained) and summary.md, with Jinja2."""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import jinja2
from markupsafe import Markup, escape

from vpsconform.reporting.model import VERDICTS, WINDOWS, area_of

#: What each run verdict means, in one sentence, for the header of every rendering.
MEANINGS = {
    "conformant": "No MUST requirement failed and every MUST requirement in scope was judged.",
    "nonconformant": "At least one MUST requirement failed.",
    "incomplete": "No MUST requirement failed, but some in scope could not be judged.",
    "error": "The run did not complete.",
}
_CHART = {"width": 1000, "left": 92, "right": 24, "top": 16, "row": 64, "axis": 36}


def _pretty_body(text: str | None) -> str:
    """A body as sent, with JSON indented for reading."""
    if not text:
        return ""
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        return text


def _headers(headers: dict[str, str] | None) -> str:
    """Headers one per line, as on the wire."""
    return "\n".join(f"{name}: {value}" for name, value in (headers or {}).items())


def request_text(exchange: dict[str, Any]) -> str:
    """An evidence request as read on the wire: request line, headers, then the body (JSON indented)."""
    request = exchange["request"]
    head = f"{request['method']} {request['url']}\n{_headers(request.get('headers'))}"
    body = _pretty_body(request.get("body"))
    return f"{head}\n\n{body}" if body else head


def response_text(exchange: dict[str, Any]) -> str:
    """An evidence response as read on the wire: status, headers, then the body (JSON indented)."""
    response = exchange["response"]
    head = f"{response['status']}\n{_headers(response.get('headers'))}"
    body = _pretty_body(response.get("body"))
    return f"{head}\n\n{body}" if body else head


def _when(value: str | None) -> str:
    """An ISO timestamp as ``2026-11-29 15:01:07 UTC``."""
    if not value:
        return "unknown"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    zone = "UTC" if moment.utcoffset() is not None and not moment.utcoffset() else moment.strftime("%z")
    return f"{moment:%Y-%m-%d %H:%M:%S} {zone}".strip()


def _duration(seconds: float | None) -> str:
    """Seconds as ``18.2 s`` or ``4 min 12 s``."""
    if seconds is None:
        return "unknown"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s"


def _md(value: Any) -> str:
    """Text safe in a Markdown table cell or line: no HTML, no pipes, no line breaks."""
    text = " ".join(str(value if value is not None else "").split())
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|")


def _code_spans(text: str) -> Markup:
    """Catalog text with its `backtick` spans as code (escaped first, so nothing else becomes markup)."""
    return Markup(re.sub(r"`([^`]+)`", r"<code>\1</code>", str(escape(text))))


def environment() -> jinja2.Environment:
    """The Jinja2 environment of all renderings: HTML autoescaped; absent optional keys render empty."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("vpsconform.reporting", "templates"),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        request_text=request_text,
        response_text=response_text,
        when=_when,
        duration=_duration,
        md=_md,
        code_spans=_code_spans,
    )
    env.globals.update(VERDICTS=VERDICTS, MEANINGS=MEANINGS)
    return env


def script_source(env: jinja2.Environment, name: str) -> tuple[str, str]:
    """A static script's text and the CSP source that allows exactly it."""
    assert env.loader is not None, "environment() always sets a loader"
    text = env.loader.get_source(env, name)[0]
    digest = base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")
    return text, f"'sha256-{digest}'"


def area_rows(requirements: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Requirements counted per area and verdict, with the percentages of a stacked bar."""
    areas: dict[str, dict[str, int]] = {}
    for entry in requirements:
        counts = areas.setdefault(entry.get("area") or area_of(entry["id"]), dict.fromkeys(VERDICTS, 0))
        counts[entry["verdict"]] += 1
    rows = []
    for area, counts in areas.items():
        total = sum(counts.values())
        segments = [(v, n, round(100 * n / total, 3)) for v, n in counts.items() if n]
        rows.append({"area": area, "counts": counts, "total": total, "segments": segments})
    return rows


def _placement(minutes: float, window: dict[str, float] | None, tolerance: float) -> str:
    """Where a measured duration falls relative to its documented window."""
    if window is None:
        return "unbounded"
    if minutes < window["min"]:
        return "early"
    if minutes <= window["max"]:
        return "inside"
    return "tolerated" if minutes <= window["max"] * (1 + tolerance) else "over"


def timing_chart(report: dict[str, Any]) -> dict[str, Any] | None:
    """The geometry of the SVG strip chart: one row per measurement kind, its window shaded, one dot each."""
    measurements = report.get("measurements") or []
    if not measurements:
        return None
    windows = report.get("windows") or WINDOWS
    tolerance = float(report.get("target", {}).get("timing_tolerance") or 0)
    known = [n for n in windows if any(m["name"] == n for m in measurements)]
    names = list(dict.fromkeys(known + [m["name"] for m in measurements]))
    longest = max(
        [m["minutes"] for m in measurements] + [w["max"] * (1 + tolerance) for w in windows.values()]
    )
    span = 5 * math.ceil((longest + 1) / 5)
    c = _CHART
    plot = c["width"] - c["left"] - c["right"]

    def x(minutes: float) -> float:
        return round(c["left"] + plot * min(minutes, span) / span, 1)

    rows = []
    for index, name in enumerate(names):
        top = c["top"] + index * c["row"]
        window = windows.get(name)
        own = [m for m in measurements if m["name"] == name]
        dots = []
        for number, m in enumerate(own):
            jitter = ((number * 7) % 5 - 2) * 6
            where = _placement(m["minutes"], window, tolerance)
            detail = ", ".join(f"{k} {v}" for k, v in m.items() if k not in ("name", "seconds", "minutes"))
            label = f"{name} {m['minutes']:g} min ({m['seconds']:g} s on the target's clock; {where}"
            dots.append(
                {
                    "x": x(m["minutes"]),
                    "y": top + c["row"] / 2 + jitter,
                    "placement": where,
                    "label": label + (f"; {detail})" if detail else ")"),
                }
            )
        band = None
        if window is not None:
            band = {
                "x": x(window["min"]),
                "width": round(x(window["max"]) - x(window["min"]), 1),
                "tolerance_width": round(x(window["max"] * (1 + tolerance)) - x(window["max"]), 1),
                "label": f"documented {window['min']:g} to {window['max']:g} min",
            }
        rows.append({"name": name, "top": top, "count": len(own), "band": band, "dots": dots})
    height = c["top"] + len(names) * c["row"]
    ticks = [{"x": x(t), "label": t} for t in range(0, span + 1, 5 if span <= 30 else 10)]
    return {
        **c,
        "height": height + c["axis"],
        "plot_bottom": height,
        "plot_right": c["width"] - c["right"],
        "ticks": ticks,
        "rows": rows,
        "tolerance": tolerance,
    }


def render_html(report: dict[str, Any]) -> str:
    """report.html: the whole report in one offline page."""
    env = environment()
    script, script_hash = script_source(env, "report.js")
    return env.get_template("report.html").render(
        report=report,
        areas=area_rows(report["requirements"]),
        chart=timing_chart(report),
        levels=sorted({e["level"] for e in report["requirements"]}),
        script=script,
        script_hash=script_hash,
    )


def render_summary(report: dict[str, Any]) -> str:
    """summary.md: verdict, areas, failures with their reproduction commands, unjudged MUSTs, cleanup."""
    return (
        environment()
        .get_template("summary.md")
        .render(report=report, areas=area_rows(report["requirements"]))
    )
