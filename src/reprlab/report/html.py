"""Render a report document (``metrics.json``) as one self-contained static HTML page.

Inline CSS, figures embedded as ``data:`` URIs, curves as inline SVG: no CDN, no JavaScript, so
the page reads the same from a mail attachment as from a web server. Every number on the page is
a value of the document printed by :func:`format_value`, or text the document holds.
"""

from __future__ import annotations

import base64
import html
import math
from pathlib import Path
from typing import Any

_CSS = """
body{font:15px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d232a;background:#f6f7f9}
main{max-width:1100px;margin:0 auto;padding:24px}
h1{font-size:26px;margin:0 0 4px}h2{font-size:20px;margin:0 0 6px}h3{font-size:15px;margin:14px 0 6px}
section{background:#fff;border:1px solid #dde1e6;border-radius:8px;padding:16px 20px;margin:16px 0}
.status{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;margin-left:8px;vertical-align:middle}
.done,.complete{background:#dcf5e3;color:#10632d}.pending,.partial{background:#fff1cc;color:#7a5a00}
.skipped{background:#e8eaed;color:#444}.failed{background:#fde2e1;color:#9b1c1c}
table{border-collapse:collapse;margin:6px 0 10px;font-size:13px}td,th{border:1px solid #dde1e6;padding:3px 8px;text-align:left}
th{background:#f0f2f5}td.num{text-align:right;font-variant-numeric:tabular-nums}
.anchor th{background:#eef3ff}.summary{margin:4px 0 8px}.meta{color:#57606a;font-size:13px}
figure{display:inline-block;margin:6px 12px 6px 0;vertical-align:top}figcaption{font-size:12px;color:#57606a;max-width:520px}
img{max-width:520px;border:1px solid #dde1e6}pre{background:#f6f8fa;padding:8px;overflow-x:auto;font-size:12px}
svg{background:#fff;border:1px solid #dde1e6;margin:4px 12px 4px 0}
nav a{margin-right:10px;font-size:13px}
"""
_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")


def format_value(v: Any) -> str:
    """How the page prints a document value: ints with thousands commas, floats to 4 significant digits."""
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        if not math.isfinite(v):
            return str(v)
        return f"{v:.4g}"
    return str(v)


def _e(v: Any) -> str:
    return html.escape(format_value(v))


def _cell(v: Any) -> str:
    cls = ' class="num"' if isinstance(v, (int, float)) and not isinstance(v, bool) else ""
    return f"<td{cls}>{_e(v)}</td>"


def _table(t: dict[str, Any], css: str = "") -> str:
    head = "".join(f"<th>{_e(c)}</th>" for c in t.get("columns", []))
    body = "".join("<tr>" + "".join(_cell(v) for v in row) + "</tr>" for row in t.get("rows", []))
    title = f"<h3>{_e(t['title'])}</h3>" if t.get("title") else ""
    return f'{title}<table class="{css}"><tr>{head}</tr>{body}</table>'


def _anchors(anchors: list[dict[str, Any]]) -> str:
    if not anchors:
        return ""
    rows = [[a.get("what"), a.get("published"), a.get("source"), a.get("ours"), a.get("note")] for a in anchors]
    return _table({"title": "published anchor beside our number",
                   "columns": ["what", "published (anchor, not computed here)", "source", "ours (this run)",
                               "how ours differs"], "rows": rows}, "anchor")


def _svg_chart(chart: dict[str, Any], width: int = 480, height: int = 220) -> str:
    series = {k: [p for p in v if len(p) == 2] for k, v in chart.get("series", {}).items()}
    points = [p for v in series.values() for p in v]
    if not points:
        return ""
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    left, right, top, bottom = 60, 10, 24, 30
    sx = (width - left - right) / ((x1 - x0) or 1)
    sy = (height - top - bottom) / ((y1 - y0) or 1)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
             f'aria-label="{_e(chart["title"])}">',
             f'<text x="{left}" y="15" font-size="13" font-weight="600">{_e(chart["title"])}</text>',
             f'<line x1="{left}" y1="{height - bottom}" x2="{width - right}" y2="{height - bottom}" stroke="#999"/>',
             f'<line x1="{left}" y1="{top}" x2="{left}" y2="{height - bottom}" stroke="#999"/>',
             f'<text x="{left - 4}" y="{top + 4}" font-size="11" text-anchor="end">{_e(y1)}</text>',
             f'<text x="{left - 4}" y="{height - bottom}" font-size="11" text-anchor="end">{_e(y0)}</text>',
             f'<text x="{left}" y="{height - 12}" font-size="11">{_e(x0)}</text>',
             f'<text x="{width - right}" y="{height - 12}" font-size="11" text-anchor="end">{_e(x1)}</text>']
    for i, (name, pts) in enumerate(series.items()):
        color = _COLORS[i % len(_COLORS)]
        coords = " ".join(f"{left + (x - x0) * sx:.1f},{height - bottom - (y - y0) * sy:.1f}" for x, y in pts)
        if len(pts) == 1:
            cx, cy = coords.split(",")
            parts.append(f'<circle cx="{cx}" cy="{cy}" r="3" fill="{color}"/>')
        else:
            parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="1.5" points="{coords}"/>')
        parts.append(f'<text x="{width - right - 4}" y="{top + 14 * (i + 1)}" font-size="11" text-anchor="end" '
                     f'fill="{color}">{_e(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _figure(fig: dict[str, Any], base_dir: Path) -> str:
    path = base_dir / fig["path"]
    try:
        data = base64.b64encode(path.read_bytes()).decode("ascii")
    except OSError:
        return f'<p class="meta">figure not written (yet): {_e(fig["path"])}</p>'
    mime = "image/svg+xml" if path.suffix == ".svg" else "image/png"
    return (f'<figure><img src="data:{mime};base64,{data}" alt="{_e(fig.get("caption", ""))}">'
            f'<figcaption>{_e(fig.get("caption", ""))}</figcaption></figure>')


def _section(s: dict[str, Any], base_dir: Path) -> str:
    out = [f'<section id="{html.escape(s["id"])}" data-stage="{html.escape(s["id"])}">',
           f'<h2>{_e(s["title"])}<span class="status {html.escape(s["status"])}">{_e(s["status"])}</span></h2>']
    if s.get("seconds") is not None:
        out.append(f'<p class="meta">wall time {_e(s["seconds"])} s</p>')
    if s.get("summary"):
        out.append(f'<p class="summary">{_e(s["summary"])}</p>')
    out.append(_anchors(s.get("anchors", [])))
    out += [_table(t) for t in s.get("tables", [])]
    if s.get("curves"):
        out.append("<div>" + "".join(_svg_chart(c) for c in s["curves"]) + "</div>")
    out += [f"<h3>{_e(t['title'])}</h3><pre>{_e(t['body'])}</pre>" for t in s.get("text", [])]
    if s.get("figures"):
        out.append("<div>" + "".join(_figure(f, base_dir) for f in s["figures"]) + "</div>")
    out.append("</section>")
    return "".join(out)


def render_html(doc: dict[str, Any], base_dir: str | Path) -> str:
    """The page of ``doc``; figure paths in ``doc`` are relative to ``base_dir`` (the run directory)."""
    base_dir = Path(base_dir)
    sections = doc.get("sections", [])
    nav = "".join(f'<a href="#{html.escape(s["id"])}">{_e(s["title"])}</a>' for s in sections)
    env = {"title": "environment", "columns": ["", ""], "rows": [[k, v] for k, v in doc.get("environment", {}).items()]}
    wall = doc.get("wall_seconds")
    head = (f'<h1>{_e(doc.get("title", "reprlab report"))}<span class="status {html.escape(doc.get("status", ""))}">'
            f'{_e(doc.get("status", ""))}</span></h1><p class="meta">{_e(doc.get("status_note", ""))}</p>'
            + (f'<p class="meta">wall time {_e(wall)} s ({_e(doc.get("wall_note", ""))})</p>' if wall is not None
               else "")
            + f"<nav>{nav}</nav>")
    body = "".join(_section(s, base_dir) for s in sections)
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{_e(doc.get('title', 'reprlab report'))}</title><style>{_CSS}</style></head>"
            f"<body><main>{head}{body}<section id=\"environment\">{_table(env)}"
            "<p class=\"meta\">generated by reprlab report from metrics.json beside this page</p>"
            "</section></main></body></html>\n")


__all__ = ["format_value", "render_html"]
