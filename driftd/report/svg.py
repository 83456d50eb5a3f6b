"""Small SVG building blocks for the report's charts: scales, paths, axes, text. Stdlib only.

Every string that reaches the markup goes through :func:`esc`, and every number through
:func:`num` (one decimal: a tenth of a pixel is below what a screen shows, and it keeps each
chart a few kilobytes).

>>> num(3.14159), num(2.0), num(-0.04)
('3.1', '2', '0')
>>> esc('<b a="1">')
'&lt;b a=&quot;1&quot;&gt;'
>>> Scale(0.0, 10.0, 0.0, 100.0)(5.0)
50.0
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from driftd.text import escape as terminal_escape

REFERENCE = "#9aa5b1"  # grey: what the model was trained on
LIVE = "#1f6feb"  # blue: what it sees now
DRIFT = "#d1242f"
THRESHOLD = "#bc4c00"
RETRAIN = "#bf8700"
PROMOTE = "#1a7f37"
INK = "#57606a"
MAX_LABEL = 24  # characters of a category or feature name drawn in a chart; the rest in a tooltip


def esc(text: object) -> str:
    """Text safe inside HTML or SVG markup and attribute values (control characters shown)."""
    return html.escape(terminal_escape(str(text)), quote=True)


def num(value: float) -> str:
    """A coordinate with at most one decimal and no trailing zeros (``-0`` as ``0``)."""
    text = f"{value:.1f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def short(text: str, limit: int = MAX_LABEL) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def fmt(value: float | None, digits: int = 3) -> str:
    """A value as a person reads it: ``digits`` significant digits, '-' for none.

    >>> fmt(0.000123), fmt(12345.678), fmt(None), fmt(float("nan"))
    ('0.000123', '1.23e+04', '-', '-')
    """
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return f"{value:.{digits}g}"


@dataclass(frozen=True, slots=True)
class Scale:
    """A linear map from data ``[lo, hi]`` to pixels ``[start, end]``; a flat domain maps to
    the middle."""

    lo: float
    hi: float
    start: float
    end: float

    def __call__(self, value: float) -> float:
        if not self.hi > self.lo:
            return (self.start + self.end) / 2
        return self.start + (value - self.lo) / (self.hi - self.lo) * (self.end - self.start)


def domain(values: Iterable[float | None], *, zero: bool = False) -> tuple[float, float]:
    """The finite range of ``values`` (with 0 when ``zero``), padded when it is a point."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if zero:
        finite.append(0.0)
    if not finite:
        return 0.0, 1.0
    lo, hi = min(finite), max(finite)
    if hi > lo:
        return lo, hi
    pad = abs(lo) * 0.1 or 1.0
    return lo - pad, hi + pad


def polyline(points: Sequence[tuple[float, float]]) -> str:
    """An SVG path ``d`` through ``points`` (empty for none)."""
    if not points:
        return ""
    head, *rest = points
    return f"M{num(head[0])} {num(head[1])}" + "".join(f"L{num(x)} {num(y)}" for x, y in rest)


def path(d: str, stroke: str, *, width: float = 1.5, fill: str = "none", extra: str = "") -> str:
    if not d:
        return ""
    return f'<path d="{d}" stroke="{stroke}" stroke-width="{num(width)}" fill="{fill}"{extra}/>'


def text(x: float, y: float, content: str, *, anchor: str = "start", size: int = 10) -> str:
    return (
        f'<text x="{num(x)}" y="{num(y)}" font-size="{size}" text-anchor="{anchor}" '
        f'fill="{INK}">{esc(content)}</text>'
    )


def line(x1: float, y1: float, x2: float, y2: float, stroke: str, extra: str = "") -> str:
    return (
        f'<line x1="{num(x1)}" y1="{num(y1)}" x2="{num(x2)}" y2="{num(y2)}" '
        f'stroke="{stroke}"{extra}/>'
    )


def document(width: float, height: float, body: str, label: str) -> str:
    """An inline ``<svg>`` of the given size; ``label`` names it for screen readers."""
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{num(width)}" height="{num(height)}" '
        f'viewBox="0 0 {num(width)} {num(height)}" role="img" aria-label="{esc(label)}">'
        f"{body}</svg>"
    )


def legend(x: float, y: float, items: Sequence[tuple[str, str]]) -> str:
    """Colour swatches with their names, left to right from (x, y)."""
    out = []
    for name, colour in items:
        out.append(f'<rect x="{num(x)}" y="{num(y - 8)}" width="10" height="8" fill="{colour}"/>')
        out.append(text(x + 13, y, name))
        x += 18 + 6 * len(name)
    return "".join(out)
