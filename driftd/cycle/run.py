"""Run one cycle and record its end, whatever happens inside it."""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable
from datetime import datetime
from typing import Any

from driftd.config import Config, ModelConfig
from driftd.cycle.cache import SummaryCache
from driftd.cycle.flow import steps
from driftd.cycle.result import CycleResult, summary
from driftd.errors import DriftdError
from driftd.log import event
from driftd.registry.store import Registry
from driftd.text import escape


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
) -> CycleResult:
    """Run one cycle and record it. Never raises for a failure inside the cycle.

    When the registry itself refuses writes (disk full, read-only, a file-size limit), the
    failure is logged as one ``cycle.unrecorded`` line; a run it could not even start has
    ``run_id`` 0, one it could not finish stays 'running' until the next start-up sweep.
    """
    try:
        registry.ensure_model(model.name)
        run_id = registry.start_run(model.name, trigger, now)
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
        registry.finish_run(run_id, status, **fields)
    except DriftdError as exc:
        error = f"cannot record the end of the run ({status}): {_first_line(exc)}"
        event("cycle.unrecorded", logging.ERROR, model=model.name, run=run_id, error=error)
        return False
    return True


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
