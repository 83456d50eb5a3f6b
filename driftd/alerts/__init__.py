"""Notifications: events (drift, retrain, promote, ...) delivered to commands and webhooks.

Not :mod:`driftd.notify`, which speaks systemd's sd_notify protocol. Stdlib only.
"""

from driftd.alerts.dispatch import DRAIN_SECONDS, Dispatcher
from driftd.alerts.events import EVENTS, Event, decision_event, make

__all__ = ["DRAIN_SECONDS", "EVENTS", "Dispatcher", "Event", "decision_event", "make"]
