"""Text for people about versions: ``driftd show``, ``driftd gc`` and ``driftd reproduce``.

Each function takes the plain dict its command prints with ``--json`` (so the JSON stays the
complete record) and lays it out as labelled sections and aligned tables. Stdlib only.

>>> print(size_text(1536), size_text(None))
1.5 KiB -
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from driftd.render import cell, table

_ENV_ORDER = ("python", "driftd", "numpy", "scipy", "pandas", "sklearn", "skops")


def size_text(size: Any) -> str:
    """Bytes for humans, binary units."""
    if not isinstance(size, int | float):
        return "-"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(value) < 1024 or unit == "GiB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"  # pragma: no cover - the loop always returns


def _section(title: str, pairs: Sequence[tuple[str, Any]]) -> list[str]:
    width = max(len(k) for k, _ in pairs)
    return [
        title,
        *(f"  {k.ljust(width)}  {v if isinstance(v, str) else cell(v)}" for k, v in pairs),
    ]


def _params(params: Mapping[str, Any] | None) -> str:
    if not params:
        return "(defaults)"
    return ", ".join(f"{k}={v!r}" if isinstance(v, str) else f"{k}={v}" for k, v in params.items())


def show_text(v: Mapping[str, Any]) -> str:
    """``driftd show VERSION``: identity, data, training, environment, artifact, evaluation."""
    spec: Mapping[str, Any] = v.get("spec") or {}
    lines = [f"{v['id']}  (model {v['model']}, version {v['number']})  status: {v['status']}"]
    lines += _section(
        "identity",
        [
            ("created", v["created_at"]),
            ("run", v.get("run_id")),
            ("trigger", spec.get("trigger") or "-"),
            ("clock", spec.get("now") or "-"),
            ("parent", v.get("parent_id") or "none (first model)"),
            ("lineage", " <- ".join(a["id"] for a in v.get("lineage") or []) or "-"),
            ("children", ", ".join(v.get("children") or []) or "-"),
        ],
    )
    lo, hi = v.get("data_time_min"), v.get("data_time_max")
    lines += _section(
        "data",
        [
            ("sha256", v["data_sha256"]),
            ("rows", v["data_rows"]),
            ("time range", f"{lo} .. {hi}" if lo or hi else "-"),
            ("reference", v.get("reference_sha256")),
            ("file", _data_file(v, spec)),
            ("features", ", ".join(v.get("features") or [])),
            ("target", spec.get("target") or "-"),
        ],
    )
    code = spec.get("code")
    code_text = f"{code['sha256']}  {code.get('path', '')}" if code else "none (driftd's pipeline)"
    lines += _section(
        "training",
        [
            ("estimator", v["estimator"]),
            ("params", _params(v.get("params"))),
            ("seed", v.get("seed")),
            ("code", code_text),
            ("duration", f"{v['training_seconds']:.1f} s" if v.get("training_seconds") else "-"),
            ("log", v.get("log_path")),
        ],
    )
    env: Mapping[str, Any] = v.get("environment") or {}
    keys = [k for k in _ENV_ORDER if k in env] + sorted(set(env) - set(_ENV_ORDER))
    lines += _section("environment", [(k, env[k]) for k in keys] or [("-", "not recorded")])
    deleted = v.get("artifact_deleted_at")
    lines += _section(
        "artifact",
        [
            ("path", v["artifact_path"]),
            ("size", size_text(v.get("artifact_size"))),
            ("sha256", v["artifact_sha256"]),
            ("deleted", f"yes, garbage-collected at {deleted}" if deleted else "no"),
        ],
    )
    holdout = spec.get("holdout")
    if isinstance(holdout, Mapping):
        lines += _section(
            "holdout",
            [
                ("window", f"({holdout.get('start')}, {holdout.get('end')}]"),
                ("rows", holdout.get("rows")),
                ("sha256", holdout.get("sha256")),
                *([("trained on", "yes: this is a refit")] if holdout.get("trained_on") else []),
            ],
        )
    refit_of = spec.get("refit_of")
    if isinstance(refit_of, Mapping):
        lines += _section(
            "refit",
            [
                ("of", refit_of.get("version")),
                ("evaluated sha256", refit_of.get("artifact_sha256")),
                ("evaluated rows", refit_of.get("rows")),
                ("refit sha256", v["artifact_sha256"]),
                ("refit rows", v["data_rows"]),
                ("metrics", "the evaluated candidate's, on the holdout"),
            ],
        )
    metrics = v.get("metrics") or {}
    if metrics:
        lines += _section("metrics", list(metrics.items()))
    for e in v.get("evaluations") or []:
        lines += ["", *evaluation_text(e, v["id"])]
    decisions = v.get("decisions") or []
    if decisions:
        lines += ["", "decisions"]
        lines += _indent(table(decisions, ["id", "created_at", "action", "actor", "reason"]))
    periods = v.get("champion_periods") or []
    if periods:
        lines += ["", "champion periods"]
        lines += _indent(table(periods, ["since", "until"]))
    return "\n".join(lines)


def evaluation_text(e: Mapping[str, Any], version_id: str) -> list[str]:
    """One evaluation as a heading and an aligned table, one row per metric."""
    role = "candidate" if e.get("candidate_id") == version_id else "champion"
    other = e["champion_id"] if role == "candidate" else e["candidate_id"]
    pct = f"{round(float(e['confidence']) * 100)}% " if e.get("confidence") else ""
    head = (
        f"evaluation {e.get('id')} ({e.get('created_at')}): as {role} against {other}, "
        f"{e.get('n_holdout')} holdout rows, {pct}intervals"
    )
    rows = []
    for c in e.get("comparisons") or []:
        interval = (
            f"[{cell(c.get('ci_low'))}, {cell(c.get('ci_high'))}]"
            if c.get("ci_low") is not None
            else "-"
        )
        rows.append(
            {
                **c,
                "interval": interval,
                "difference": _signed(c.get("difference")),
                "verdict": "pass" if c.get("passed") else "FAIL",
            }
        )
    cols = ["metric", "role", "champion", "candidate", "difference", "interval", "p_value"]
    cols += ["margin", "verdict"]
    heads = [*cols[:6], "p-value", "margin", "pass/fail"]
    body = table(rows, cols, heads) if rows else "  (no metrics compared)"
    return [head, *_indent(body)]


def gc_text(data: Mapping[str, Any]) -> str:
    """``driftd gc``: what was (or would be) removed, what was kept and why."""
    removed = data.get("removed") or []
    verb = "would remove" if data.get("dry_run") else "removed"
    lines: list[str] = []
    if removed:
        rows = [{**r, "size": size_text(r.get("bytes"))} for r in removed]
        cols = ["kind", "model", "version_id", "size", "path", "reason"]
        lines += [table(rows, cols, ["kind", "model", "version", "size", "path", "reason"]), ""]
    kept = data.get("kept") or []
    if kept:
        lines.append("kept: " + "; ".join(f"{k['version_id']} ({k['reason']})" for k in kept))
    lines.append(
        f"{verb} {len(removed)} item(s), {size_text(data.get('bytes', 0))}"
        + (" (dry run: nothing changed)" if data.get("dry_run") else "")
    )
    lines += [f"error: {e}" for e in data.get("errors") or []]
    return "\n".join(lines)


def reproduce_text(data: Mapping[str, Any]) -> str:
    """``driftd reproduce``: recorded versus reproduced metrics, then what differs."""
    tol = data["tolerance"]
    lines = [
        f"{data['version_id']}: retrained from {data['data_file']}",
        f"scored on the {data['scored_on']} ({data['rows_scored']} rows), tolerance {tol:g}",
        "",
    ]
    rows = [
        {**m, "difference": _signed(m.get("difference")), "verdict": "ok" if m["ok"] else "DIFF"}
        for m in data["metrics"]
    ]
    cols = ["metric", "recorded", "reproduced", "difference", "verdict"]
    lines += [table(rows, cols, ["metric", "recorded", "reproduced", "difference", "match"]), ""]
    out_diff = data.get("max_output_difference")
    art = data["artifact"]
    lines += _section(
        "artifact",
        [
            ("recorded", f"{art['recorded_sha256']}  {size_text(art['recorded_size'])}"),
            ("reproduced", f"{art['reproduced_sha256']}  {size_text(art['reproduced_size'])}"),
            ("outputs", "-" if out_diff is None else f"largest difference {out_diff:.3g}"),
        ],
    )
    for key, value in (data.get("differences") or {}).items():
        pairs = [
            (k, f"{d.get('recorded')} -> {d.get('now', d.get('config'))}")
            for k, d in (value.items() if "recorded" not in value else [(key, value)])
        ]
        lines += _section(f"differs: {key}", pairs)
    lines += [f"note: {n}" for n in data.get("notes") or []]
    verdict = "reproduced" if data["matches"] else "NOT reproduced"
    lines += ["", f"{verdict} within {tol:g}"]
    return "\n".join(lines)


def _signed(value: Any) -> Any:
    return f"{value:+.4g}" if isinstance(value, float) else value


def _indent(text: str) -> list[str]:
    return ["  " + line for line in text.splitlines()]


def _data_file(v: Mapping[str, Any], spec: Mapping[str, Any]) -> str:
    import os

    name = spec.get("data_file") or "-"
    path = os.path.join(os.path.dirname(str(v["artifact_path"])), name)
    return f"{path} (removed)" if v.get("artifact_deleted_at") else path
