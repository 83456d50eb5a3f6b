"""``driftd run``: the scheduler, signals, the single-instance lock, sd_notify and the watchdog.

Threads: APScheduler's worker threads run the cycles (one worker per model, so a slow model never
delays another); the main thread only waits for signals, reloads the config, and pings the
systemd watchdog. We use a BackgroundScheduler rather than a BlockingScheduler so the main thread
stays free for that supervision: the watchdog is fed only while a heartbeat job proves that the
scheduler thread still fires jobs (APScheduler can lose that thread while ``running`` stays True).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import FrameType
from typing import Any

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from driftd import config as config_mod
from driftd import cycle, trainer
from driftd.config import Config, ModelConfig, NameChecks
from driftd.errors import ConfigError
from driftd.lock import InstanceLock
from driftd.log import event
from driftd.notify import Notifier
from driftd.registry import queries
from driftd.registry.store import Registry

HEARTBEAT_SECONDS = 5.0
STOP_GRACE_SECONDS = 20.0


@dataclass
class _State:
    cfg: Config
    stop: threading.Event = field(default_factory=threading.Event)
    reload: threading.Event = field(default_factory=threading.Event)
    last_beat: float = field(default_factory=time.monotonic)
    config_error: str | None = None
    job_errors: int = 0
    activity: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


def run(config_path: str, checks: NameChecks) -> int:
    """Run until SIGTERM/SIGINT; return the process exit code."""
    cfg = config_mod.load(config_path, checks)
    cfg.registry.parent.mkdir(parents=True, exist_ok=True, mode=0o750 if cfg.group else 0o700)
    lock = InstanceLock(cfg.registry.with_name(cfg.registry.name + ".lock"))
    lock.acquire()
    registry = Registry.open(cfg.registry, group_readable=cfg.group is not None)
    try:
        _sweep(cfg, registry)
        return _serve(config_path, checks, cfg, registry)
    finally:
        registry.close()
        lock.release()


def _sweep(cfg: Config, registry: Registry) -> None:
    stale = registry.interrupt_stale_runs("driftd stopped during this run (found at start-up)")
    removed = trainer.sweep_temp_files(cfg.artifacts) if cfg.artifacts.exists() else []
    event("startup.sweep", interrupted_runs=stale, temp_files_removed=len(removed))


def _serve(config_path: str, checks: NameChecks, cfg: Config, registry: Registry) -> int:
    state = _State(cfg)
    notifier = Notifier.from_env()
    cache = cycle.SummaryCache()
    scheduler = BackgroundScheduler(
        executors={"default": ThreadPoolExecutor(max_workers=max(2, len(cfg.models) + 1))},
        job_defaults={"coalesce": True, "max_instances": 1},
        timezone=UTC,
    )

    def on_job_event(ev: JobExecutionEvent) -> None:
        if ev.code == EVENT_JOB_ERROR:
            state.job_errors += 1
            event("job.error", logging.ERROR, job=ev.job_id, error=repr(ev.exception))
        else:
            event("job.missed", logging.WARNING, job=ev.job_id)

    scheduler.add_listener(on_job_event, EVENT_JOB_ERROR | EVENT_JOB_MISSED)

    def beat() -> None:
        state.last_beat = time.monotonic()
        with state.lock:
            activity = "; ".join(f"{k}: {v}" for k, v in sorted(state.activity.items()))
        next_runs = {
            job.id: job.next_run_time.astimezone(UTC).isoformat()
            for job in scheduler.get_jobs()
            if job.id != "_heartbeat" and job.next_run_time is not None
        }
        registry.beat(
            os.getpid(), activity or "idle", next_runs=next_runs, config_error=state.config_error
        )

    def job(name: str) -> None:
        model = state.cfg.model(name)

        def status(text: str) -> None:
            with state.lock:
                state.activity[name] = text
            notifier.status(text)

        try:
            result = cycle.run_cycle(
                state.cfg,
                model,
                registry,
                datetime.now(UTC),
                cache=cache,
                status=status,
                stop=state.stop,
            )
        finally:
            with state.lock:
                state.activity.pop(name, None)
        idle = f"{name}: last run {result.status}" + (f" ({result.error})" if result.error else "")
        notifier.status(idle)

    scheduler.add_job(
        beat,
        IntervalTrigger(seconds=HEARTBEAT_SECONDS),
        id="_heartbeat",
        next_run_time=datetime.now(UTC),
        misfire_grace_time=int(HEARTBEAT_SECONDS),
    )
    for model in cfg.models:
        _schedule(scheduler, registry, model, job)

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        if signum == signal.SIGHUP:
            state.reload.set()
        else:
            state.stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_signal)

    scheduler.start()
    notifier.ready(f"monitoring {len(cfg.models)} model(s)")
    event("daemon.ready", pid=os.getpid(), models=",".join(m.name for m in cfg.models))
    interval = notifier.watchdog_interval
    tick = min(1.0, interval or 1.0)
    while not state.stop.wait(tick):
        if state.reload.is_set():
            state.reload.clear()
            _reload(config_path, checks, state, scheduler, registry, notifier, job)
        # Feed the watchdog only while the heartbeat job proves the scheduler thread is alive.
        if interval and time.monotonic() - state.last_beat < 3 * HEARTBEAT_SECONDS:
            notifier.watchdog()

    return _shutdown(state, scheduler, registry, notifier)


def _schedule(scheduler: Any, registry: Registry, model: ModelConfig, job: Any) -> None:
    """Add (or replace) a model's job; its first run is computed from the last recorded run."""
    sched = model.schedule
    trigger: IntervalTrigger | CronTrigger
    if sched.every is not None:
        trigger = IntervalTrigger(
            seconds=sched.every.total_seconds(),
            jitter=int(sched.jitter.total_seconds()) if sched.jitter else None,
        )
    else:
        assert sched.cron is not None
        trigger = CronTrigger.from_crontab(sched.cron, timezone=UTC)
    scheduler.add_job(
        job,
        trigger,
        args=[model.name],
        id=model.name,
        name=f"check {model.name}",
        replace_existing=True,
        misfire_grace_time=max(1, int(sched.misfire_grace.total_seconds())),
        next_run_time=first_run(registry, model, datetime.now(UTC)),
    )


def first_run(registry: Registry, model: ModelConfig, now: datetime) -> datetime:
    """One catch-up run now if a run is overdue, else the next due time after the last run."""
    last = queries.last_run(registry.path, model.name)
    if last is None:
        return now
    started = datetime.fromisoformat(str(last["started_at"]).replace("Z", "+00:00"))
    sched = model.schedule
    if sched.every is not None:
        due = started + sched.every
    else:
        assert sched.cron is not None
        fire = CronTrigger.from_crontab(sched.cron, timezone=UTC).get_next_fire_time(None, started)
        due = fire if fire is not None else now
    return now if due <= now else due


def _reload(
    config_path: str,
    checks: NameChecks,
    state: _State,
    scheduler: Any,
    registry: Registry,
    notifier: Notifier,
    job: Any,
) -> None:
    notifier.reloading()
    try:
        new = config_mod.load(config_path, checks)
        if new.registry != state.cfg.registry:
            raise ConfigError(["registry: cannot change while running; restart driftd"])
    except ConfigError as exc:
        state.config_error = str(exc).replace("\n", "; ")
        event("reload.rejected", logging.ERROR, errors=state.config_error)
        notifier.ready(f"config reload rejected, keeping the old config: {state.config_error}")
        return
    old = {m.name: m for m in state.cfg.models}
    state.cfg = new
    state.config_error = None
    for name in old.keys() - {m.name for m in new.models}:
        scheduler.remove_job(name)
    for model in new.models:
        if old.get(model.name) != model:
            _schedule(scheduler, registry, model, job)
    event("reload.applied", models=",".join(m.name for m in new.models))
    notifier.ready(f"config reloaded; monitoring {len(new.models)} model(s)")


def _shutdown(state: _State, scheduler: Any, registry: Registry, notifier: Notifier) -> int:
    notifier.stopping()
    event("daemon.stopping", pid=os.getpid())
    scheduler.shutdown(wait=False)
    killed = trainer.terminate_all()
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    busy = [t for t in threading.enumerate() if t.name.startswith("ThreadPoolExecutor")]
    for thread in busy:
        thread.join(max(0.0, deadline - time.monotonic()))
    count = registry.interrupt_stale_runs("driftd was stopped during this run")
    event("daemon.stopped", interrupted_runs=count, trainings_killed=killed)
    if any(t.is_alive() for t in busy):
        # A cycle stuck in a foreign call: its run is already recorded as interrupted, and the
        # interpreter would otherwise join the worker thread forever at exit.
        logging.shutdown()
        os._exit(0)
    return 0


def check_once(
    cfg: Config, names: list[str] | None, now: datetime | None
) -> list[cycle.CycleResult]:
    """``driftd check``: one cycle per model through the same code path as the daemon."""
    models = [cfg.model(n) for n in names] if names else list(cfg.models)
    cfg.registry.parent.mkdir(parents=True, exist_ok=True, mode=0o750 if cfg.group else 0o700)
    registry = Registry.open(cfg.registry, group_readable=cfg.group is not None)
    try:
        clock = now or datetime.now(UTC)
        return [cycle.run_cycle(cfg, m, registry, clock, trigger="check") for m in models]
    finally:
        registry.close()
