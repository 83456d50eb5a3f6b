"""Fan events out to the configured targets without ever blocking or failing the caller.

In the daemon (``background=True``) events go into a bounded queue that one thread drains: a
cycle only enqueues, however slow a webhook is. A full queue drops the event (logged and
recorded), and :meth:`Dispatcher.close` drains the queue at shutdown until a deadline, then
abandons the rest (logged). One-shot commands (``driftd check``, ``promote``, ``rollback``)
deliver in the calling thread, each target bounded by its timeout and retries, since the
process is about to exit. Every outcome is logged (``notification.delivered`` or
``notification.failed``) and recorded in the registry's ``deliveries`` table.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from driftd.alerts import record
from driftd.alerts.deliver import BACKOFF_S, Outcome, deliver
from driftd.alerts.events import Event, from_result
from driftd.alerts.targets import Target, configured, wanting
from driftd.errors import DriftdError
from driftd.log import event as log_event
from driftd.registry.store import Registry

# Pending deliveries the daemon holds. Each event makes one per matching target; a burst of
# 200 models drifting at once with two targets each stays within it, a dead webhook for hours
# does not grow memory without limit.
QUEUE_SIZE = 1000
# How long shutdown waits for pending deliveries: after the cycles' own STOP_GRACE_SECONDS
# (20 s), 35 s in all, within the shipped unit's TimeoutStopSec=45s.
DRAIN_SECONDS = 15.0

_Item = tuple[Target, Event]


class Dispatcher:
    """Delivers events to the targets of ``config()`` (called per event, so a reload applies)."""

    def __init__(
        self,
        config: Callable[[], Any],
        registry: Registry | Path,
        *,
        background: bool,
        backoff: float = BACKOFF_S,
        queue_size: int = QUEUE_SIZE,
    ) -> None:
        self._config = config
        self._registry = registry if isinstance(registry, Registry) else None
        self._path = registry.path if isinstance(registry, Registry) else Path(registry)
        self._owned: Registry | None = None
        self._backoff = backoff
        self._stop = threading.Event()
        self._queue: queue.Queue[_Item | None] | None = None
        self._thread: threading.Thread | None = None
        if background:
            self._queue = queue.Queue(maxsize=queue_size)
            # A daemon thread: a delivery stuck past the drain deadline must not hold the exit.
            self._thread = threading.Thread(target=self._drain, name="driftd-notify", daemon=True)
            self._thread.start()

    def emit(self, ev: Event) -> None:
        """Deliver ``ev`` to every target that wants it. Never raises."""
        try:
            targets = wanting(configured(self._config(), ev.model), ev.event)
        except Exception as exc:  # a bug here must not cost the cycle
            log_event("notification.error", logging.ERROR, event=ev.event, error=repr(exc))
            return
        for target in targets:
            if self._queue is None:
                self._send(target, ev)
                continue
            try:
                self._queue.put_nowait((target, ev))
            except queue.Full:
                self._done(target, ev, Outcome(False, 0, "dropped: notification queue full"))

    def cycle_done(self, result: Any, now: datetime) -> None:
        """The events of a finished cycle (a :class:`driftd.cycle.CycleResult`). Never raises."""
        try:
            decision = None
            if result.decision is not None and result.run_id:
                decision = record.decision_of_run(self._path, result.run_id)
            events = from_result(result, now, decision)
        except Exception as exc:
            log_event("notification.error", logging.ERROR, model=result.model, error=repr(exc))
            return
        for ev in events:
            self.emit(ev)

    def close(self, deadline: float = DRAIN_SECONDS) -> None:
        """Deliver what is pending until ``deadline`` seconds pass, then give up on the rest."""
        if self._queue is not None and self._thread is not None:
            end = time.monotonic() + deadline
            with contextlib.suppress(queue.Full):
                self._queue.put(None, timeout=deadline)
            self._thread.join(max(0.0, end - time.monotonic()))
            self._stop.set()  # cut short any backoff wait; the attempt under way has its timeout
            left = 0
            while True:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is not None:
                    left += 1
            if left or self._thread.is_alive():
                log_event(
                    "notification.abandoned",
                    logging.WARNING,
                    pending=left,
                    reason="driftd stopping",
                )
        if self._owned is not None:
            self._owned.close()
            self._owned = None

    def _drain(self) -> None:
        assert self._queue is not None
        while True:
            item = self._queue.get()
            if item is None:
                return
            if self._stop.is_set():
                continue
            self._send(*item)

    def _send(self, target: Target, ev: Event) -> None:
        try:
            outcome = deliver(target, ev, stop=self._stop, backoff=self._backoff)
        except Exception as exc:  # deliver never raises by design; a bug must not kill the thread
            outcome = Outcome(False, 1, f"internal error: {type(exc).__name__}: {exc}")
        self._done(target, ev, outcome)

    def _done(self, target: Target, ev: Event, outcome: Outcome) -> None:
        where = target.describe()
        log_event(
            "notification.delivered" if outcome.ok else "notification.failed",
            logging.INFO if outcome.ok else logging.WARNING,
            event=ev.event,
            model=ev.model,
            run=ev.run_id,
            target=where,
            attempts=outcome.attempts,
            error=outcome.error,
        )
        try:
            record.record(self._writer(), ev, where, outcome)
        except DriftdError as exc:
            log_event("notification.unrecorded", logging.WARNING, target=where, error=str(exc))
        except Exception as exc:
            log_event("notification.unrecorded", logging.ERROR, target=where, error=repr(exc))

    def _writer(self) -> Registry:
        if self._registry is not None:
            return self._registry
        if self._owned is None:
            self._owned = Registry.open(self._path, create=False)
        return self._owned
