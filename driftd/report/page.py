"""The whole report as one self-contained HTML document: inline CSS, inline SVG, and a few
lines of inline JavaScript that sort tables. Nothing is fetched: a Content-Security-Policy
forbids every network load and allows only this page's own script (by its hash), so the file
opens from disk, offline, inside the service's sandbox, and a name in the data cannot run code.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from driftd.report import charts, check, timelines
from driftd.report.svg import esc, fmt

# `content-visibility: auto` on the feature cards: the browser lays out and paints only those
# on screen, so 100 cards of charts cost little more to open than ten.
CSS = """
body{font:13px/1.4 system-ui,sans-serif;margin:16px 24px;color:#1f2328;background:#fff}
h1{font-size:20px}h2{font-size:17px;border-bottom:1px solid #d0d7de;padding-bottom:4px}
h3{font-size:15px}h4{font-size:13px;margin:0 0 2px}
table{border-collapse:collapse;margin:6px 0 12px}td,th{padding:2px 8px;border-bottom:1px solid
#eaeef2;text-align:left;vertical-align:top}th{background:#f6f8fa}
table.sortable th{cursor:pointer}table.sortable th:after{content:" \\2195";color:#8c959f}
td.detail{max-width:360px}.muted{color:#57606a;margin:0 0 4px}
.s-drift,.s-invalid,.s-failed{color:#d1242f;font-weight:600}.s-ok{color:#1a7f37}
.s-insufficient_data{color:#9a6700}.card{border:1px solid #d0d7de;border-radius:6px;
padding:6px 10px;margin:8px 0;content-visibility:auto;contain-intrinsic-size:auto 240px}
.plots{display:flex;flex-wrap:wrap;gap:8px}figure{margin:0}
dl{display:grid;grid-template-columns:max-content auto;gap:2px 12px}dt{color:#57606a}dd{margin:0}
"""
SCRIPT = (
    'document.querySelectorAll("table.sortable th").forEach(function(th){'
    'th.addEventListener("click",function(){var t=th.closest("table"),b=t.tBodies[0],'
    'i=th.cellIndex,d=th.dataset.dir==="asc"?-1:1;th.dataset.dir=d>0?"asc":"desc";'
    "Array.from(b.rows).sort(function(x,y){var a=x.cells[i].dataset.v,c=y.cells[i].dataset.v,"
    "p=parseFloat(a),q=parseFloat(c);if(!isNaN(p)&&!isNaN(q))return(p-q)*d;"
    "if(isNaN(p)!==isNaN(q))return isNaN(p)?1:-1;return a.localeCompare(c)*d})"
    ".forEach(function(r){b.appendChild(r)})})})"
)
_SCRIPT_HASH = base64.b64encode(hashlib.sha256(SCRIPT.encode()).digest()).decode()
CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    f"script-src 'sha256-{_SCRIPT_HASH}'"
)


@dataclass(frozen=True, slots=True)
class ModelPage:
    """What one model's part of the report is drawn from."""

    data: Mapping[str, Any]  # driftd.registry.reports.model_report
    status: Mapping[str, Any] | None = None  # this model's entry of queries.status()["models"]
    next_run: str | None = None  # from the daemon's heartbeat


def document(title: str, body: str, generated: str) -> str:
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body>"
        f'<h1>{esc(title)}</h1><p class="muted">generated {esc(generated)}</p>'
        f"{body}<script>{SCRIPT}</script></body></html>\n"
    )


def render(pages: Sequence[ModelPage], *, generated: str, title: str = "driftd report") -> str:
    """The report of every model in ``pages``."""
    index = "".join(
        f'<li><a href="#m{i}">{esc(p.data["model"])}</a></li>' for i, p in enumerate(pages)
    )
    body = f"<ul>{index}</ul>" if len(pages) > 1 else ""
    body += "".join(model_section(p, f"m{i}") for i, p in enumerate(pages))
    if not pages:
        body = "<p>No model has been checked yet.</p>"
    return document(title, body, generated)


def model_section(page: ModelPage, prefix: str) -> str:
    data = page.data
    selected = data.get("selected")
    parts = [
        f'<section id="{prefix}"><h2>Model {esc(data["model"])}</h2>',
        overview(page),
        "<h3>Dataset over the checks</h3>",
        f"<figure>{timelines.dataset_timeline(data)}</figure>",
    ]
    if selected is None:
        parts.append("<p>No check recorded yet.</p>")
    else:
        parts.append(check.check_section(selected, prefix, timelines.feature_timelines(data)))
    parts += [decisions(data), "</section>"]
    return "".join(parts)


def _age(seconds: Any) -> str:
    if seconds is None:
        return "-"
    s = int(float(seconds))
    return (
        f"{s // 86400}d {s % 86400 // 3600}h" if s >= 86400 else f"{s // 3600}h {s % 3600 // 60}m"
    )


def _row(name: str, value: str) -> str:
    return f"<dt>{esc(name)}</dt><dd>{value}</dd>"


def overview(page: ModelPage) -> str:
    """Champion and age, last verdict, estimated and realised performance, next check."""
    status = page.status or {}
    champ = status.get("champion")
    last = status.get("last_check")
    rows = [
        _row(
            "champion",
            "none"
            if not champ
            else f"{esc(champ['id'])} since {esc(champ['since'])} "
            f"(age {esc(_age(champ.get('age_s')))})",
        ),
        _row(
            "last verdict",
            "never checked"
            if not last
            else f'<span class="s-{esc(last["verdict"])}">{esc(last["verdict"])}</span> at '
            f"{esc(last['at'])}: {esc(last.get('reason') or '')}",
        ),
    ]
    for est in (last or {}).get("estimated") or []:
        band = "" if est.get("low") is None else f" [{fmt(est['low'])}, {fmt(est['high'])}]"
        rows.append(
            _row(
                f"estimated {est.get('metric')}",
                f"{esc(fmt(est.get('value')))}{esc(band)} vs reference "
                f"{esc(fmt(est.get('reference')))} ({esc(est.get('state'))})",
            )
        )
    for extra in (last or {}).get("extra") or []:
        if str(extra.get("feature", "")).startswith("performance:"):
            rows.append(
                _row(
                    f"realised {str(extra['feature']).split(':', 1)[1]}",
                    f"drop {esc(fmt(extra.get('effect')))} (max {esc(fmt(extra.get('threshold')))},"
                    f" {esc(extra.get('state'))}): {esc(extra.get('detail') or '')}",
                )
            )
    error = status.get("last_error")
    if error:
        rows.append(_row("last error", f"{esc(error['at'])}: {esc(error['error'])}"))
    rows.append(_row("next check", esc(page.next_run or "not scheduled by a running daemon")))
    recent = [
        f"{esc(d['at'])} {esc(d['action'])} {esc(d.get('version_id') or '')}: "
        f"{esc(d.get('reason') or '')}"
        for d in (page.data.get("decisions") or [])[:5]
    ]
    rows.append(_row("recent decisions", "<br>".join(recent) or "none"))
    return f"<dl>{''.join(rows)}</dl>"


def _primary(decision: Mapping[str, Any]) -> Mapping[str, Any] | None:
    evaluation = (decision.get("payload") or {}).get("evaluation") or {}
    comparisons = evaluation.get("comparisons") or []
    return comparisons[0] if comparisons else None


def decisions(data: Mapping[str, Any]) -> str:
    """Decisions, newest first, with the interval of the gain each promotion was judged on,
    and the champion periods."""
    rows = []
    for d in data.get("decisions") or []:
        c = _primary(d)
        gain = (
            ""
            if c is None
            else f"{esc(c.get('metric'))} {fmt(c.get('difference'))} "
            f"[{fmt(c.get('ci_low'))}, {fmt(c.get('ci_high'))}]"
        )
        svg = (
            ""
            if c is None
            else charts.interval(
                c.get("ci_low"), c.get("ci_high"), c.get("difference"), float(c.get("margin") or 0)
            )
        )
        rows.append(
            "<tr>"
            + check.cell(d["at"])
            + check.cell(d["action"])
            + check.cell(d.get("version_id") or "")
            + check.cell(d.get("actor"))
            + check.cell(d.get("reason"), cls="detail")
            + f'<td data-v="{esc(c.get("difference") if c else "")}">{gain}<br>{svg}</td></tr>'
        )
    periods = "".join(
        f"<tr>{check.cell(p['version_id'])}{check.cell(p['since'])}"
        f"{check.cell(p.get('until') or 'now')}</tr>"
        for p in data.get("periods") or []
    )
    return (
        "<h3>Decisions</h3>"
        '<table class="sortable"><thead><tr><th>at</th><th>action</th><th>version</th>'
        "<th>actor</th><th>reason</th><th>gain and interval</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
        '<h3>Champion periods</h3><table class="sortable"><thead><tr><th>version</th>'
        f"<th>since</th><th>until</th></tr></thead><tbody>{periods}</tbody></table>"
    )


def comparison(
    report: Mapping[str, Any], summaries: Mapping[str, Any], *, title: str, generated: str
) -> str:
    """``driftd drift --html``: one ad-hoc comparison of two files, no registry."""
    selected = {**report, "summaries": summaries, "run_id": None}
    return document(title, check.check_section(selected, "c"), generated)
