"""Logging to stderr, one event per line as ``event key=value ...``.

Under systemd (``JOURNAL_STREAM`` set) lines carry no timestamp: journald adds its own.
Values are quoted when they contain spaces, so ``grep model=churn`` and ``awk`` both work.

>>> format_fields("check", {"model": "churn", "verdict": "drift", "reason": "2 of 3"})
'check model=churn verdict=drift reason="2 of 3"'
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from typing import Any

from driftd.text import escape

LOGGER_NAME = "driftd"


def format_fields(event: str, fields: Mapping[str, Any]) -> str:
    parts = [event]
    for key, value in fields.items():
        if value is None:
            continue
        text = f"{value:.6g}" if isinstance(value, float) else str(value)
        # A newline or an ANSI escape in a value must not forge a line; journald splits lines
        # longer than 48 KiB (LineMax), so one value stays well below that.
        text = escape(text, limit=10_000)
        if not text or any(c in text for c in ' ="'):
            text = '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
        parts.append(f"{key}={text}")
    return " ".join(parts)


def setup(level: str = "info", environ: Mapping[str, str] = os.environ) -> logging.Logger:
    """Configure the driftd logger once; later calls only change the level."""
    logger = logging.getLogger(LOGGER_NAME)
    logger.setLevel(level.upper())
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        if environ.get("JOURNAL_STREAM"):
            fmt = "%(levelname)s %(message)s"
        else:
            fmt = "%(asctime)s %(levelname)s %(message)s"
        handler.setFormatter(logging.Formatter(fmt, "%Y-%m-%dT%H:%M:%S%z"))
        logger.addHandler(handler)
        logger.propagate = False
        # APScheduler's warnings (a run skipped because the previous one is still busy, a job's
        # traceback) would otherwise reach stderr through logging's bare last-resort handler.
        scheduler_log = logging.getLogger("apscheduler")
        scheduler_log.setLevel(logging.WARNING)
        scheduler_log.addHandler(handler)
        scheduler_log.propagate = False
    return logger


def event(name: str, level: int = logging.INFO, **fields: Any) -> None:
    """Log one event line, e.g. ``event("check", model="churn", verdict="ok")``."""
    logger = logging.getLogger(LOGGER_NAME)
    if logger.isEnabledFor(level):
        logger.log(level, format_fields(name, fields))
