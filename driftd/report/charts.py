"""The report's charts as inline SVG, drawn from stored summaries: pure functions, text out.

- :func:`distribution`: a number's reference and live histograms on shared edges (as shares of
  each side's rows, so windows of different sizes compare) beside their ECDFs;
- :func:`bars`: a category's reference and live shares per level (with "other" and missing);
- :func:`timeline`: a value over the checks against its threshold, with retrain and promotion
  markers;
- :func:`interval`: a decision's confidence interval of the candidate's gain, with 0 marked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from driftd.report.svg import (
    DRIFT,
    INK,
    LIVE,
    PROMOTE,
    REFERENCE,
    RETRAIN,
    THRESHOLD,
    Scale,
    document,
    domain,
    esc,
    fmt,
    legend,
    line,
    num,
    path,
    polyline,
    short,
    text,
)

SIDES = (("reference", REFERENCE), ("live", LIVE))


def _shares(side: Mapping[str, Any]) -> list[float]:
    counts = [float(c) for c in side.get("counts") or []]
    total = sum(counts)
    return [c / total if total else 0.0 for c in counts]


def distribution(summary: Mapping[str, Any], label: str) -> str:
    """Histogram (left) and ECDF (right) of both sides of one numeric feature."""
    edges = [float(e) for e in summary.get("edges") or []]
    width, height, panel, top, bottom = 520.0, 150.0, 240.0, 18.0, 124.0
    if len(edges) < 2:
        body = text(10, 40, "no finite values on either side")
        return document(width, height, body, f"{label}: no values")
    shares = {name: _shares(summary.get(name) or {}) for name, _ in SIDES}
    x = Scale(edges[0], edges[-1], 36.0, 36.0 + panel - 16)
    y = Scale(0.0, max([0.0, *shares["reference"], *shares["live"]]) or 1.0, bottom, top)
    parts = [line(x.start, bottom, x.end, bottom, INK)]
    for name, colour in SIDES:
        points: list[tuple[float, float]] = []
        for i, share in enumerate(shares[name]):
            points += [(x(edges[i]), y(share)), (x(edges[i + 1]), y(share))]
        if not points:
            continue
        closed = [(points[0][0], bottom), *points, (points[-1][0], bottom)]
        # Reference filled, live as an outline on top: both stay readable where they overlap.
        filled = name == "reference"
        parts.append(
            path(
                polyline(closed),
                colour,
                fill=colour if filled else "none",
                extra=' fill-opacity="0.35"' if filled else "",
            )
        )
    parts += [
        text(x.start, bottom + 12, fmt(edges[0]), anchor="start"),
        text(x.end, bottom + 12, fmt(edges[-1]), anchor="end"),
        text(x.start - 4, top + 4, _pct(y.hi), anchor="end"),
        text(x.start, 11, "histogram (share of rows)"),
    ]
    # ECDF: cumulative share at each edge; the outer bins hold the tails, so it ends at 1.
    e = Scale(edges[0], edges[-1], 36.0 + panel + 20, width - 12)
    f = Scale(0.0, 1.0, bottom, top)
    parts.append(line(e.start, bottom, e.end, bottom, INK))
    for name, colour in SIDES:
        total, points = 0.0, [(e(edges[0]), f(0.0))]
        for i, share in enumerate(shares[name]):
            total += share
            points += [(e(edges[i + 1]), f(total))]
        if len(points) > 1:
            parts.append(path(polyline(points), colour))
    parts += [
        text(e.start, bottom + 12, fmt(edges[0])),
        text(e.end, bottom + 12, fmt(edges[-1]), anchor="end"),
        text(e.start, 11, "ECDF"),
        legend(e.start + 40, 11, [("reference", REFERENCE), ("live", LIVE)]),
    ]
    return document(width, height, "".join(parts), f"{label}: reference and live distributions")


def _pct(value: float) -> str:
    return f"{value:.0%}"


def bars(summary: Mapping[str, Any], label: str) -> str:
    """Horizontal bars of each level's share of rows on both sides (missing and other too)."""
    levels = [str(v) for v in summary.get("levels") or []]
    rows: list[tuple[str, dict[str, float]]] = []
    sides = {name: summary.get(name) or {} for name, _ in SIDES}
    totals = {name: float(s.get("n") or 0) for name, s in sides.items()}

    def share(name: str, count: Any) -> float:
        return float(count or 0) / totals[name] if totals[name] else 0.0

    counts = {n: list(s.get("counts") or [0] * len(levels)) for n, s in sides.items()}
    for i, level in enumerate(levels):
        rows.append((level, {n: share(n, c[i] if i < len(c) else 0) for n, c in counts.items()}))
    for key, name in (("other", "(other levels)"), ("missing", "(missing)")):
        values = {n: share(n, s.get(key)) for n, s in sides.items()}
        if any(values.values()):
            rows.append((name, values))
    step, left, width = 14.0, 150.0, 520.0
    height = 26.0 + step * max(1, len(rows))
    x = Scale(0.0, max([v for _, r in rows for v in r.values()] or [1.0]) or 1.0, left, width - 40)
    parts = [legend(left, 11, [("reference", REFERENCE), ("live", LIVE)])]
    for i, (level, values) in enumerate(rows):
        y0 = 20.0 + i * step
        new = values["reference"] == 0 and values["live"] > 0
        parts.append(
            f"<g><title>{esc(level)}: reference {_pct(values['reference'])}, "
            f"live {_pct(values['live'])}{' (new)' if new else ''}</title>"
            + text(left - 4, y0 + 10, short(level) + (" *" if new else ""), anchor="end")
        )
        for j, (name, colour) in enumerate(SIDES):
            w = x(values[name]) - left
            parts.append(
                f'<rect x="{num(left)}" y="{num(y0 + 1 + j * 6)}" width="{num(max(w, 0.5))}" '
                f'height="5" fill="{colour}"/>'
            )
        parts.append(text(x(max(values.values())) + 3, y0 + 10, _pct(values["live"]), size=9))
        parts.append("</g>")
    return document(width, height, "".join(parts), f"{label}: reference and live shares")


@dataclass(frozen=True, slots=True)
class Marker:
    """A moment on a timeline: a retrain (``kind`` "retrain") or a champion change."""

    at: float  # seconds since the epoch
    kind: str
    label: str


def timeline(
    times: Sequence[float],
    values: Sequence[float | None],
    thresholds: Sequence[float | None],
    drifted: Sequence[bool],
    markers: Sequence[Marker],
    label: str,
    *,
    width: float = 520.0,
    height: float = 122.0,
    series: str = "effect",
) -> str:
    """``values`` over ``times`` (one point per check) against ``thresholds``; drifted checks
    as red dots; markers as vertical lines (retrain dashed, promotion solid)."""
    left, right, top, bottom = 44.0, width - 8, 14.0, height - 30
    if not times:
        return document(width, height, text(10, 40, "no checks recorded"), f"{label}: empty")
    x = Scale(min(times), max(times), left, right)
    y = Scale(*domain([*values, *thresholds], zero=True), bottom, top)
    parts = [line(left, bottom, right, bottom, INK), line(left, top, left, bottom, INK)]
    for m in markers:
        if x.lo <= m.at <= x.hi:
            colour = RETRAIN if m.kind == "retrain" else PROMOTE
            dash = ' stroke-dasharray="3 2"' if m.kind == "retrain" else ""
            parts.append(
                f"<g><title>{esc(m.label)}</title>"
                + line(x(m.at), top, x(m.at), bottom, colour, dash + ' stroke-width="1.5"')
                + "</g>"
            )
    limit = [(x(t), y(v)) for t, v in zip(times, thresholds, strict=True) if v is not None]
    parts.append(path(polyline(limit), THRESHOLD, width=1, extra=' stroke-dasharray="4 3"'))
    points = [(x(t), y(v)) for t, v in zip(times, values, strict=True) if v is not None]
    parts.append(path(polyline(points), LIVE))
    for (t, v), hit in zip(zip(times, values, strict=True), drifted, strict=True):
        if hit and v is not None:
            parts.append(f'<circle cx="{num(x(t))}" cy="{num(y(v))}" r="2.5" fill="{DRIFT}"/>')
    parts += [
        text(left - 3, top + 4, fmt(y.hi), anchor="end"),
        text(left - 3, bottom, fmt(y.lo), anchor="end"),
        text(left, bottom + 11, _day(x.lo)),
        text(right, bottom + 11, _day(x.hi), anchor="end"),
        legend(left + 4, height - 3, [(series, LIVE), ("threshold", THRESHOLD)]),
        legend(left + 200, height - 3, [("retrain", RETRAIN), ("champion change", PROMOTE)]),
    ]
    return document(width, height, "".join(parts), f"{label}: over the checks")


def _day(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M")


def interval(low: float | None, high: float | None, point: float | None, margin: float) -> str:
    """A confidence interval ``[low, high]`` of the candidate's gain, 0 and the margin marked."""
    width, height = 160.0, 18.0
    if low is None or high is None:
        return ""
    x = Scale(*domain([low, high, point, margin], zero=True), 6.0, width - 6)
    parts = [
        line(x(0.0), 1, x(0.0), height - 1, INK),
        line(x(low), 9, x(high), 9, LIVE, ' stroke-width="3"'),
    ]
    if margin:
        parts.append(
            line(x(margin), 2, x(margin), height - 2, THRESHOLD, ' stroke-dasharray="2 2"')
        )
    if point is not None:
        parts.append(f'<circle cx="{num(x(point))}" cy="9" r="3" fill="{DRIFT}"/>')
    title = f"<title>gain {fmt(point)} in [{fmt(low)}, {fmt(high)}], margin {fmt(margin)}</title>"
    return document(width, height, title + "".join(parts), "confidence interval of the gain")
