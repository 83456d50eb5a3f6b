"""``driftd report [--model NAME] [--out FILE] [--run ID]``: the HTML report, from the registry.

One self-contained file (inline CSS and SVG, a few lines of inline JavaScript that sort the
tables; nothing fetched), written atomically; ``--out -`` prints it. Without ``--model``, every
model of the config that the registry knows; ``--run`` shows that run's check in full instead
of the latest (with one model).
"""

from __future__ import annotations

import argparse
from typing import Any

from driftd.commands import Add, common

DEFAULT_OUT = "driftd-report.html"


def register(add: Add, as_json: argparse.ArgumentParser) -> None:
    p = add("report", cmd_report, "write the HTML report: overview, features, plots, timelines")
    p.add_argument("--model", help="only this model (default: every model)")
    p.add_argument(
        "--out", default=DEFAULT_OUT, help=f"the file to write, '-' for stdout ({DEFAULT_OUT})"
    )
    p.add_argument("--run", type=int, metavar="ID", help="show this run's check (default: latest)")


def cmd_report(args: argparse.Namespace) -> int:
    from driftd import report
    from driftd.errors import EXIT_OK, DriftdError
    from driftd.publish import build
    from driftd.registry import reports
    from driftd.text import escape

    cfg = common.load_config(args)
    if args.model:
        cfg.model(args.model)  # a name the config does not know is a typo
        models = [args.model]
    else:
        known = set(reports.model_names(cfg.registry))
        models = [m.name for m in cfg.models if m.name in known]
    if args.run is not None and len(models) != 1:
        raise DriftdError("--run needs --model when the config has more than one model")
    html = build(cfg.registry, models, args.run)
    report.write_atomic(args.out, html)
    if args.out != "-":
        print(escape(f"wrote {args.out} ({len(html.encode()):,} bytes, {len(models)} model(s))"))
    return EXIT_OK


def write_comparison(
    out: str, reference: Any, live: Any, kinds: Any, data: dict[str, Any], names: tuple[str, str]
) -> None:
    """``driftd drift --html FILE``: the comparison of two files as the report's check section.

    ``data`` is the ``DriftReport.to_dict()`` that ``driftd drift`` prints.
    """
    from datetime import UTC, datetime

    from driftd import report
    from driftd.report.page import comparison
    from driftd.report.summarize import summarize

    html = comparison(
        data,
        summarize(reference, live, kinds),
        title=f"driftd drift: {names[0]} vs {names[1]}",
        generated=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    report.write_atomic(out, html)
