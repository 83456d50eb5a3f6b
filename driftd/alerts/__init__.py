"""Notifications: events (drift, retrain, promote, ...) delivered to commands and webhooks.

Not :mod:`driftd.notify`, which speaks systemd's sd_notify protocol. Stdlib only.

The names below load on first use (PEP 562): ``driftd status`` reads the last failed delivery
through :mod:`driftd.alerts.record` and must not pay for urllib and the dispatcher's thread.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from driftd.alerts.dispatch import DRAIN_SECONDS, Dispatcher
    from driftd.alerts.events import EVENTS, Event, decision_event, make

__all__ = ["DRAIN_SECONDS", "EVENTS", "Dispatcher", "Event", "decision_event", "make"]

_HOMES = {
    "DRAIN_SECONDS": "dispatch",
    "Dispatcher": "dispatch",
    "EVENTS": "events",
    "Event": "events",
    "decision_event": "events",
    "make": "events",
}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'driftd.alerts' has no attribute {name!r}")
    return getattr(importlib.import_module(f"driftd.alerts.{_HOMES[name]}"), name)
