"""Run one cycle and record its end, whatever happens inside it."""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from driftd.config import Config, ModelConfig
from driftd.cycle.cache import SummaryCache
from driftd.cycle.flow import steps
from driftd.cycle.result import CycleResult, summary
from driftd.errors import DriftdError, RegistryBusyError
from driftd.log import event
from driftd.registry.store import Registry
from driftd.text import escape

T = TypeVar("T")


def run_cycle(
    cfg: Config,
    model: ModelConfig,
    registry: Registry,
    now: datetime,
    *,
    cache: SummaryCache | None = None,
    trigger: str = "schedule",
    status: Callable[[str], None] = lambda _: None,
    stop: threading.Event | None = None,
    notify: Callable[[CycleResult, datetime], None] | None = None,
) -> CycleResult:
    """Run one cycle and record it (:func:`_run_recorded`), then hand the result to ``notify``
    (:meth:`driftd.alerts.Dispatcher.cycle_done`): after the run's last transaction committed,
    so a notification never announces what the registry does not hold. Never raises."""
    result = _run_recorded(
        cfg, model, registry, now, cache=cache, trigger=trigger, status=status, stop=stop
    )
    if notify is not None:
        try:
            notify(result, now)
        except Exception as exc:  # a notification must never fail the cycle
            event("notification.error", logging.ERROR, model=model.name, error=repr(exc))
    return result


def _run_recorded(
    cfg: Config,
    model: ModelConfig,
    registry: Registry,
    now: datetime,
    *,
    cache: SummaryCache | None = None,
    trigger: str = "schedule",
    status: Callable[[str], None] = lambda _: None,
    stop: threading.Event | None = None,
) -> CycleResult:
    """Run one cycle and record it. Never raises for a failure inside the cycle.

    When the registry itself refuses writes (disk full, read-only, a file-size limit), the
    failure is logged as one ``cycle.unrecorded`` line; a run it could not even start has
    ``run_id`` 0, one it could not finish stays 'running' until the next start-up sweep. A write
    refused only because another process held the lock is retried first (:func:`_retry`).
    """
    try:
        _retry(lambda: registry.ensure_model(model.name), model.name)
        run_id = _retry(lambda: registry.start_run(model.name, trigger, now), model.name)
    except DriftdError as exc:
        error = f"cannot record the run: {_first_line(exc)}"
        event("cycle.unrecorded", logging.ERROR, model=model.name, error=error)
        return CycleResult(0, model.name, "failed", error=error)
    event("cycle.start", model=model.name, run=run_id, now=now.isoformat(), trigger=trigger)
    try:
        result = steps(cfg, model, registry, now, run_id, cache or SummaryCache(), status, stop)
    except DriftdError as exc:
        error = _first_line(exc)
        event("cycle.failed", logging.ERROR, model=model.name, run=run_id, error=error)
        _finish(registry, model, run_id, "failed", error=error)
        return CycleResult(run_id, model.name, "failed", error=error)
    except OSError as exc:  # the environment, not a bug: a full or read-only disk
        error = f"{exc.filename}: {exc.strerror}" if exc.filename else _first_line(exc)
        event("cycle.failed", logging.ERROR, model=model.name, run=run_id, error=error)
        _finish(registry, model, run_id, "failed", error=error)
        return CycleResult(run_id, model.name, "failed", error=error)
    except Exception as exc:  # a bug or a foreign error: record it, keep the daemon alive
        error = f"internal error: {type(exc).__name__}: {exc}".splitlines()[0]
        # The message may carry data values: escaped like every other log line.
        lines = (escape(line, 10_000) for line in traceback.format_exc().splitlines())
        logging.getLogger("driftd").error("%s\n%s", escape(error), "\n".join(lines))
        _finish(registry, model, run_id, "failed", error=error)
        return CycleResult(run_id, model.name, "failed", error=error)
    if not _finish(
        registry,
        model,
        run_id,
        result.status,
        verdict=str(result.report.verdict) if result.report else None,
        error=result.error,
        summary=summary(result),
    ):
        return result
    event(
        "cycle.done",
        model=model.name,
        run=run_id,
        status=result.status,
        verdict=result.report.verdict if result.report else None,
        decision=result.decision.action if result.decision else None,
        version=result.version_id,
    )
    return result


def _finish(
    registry: Registry, model: ModelConfig, run_id: int, status: str, **fields: Any
) -> bool:
    """Close the run; False (and one log line) when the registry refuses the write."""
    try:
        _retry(lambda: registry.finish_run(run_id, status, **fields), model.name)
    except DriftdError as exc:
        error = f"cannot record the end of the run ({status}): {_first_line(exc)}"
        event("cycle.unrecorded", logging.ERROR, model=model.name, run=run_id, error=error)
        return False
    return True


RETRY_DELAYS = (1.0, 2.0, 4.0, 8.0)  # seconds between attempts; about a minute of waiting in all


def _retry(write: Callable[[], T], model: str) -> T:
    """``write()``, again after a pause while it fails only because the lock was busy.

    Each attempt already waited ``busy_timeout`` (10 s) inside SQLite, so four retries give a
    ``driftd gc`` or ``driftd promote`` in another process about a minute before the run is given
    up, and every retry is logged: a check is never dropped without a line saying so.
    """
    for delay in RETRY_DELAYS:
        try:
            return write()
        except RegistryBusyError as exc:
            event("registry.retry", logging.WARNING, model=model, in_s=delay, error=str(exc))
            time.sleep(delay)
    return write()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
