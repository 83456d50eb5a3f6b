"""Plain-text rendering for people: aligned tables and compact numbers. Stdlib only.

>>> print(table([{"a": 1, "b": "x"}, {"a": 22, "b": None}], ["a", "b"]))
a   b
--  -
1   x
22  -

Text for a terminal is escaped by :mod:`driftd.text` (the CLI passes whole results through
:func:`~driftd.text.terminal_safe` before rendering them); JSON output is exact.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any


def cell(value: Any) -> str:
    """One value as table text: floats to 4 significant digits, None as '-'.

    >>> cell(0.000012345), cell(3.0), cell(None), cell(True)
    ('1.234e-05', '3', '-', 'yes')
    """
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return f"{value:.4g}"
    if isinstance(value, list | tuple):
        return ",".join(cell(v) for v in value) or "-"
    return str(value).replace("\n", " ")


def table(
    rows: Iterable[Mapping[str, Any]],
    columns: Sequence[str],
    headers: Sequence[str] | None = None,
) -> str:
    """Left-aligned columns separated by two spaces, with a dashed rule under the header."""
    heads = list(headers or columns)
    body = [[cell(r.get(c)) for c in columns] for r in rows]
    widths = [max([len(h)] + [len(b[i]) for b in body]) for i, h in enumerate(heads)]
    lines = [_line(heads, widths), _line(["-" * w for w in widths], widths)]
    lines += [_line(b, widths) for b in body]
    return "\n".join(lines)


def _line(cells: Sequence[str], widths: Sequence[int]) -> str:
    return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()


def to_json(value: Any) -> str:
    """JSON for machines: NaN/inf become null so the output is always valid JSON."""
    return json.dumps(_clean(value), indent=2, sort_keys=False, allow_nan=False, default=str)


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def result_dict(result: Any) -> dict[str, Any]:
    return {
        "model": result.model,
        "run_id": result.run_id,
        "status": result.status,
        "verdict": str(result.report.verdict) if result.report else None,
        "drift_reason": result.report.reason if result.report else None,
        "retrain_reason": result.retrain_reason or None,
        "version_id": result.version_id,
        "decision": str(result.decision.action) if result.decision else None,
        "decision_reason": result.decision.reason if result.decision else None,
        "evaluation": result.evaluation.to_dict() if result.evaluation else None,
        "error": result.error,
        "features": [f.to_dict() for f in result.report.features] if result.report else [],
        "extra": [f.to_dict() for f in result.report.extra] if result.report else [],
    }


def result_text(r: dict[str, Any]) -> str:
    lines = [f"{r['model']}: run {r['run_id']} {r['status']}"]
    if r["verdict"]:
        lines.append(f"  drift     {r['verdict']} - {r['drift_reason']}")
    lines += extra_lines(r.get("extra") or [], width=10)
    if r["retrain_reason"]:
        lines.append(f"  policy    {r['retrain_reason']}")
    if r["decision"]:
        lines.append(f"  decision  {r['decision']} {r['version_id']}: {r['decision_reason']}")
    if r["error"]:
        lines.append(f"  error     {r['error']}")
    return "\n".join(lines)


_WORST = {"drift": 0, "invalid": 1, "insufficient_data": 2, "ok": 3}


def extra_lines(rows: Sequence[Mapping[str, Any]], width: int = 10) -> list[str]:
    """One line per extra check (``prediction``, ``multivariate``, ``performance``): its worst
    state, and the row that shows it (the largest effect among equals).

    >>> rows = [dict(feature="prediction:p(class=a)", state="ok", effect=0.01, detail="x"),
    ...         dict(feature="prediction:p(class=b)", state="drift", effect=0.3, detail="y")]
    >>> extra_lines(rows, width=12)
    ['  prediction  drift  p(class=b): y (+1 more)']
    """
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        groups.setdefault(str(row["feature"]).partition(":")[0], []).append(row)
    lines = []
    for scope, items in groups.items():
        worst = min(items, key=lambda r: (_WORST.get(str(r["state"]), 9), -(r.get("effect") or 0)))
        name = str(worst["feature"]).partition(":")[2]
        more = f" (+{len(items) - 1} more)" if len(items) > 1 and scope == "prediction" else ""
        label = f"{scope:<{width}}" if len(scope) < width else f"{scope} "
        detail = cell(worst.get("detail"))
        said = detail if detail.startswith(name) else f"{name}: {detail}"  # performance:roc_auc
        lines.append(f"  {label}{worst['state']}  {said}{more}")
    return lines


def next_check(when: str, now: datetime) -> str:
    """The heartbeat's next run of a model, as the report's overview and ``driftd status`` show it.

    The heartbeat (every 5 s) may predate the check just done: its "next run" is then that
    check, so a time not after ``now`` is said to be due (a busy worker pool delays a run too)
    rather than shown bare, as if a check were missed.

    >>> from datetime import UTC
    >>> now = datetime(2026, 1, 2, tzinfo=UTC)
    >>> next_check("2026-01-03T00:00:00+00:00", now)
    '2026-01-03T00:00:00+00:00'
    >>> next_check("2026-01-01T00:00:00+00:00", now)
    '2026-01-01T00:00:00+00:00 (due, or just run)'
    """
    try:
        at = datetime.fromisoformat(when.replace("Z", "+00:00"))
    except ValueError:
        return when
    if at.tzinfo is None or at > now:
        return when
    return f"{when} (due, or just run)"
