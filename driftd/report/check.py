"""One check in the report: its sortable feature table and, per feature, its plots.

Rows are ``feature_drift`` rows as dicts (:mod:`driftd.registry.reports`, or
``FeatureDrift.to_dict()`` for ``driftd drift --html``); summaries are those of
:mod:`driftd.report.summarize`. Every cell carries its raw value in ``data-v`` for sorting.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from driftd.report import charts
from driftd.report.svg import esc, fmt

COLUMNS = (
    ("feature", "feature"),
    ("state", "state"),
    ("test", "test"),
    ("p_value", "p-value"),
    ("p_adjusted", "corrected p"),
    ("effect_name", "effect"),
    ("effect", "value"),
    ("threshold", "threshold"),
    ("missing_ref", "missing ref"),
    ("missing_live", "missing live"),
    ("new_category_mass", "new categories"),
    ("detail", "detail"),
)
_STATE_ORDER = {"drift": 0, "invalid": 1, "insufficient_data": 2, "ok": 3}


def cell(value: Any, shown: str | None = None, cls: str = "") -> str:
    """A ``<td>`` with the raw value in ``data-v`` (numbers sort as numbers, text as text)."""
    raw = "" if value is None else str(value)
    attr = f' class="{cls}"' if cls else ""
    return f'<td data-v="{esc(raw)}"{attr}>{esc(raw if shown is None else shown)}</td>'


def _share(value: Any) -> str:
    return "-" if value is None else f"{float(value):.1%}"


def feature_table(rows: Sequence[Mapping[str, Any]], anchors: Mapping[str, str]) -> str:
    """The sortable table of a check's features, drifted ones first."""
    head = "".join(f'<th title="sort">{esc(title)}</th>' for _, title in COLUMNS)
    body = []
    for row in sorted(rows, key=lambda r: (_STATE_ORDER.get(str(r["state"]), 9), r["feature"])):
        name = str(row["feature"])
        state = str(row["state"])
        cells = [
            f'<td data-v="{esc(name)}"><a href="#{anchors[name]}">{esc(name)}</a></td>'
            if name in anchors
            else cell(name),
            cell(state, cls=f"s-{state}" if state in _STATE_ORDER else ""),
            cell(row.get("test")),
            cell(row.get("p_value"), fmt(row.get("p_value"))),
            cell(row.get("p_adjusted"), fmt(row.get("p_adjusted"))),
            cell(row.get("effect_name")),
            cell(row.get("effect"), fmt(row.get("effect"))),
            cell(row.get("threshold"), fmt(row.get("threshold"))),
            cell(row.get("missing_ref"), _share(row.get("missing_ref"))),
            cell(row.get("missing_live"), _share(row.get("missing_live"))),
            cell(row.get("new_category_mass"), _share(row.get("new_category_mass"))),
            cell(row.get("detail"), cls="detail"),
        ]
        body.append(f"<tr>{''.join(cells)}</tr>")
    return (
        f'<table class="sortable features"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def plot(summary: Mapping[str, Any] | None, name: str) -> str:
    """The reference-vs-live chart of one feature, or why there is none."""
    if summary is None:
        return '<p class="muted">no summary stored for this check</p>'
    if summary.get("kind") == "categorical":
        return charts.bars(summary, name)
    return charts.distribution(summary, name)


def feature_cards(
    rows: Sequence[Mapping[str, Any]],
    summaries: Mapping[str, Mapping[str, Any]],
    anchors: Mapping[str, str],
    timelines: Mapping[str, str],
) -> str:
    """Per feature: its state and effect, its distribution plot and its timeline."""
    cards = []
    for row in sorted(rows, key=lambda r: (_STATE_ORDER.get(str(r["state"]), 9), r["feature"])):
        name = str(row["feature"])
        state = str(row["state"])
        line = (
            f"{row.get('test')}: {row.get('effect_name')} {fmt(row.get('effect'))} "
            f"(threshold {fmt(row.get('threshold'))}), corrected p {fmt(row.get('p_adjusted'))}"
        )
        detail = str(row.get("detail") or "")
        cards.append(
            f'<section class="card" id="{anchors[name]}">'
            f'<h4>{esc(name)} <span class="s-{state if state in _STATE_ORDER else "x"}">'
            f"{esc(state)}</span></h4>"
            f'<p class="muted">{esc(line)}{"; " + esc(detail) if detail else ""}</p>'
            f'<div class="plots"><figure class="dist" data-feature="{esc(name)}">'
            f"{plot(summaries.get(name), name)}</figure>"
            f"{timelines.get(name, '')}</div></section>"
        )
    return "".join(cards)


def check_section(
    check: Mapping[str, Any], prefix: str, timelines: Mapping[str, str] | None = None
) -> str:
    """A check's heading, its feature table and its feature cards."""
    rows = list(check.get("features") or [])
    anchors = {str(r["feature"]): f"{prefix}-f{i}" for i, r in enumerate(rows)}
    verdict = str(check.get("verdict") or "")
    drifted = check.get("drifted_share")
    share = (
        ""
        if drifted is None
        else f"; {float(drifted):.0%} of weighted features drifted "
        f"(threshold {fmt(check.get('share_threshold'))})"
    )
    where = f"run {check['run_id']} at {check['at']}" if check.get("run_id") else ""
    return (
        f'<h3>Check {esc(where)} <span class="s-{esc(verdict)}">{esc(verdict)}</span></h3>'
        f"<p>{esc(check.get('reason') or '')}{esc(share)}; "
        f"{esc(check.get('n_ref'))} reference rows, {esc(check.get('n_live'))} live rows</p>"
        f"{feature_table(rows, anchors)}"
        f"<h3>Features</h3>"
        f"{feature_cards(rows, check.get('summaries') or {}, anchors, timelines or {})}"
    )
