"""What every command shares: loading the config, printing a result, reading ``--now``.

It lives here rather than in ``cli.py`` so that command modules never import the module that
imports them: ``cli`` builds the parser from :mod:`driftd.commands`, and both use these.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from driftd import config as config_mod
from driftd import render
from driftd.config import Config, NameChecks
from driftd.errors import DriftdError
from driftd.text import terminal_safe

# Data times are held as nanoseconds since 1970 (pandas), which end in 1677 and 2262.
NOW_RANGE = (datetime(1678, 1, 1, tzinfo=UTC), datetime(2262, 1, 1, tzinfo=UTC))


def name_checks() -> NameChecks:
    """The full checks: importing scikit-learn to confirm estimator and scorer names exist."""
    from driftd import api

    return api.name_checks()


def load_config(args: argparse.Namespace, *, full: bool = False, registry: bool = True) -> Config:
    """The loaded config; with ``registry``, its registry path is refused unless it is a
    regular file (or absent), before SQLite opens it and blames the disk."""
    path = config_mod.resolve_config_path(getattr(args, "config", None))
    cfg = config_mod.load(path, name_checks() if full else None)
    if registry:
        require_registry_file(cfg.registry)
    return cfg


def require_registry_file(path: Path) -> None:
    from driftd.registry.connection import require_regular

    require_regular(path)


def config_path(args: argparse.Namespace) -> str:
    return str(config_mod.resolve_config_path(getattr(args, "config", None)))


def emit(args: argparse.Namespace, data: Any, text: Callable[[Any], str]) -> None:
    """``data`` as exact JSON with ``--json``; else ``text`` of it with every string escaped."""
    print(render.to_json(data) if getattr(args, "json", False) else text(terminal_safe(data)))


def parse_now(text: str, option: str = "--now") -> datetime:
    """An ISO-8601 time as an aware datetime inside the range data times can take.

    A clock outside :data:`NOW_RANGE`, or at the calendar's edge where ``now - window``
    underflows, is refused, naming ``option``.
    """
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise DriftdError(f"{option}: not an ISO-8601 timestamp (got {text!r})") from None
    value = value if value.tzinfo else value.replace(tzinfo=UTC)
    try:
        inside = NOW_RANGE[0] <= value <= NOW_RANGE[1]
    except OverflowError:  # an offset that moves year 1 or 9999 off the calendar in UTC
        inside = False
    if not inside:
        first, last = (f"{d:%Y-%m-%d}" for d in NOW_RANGE)
        raise DriftdError(f"{option}: must be between {first} and {last} (got {text!r})")
    return value
