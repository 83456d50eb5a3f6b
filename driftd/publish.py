"""The HTML report from the registry: built for ``driftd report``, and written after each check
to ``<report.dir>/<model>.html`` when the config sets ``[report] dir``."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from driftd import report
from driftd.config import Config
from driftd.log import event
from driftd.permissions import Access, make_dirs
from driftd.registry import queries, reports
from driftd.render import next_check
from driftd.report.page import ModelPage, render


def build(path: Path, models: Sequence[str] | None = None, run_id: int | None = None) -> str:
    """The report of ``models`` (default: every model in the registry) as one HTML document.

    ``run_id`` selects the check shown in full (with a single model); the latest otherwise.
    """
    names = list(models) if models is not None else reports.model_names(path)
    status = queries.status(path)
    by_name = {m["name"]: m for m in status["models"]}
    daemon: dict[str, Any] = status.get("daemon") or {}
    next_runs = (daemon.get("next_runs") or {}) if daemon.get("condition") == "alive" else {}
    now = datetime.now(UTC)
    pages = []
    for name in names:
        data = reports.model_report(path, name, run_id)
        if data is None:
            continue
        nxt = next_runs.get(name)
        pages.append(ModelPage(data, by_name.get(name), next_check(str(nxt), now) if nxt else None))
    title = f"driftd report: {names[0]}" if len(names) == 1 else "driftd report"
    generated = now.isoformat(timespec="seconds")
    return render(pages, generated=generated, title=title)


def after_check(cfg: Config, model: str) -> Path | None:
    """Write ``<report.dir>/<model>.html`` when ``report.dir`` is set; never raises (a report
    that cannot be written is one warning, never a failed cycle). Returns the path written."""
    directory = getattr(getattr(cfg, "report", None), "dir", None)
    if directory is None:
        return None
    target = Path(directory) / f"{model}.html"
    access = Access(cfg.group)
    try:
        make_dirs(Path(directory), access)
        report.write_atomic(target, build(cfg.registry, [model]), access.file_mode)
    except Exception as exc:  # whatever went wrong, the check itself is recorded and stands
        event("report.failed", logging.WARNING, model=model, path=str(target), error=str(exc))
        return None
    return target
