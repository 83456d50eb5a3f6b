"""``driftd run``: the scheduler, signals, the single-instance lock, sd_notify and the watchdog.

Threads: ``[daemon] workers`` threads run the cycles from a queue (:mod:`driftd.workqueue`); the
main thread only waits for signals, reloads the config, and pings the systemd watchdog. We use a
BackgroundScheduler rather than a BlockingScheduler so the main thread stays free for that
supervision: the watchdog is fed only while a heartbeat job proves that the scheduler thread
still fires jobs (APScheduler can lose that thread while ``running`` stays True).
The heartbeat job has an executor of its own, so cycles that occupy every worker cannot starve it,
and it never queues long behind their registry writes (:meth:`Registry.beat`'s ``wait``).

Signals: SIGTERM and SIGINT stop (training children killed, unfinished runs recorded
``interrupted``, a ``stopped`` heartbeat written, exit 0); SIGHUP reloads the config; SIGUSR1
dumps every thread's stack to stderr (:mod:`faulthandler`), for a daemon that seems wedged.

The STATUS= line that ``systemctl status`` shows is :func:`driftd.notify.status_line`.
"""

from __future__ import annotations

import faulthandler
import logging
import os
import random
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import FrameType
from typing import Any

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
    JobEvent,
    JobExecutionEvent,
)
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from driftd import alerts, cycle, metrics, permissions, sweep, trainer, workqueue
from driftd import config as config_mod
from driftd.alerts.events import DAEMON_STOP, WATCHDOG
from driftd.config import Config, ModelConfig, NameChecks
from driftd.errors import ConfigError, DriftdError
from driftd.lock import InstanceLock, lock_path
from driftd.log import event
from driftd.notify import Notifier, status_line
from driftd.publish import after_check as write_report
from driftd.registry import queries
from driftd.registry.connection import WriterBusyError
from driftd.registry.store import Registry
from driftd.workqueue import WorkQueue

HEARTBEAT_SECONDS = 5.0
STOP_GRACE_SECONDS = 20.0
STOPPED = "stopped"  # the heartbeat state of a clean shutdown (see queries.status)
_POLL_SECONDS = 1.0
_HEARTBEAT_JOB = "_heartbeat"


@dataclass
class _State:
    cfg: Config
    stop: threading.Event = field(default_factory=threading.Event)
    reload: threading.Event = field(default_factory=threading.Event)
    wake: threading.Event = field(default_factory=threading.Event)  # set by every signal
    last_beat: float = field(default_factory=time.monotonic)
    config_error: str | None = None
    job_errors: int = 0
    activity: dict[str, str] = field(default_factory=dict)  # model -> "checking churn", ...
    last: dict[str, str] = field(default_factory=dict)  # model -> "ok", "failed: why", ...
    last_model: str | None = None  # the model whose cycle finished most recently
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Held while writing a heartbeat; once ``stopped`` is set no live beat may overwrite it.
    beat_lock: threading.Lock = field(default_factory=threading.Lock)
    stopped: bool = False
    instance: InstanceLock | None = None  # the registry's lock, held while running
    up: bool = False  # a heartbeat was written, and the lock file says so
    beat_error: str | None = None  # why the last heartbeat write failed, until one succeeds
    dispatcher: alerts.Dispatcher | None = None  # notifications ([[notify]]), set by _serve
    beats_deferred: int = 0  # heartbeat writes skipped because cycles were writing
    skipped: int = 0  # heartbeats skipped because the previous one had not finished
    queue: WorkQueue | None = None  # the checks waiting for and held by workers

    def on_signal(self, signum: int, _frame: FrameType | None) -> None:
        if signum == signal.SIGHUP:
            self.reload.set()
        else:
            self.stop.set()
        self.wake.set()


def run(config_path: str, checks: NameChecks, lock: InstanceLock | None = None) -> int:
    """Run until SIGTERM/SIGINT; return the process exit code.

    ``lock`` is the registry's lock, already held: ``driftd run`` takes it before importing this
    module and checking the config's names (seconds of scipy and scikit-learn imports), so a
    second daemon is refused at once. Without it, it is taken here. It is released cleanly only
    after a clean stop; any other end leaves this pid in the lock file for ``driftd status``.
    """
    _enable_stack_dumps()
    code: int | None = None
    try:
        cfg = config_mod.load(config_path, checks)
        # Handlers first: a SIGTERM during a long start-up (migration, sweep) then stops cleanly.
        state = _State(cfg)
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, state.on_signal)
        if lock is None:
            permissions.make_dirs(cfg.registry.parent, permissions.Access(cfg.group))
            lock = InstanceLock(lock_path(cfg.registry))
            lock.acquire()
        elif lock.path != lock_path(cfg.registry):  # the file was edited while we started
            raise ConfigError(["registry: changed while driftd was starting"], config_path)
        state.instance = lock
        registry = Registry.open(cfg.registry, group=cfg.group)
        try:
            sweep.at_startup(cfg, registry)
            code = _serve(config_path, checks, state, registry)
            return code
        finally:
            registry.close()
    finally:
        if lock is not None:
            lock.release(clean=code == 0)


def _enable_stack_dumps() -> None:
    """Tracebacks of every thread on a fatal signal, and on SIGUSR1 while running."""
    faulthandler.enable(file=sys.stderr, all_threads=True)
    faulthandler.register(signal.SIGUSR1, file=sys.stderr, all_threads=True)


def _serve(config_path: str, checks: NameChecks, state: _State, registry: Registry) -> int:
    notifier = Notifier.from_env()
    state.dispatcher = dispatcher = alerts.Dispatcher(lambda: state.cfg, registry, background=True)
    # Sized by the models: at the defaults (16 summaries, 1,024 other entries) 200 models evicted
    # each other's reference summaries and remembered windows, and every check rebuilt them.
    n = len(state.cfg.models)
    cache = cycle.SummaryCache(size=max(16, 2 * n), other_size=max(1024, 128 * n))
    scheduler = BackgroundScheduler(
        executors={
            # Scheduler jobs only queue a model's run (:mod:`driftd.workqueue`): an instant each.
            "default": ThreadPoolExecutor(max_workers=2),
            "heartbeat": ThreadPoolExecutor(max_workers=1),
        },
        job_defaults={"coalesce": True, "max_instances": 1},
        timezone=UTC,
    )

    def publish() -> None:
        """Send the current STATUS= line; under the lock, so lines never arrive out of order."""
        with state.lock:
            notifier.status(_compose(state, scheduler))

    def on_job_event(ev: JobEvent) -> None:
        if ev.code == EVENT_JOB_MAX_INSTANCES:  # only the heartbeat can take long enough
            state.skipped += 1
            event("job.skipped", logging.WARNING, job=ev.job_id, reason="previous run unfinished")
        elif ev.code == EVENT_JOB_ERROR and isinstance(ev, JobExecutionEvent):
            state.job_errors += 1
            event("job.error", logging.ERROR, job=ev.job_id, error=repr(ev.exception))
            if ev.job_id != _HEARTBEAT_JOB:
                with state.lock:
                    state.last[ev.job_id] = f"failed: internal error: {ev.exception!r}"
                    state.last_model = ev.job_id
                publish()
        else:
            event("job.missed", logging.WARNING, job=ev.job_id)

    scheduler.add_listener(
        on_job_event, EVENT_JOB_ERROR | EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES
    )

    def heartbeat() -> None:
        state.last_beat = time.monotonic()  # the scheduler fires jobs: the watchdog may be fed
        try:
            # Never queued behind a burst of cycle writes for longer than a beat: a job still
            # running at the next beat makes APScheduler skip that beat.
            _write_beat(state, scheduler, registry, wait=HEARTBEAT_SECONDS / 2)
        except WriterBusyError:
            state.beats_deferred += 1
            event("heartbeat.deferred", logging.DEBUG, reason="registry busy with cycle writes")
        except DriftdError as exc:
            # A full disk or a read-only registry: say so once, not every 5 s, and keep beating.
            # Restarting would not help, so the watchdog is still fed; status shows the beat's
            # age grow while the lock is held ("stalled").
            if state.beat_error is None:
                event("heartbeat.failed", logging.ERROR, error=str(exc))
                dispatcher.emit(alerts.make(WATCHDOG, reason=f"heartbeat write failed: {exc}"))
            state.beat_error = str(exc)
        else:
            if state.beat_error is not None:
                event("heartbeat.recovered", previous_error=state.beat_error)
            state.beat_error = None

    def job(name: str) -> None:
        try:
            model = state.cfg.model(name)
        except ConfigError:
            return  # removed by a reload after this run was submitted

        def status(text: str) -> None:
            with state.lock:
                state.activity[name] = text
            publish()

        try:
            result = cycle.run_cycle(
                state.cfg,
                model,
                registry,
                datetime.now(UTC),
                cache=cache,
                status=status,
                stop=state.stop,
                notify=dispatcher.cycle_done,
            )
        finally:
            with state.lock:
                state.activity.pop(name, None)
        with state.lock:
            state.last[name] = _outcome(result)
            state.last_model = name
        publish()
        metrics.after_cycle(state.cfg)  # the [metrics] textfile, when set; never raises
        write_report(state.cfg, name)  # <report.dir>/<model>.html, when set; never raises

    def run_job(name: str) -> None:
        """A worker's run of one model: a bug is logged and shown, never kills the worker."""
        try:
            job(name)
        except Exception as exc:
            state.job_errors += 1
            event("job.error", logging.ERROR, job=name, error=repr(exc))
            with state.lock:
                state.last[name] = f"failed: internal error: {exc!r}"
                state.last_model = name
            publish()

    state.queue = queue = WorkQueue(run_job, state.cfg.daemon.workers)

    def fire(name: str) -> None:
        """The scheduler's job for a model: queue its run (see :mod:`driftd.workqueue`)."""
        if queue.submit(name) == "merged":
            event("job.merged", job=name, reason="a run of this model already waits or runs")

    scheduler.add_job(
        heartbeat,
        IntervalTrigger(seconds=HEARTBEAT_SECONDS),
        id=_HEARTBEAT_JOB,
        executor="heartbeat",
        next_run_time=datetime.now(UTC),
        misfire_grace_time=int(HEARTBEAT_SECONDS),
    )
    for model in state.cfg.models:
        _schedule(scheduler, model, fire, first_run(registry, model, datetime.now(UTC)))
    queue.start()

    # Started paused, so READY=1 reaches systemd before the first cycle's STATUS= lines.
    metrics.serve(state.cfg)  # the [metrics] endpoint, when set: a thread that ends with us
    scheduler.start(paused=True)
    notifier.ready(f"monitoring {len(state.cfg.models)} model(s)")
    event("daemon.ready", pid=os.getpid(), models=",".join(m.name for m in state.cfg.models))
    scheduler.resume()
    _supervise(config_path, checks, state, scheduler, registry, notifier, fire, publish)
    return _shutdown(state, scheduler, registry, notifier)


def _supervise(
    config_path: str,
    checks: NameChecks,
    state: _State,
    scheduler: Any,
    registry: Registry,
    notifier: Notifier,
    job: Callable[[str], None],
    publish: Callable[[], None],
) -> None:
    """The main thread until a stop signal: reloads, and WATCHDOG=1 every half WATCHDOG_USEC."""
    interval = notifier.watchdog_interval
    next_ping = time.monotonic()
    withheld = False
    while not state.stop.is_set():
        timeout = _POLL_SECONDS
        if interval:
            timeout = min(timeout, max(0.0, next_ping - time.monotonic()))
        state.wake.wait(timeout)
        state.wake.clear()
        if state.stop.is_set():
            break
        if state.reload.is_set():
            state.reload.clear()
            _reload(config_path, checks, state, scheduler, registry, notifier, job)
            publish()
            try:
                _write_beat(state, scheduler, registry)  # `driftd status` sees it at once
            except DriftdError as exc:  # the heartbeat job writes it within 5 s anyway
                event("reload.beat_failed", logging.WARNING, error=str(exc))
        if interval and time.monotonic() >= next_ping:
            next_ping = time.monotonic() + interval
            # Feed the watchdog only while the heartbeat job proves the scheduler thread alive.
            if time.monotonic() - state.last_beat < 3 * HEARTBEAT_SECONDS:
                notifier.watchdog()
                withheld = False
            elif not withheld:
                withheld = True
                event(
                    "watchdog.withheld",
                    logging.ERROR,
                    reason="the scheduler's heartbeat job stopped firing",
                    last_beat_s=round(time.monotonic() - state.last_beat, 1),
                )
                if state.dispatcher is not None:
                    why = "watchdog withheld: the scheduler's heartbeat job stopped firing"
                    state.dispatcher.emit(alerts.make(WATCHDOG, reason=why))


def _write_beat(
    state: _State, scheduler: Any, registry: Registry, wait: float | None = None
) -> None:
    with state.lock:
        line = _compose(state, scheduler)
    next_runs = {m: t.isoformat() for m, t in _next_runs(scheduler).items()}
    with state.beat_lock:
        if state.stopped:
            return
        registry.beat(
            os.getpid(), line, next_runs=next_runs, config_error=state.config_error, wait=wait
        )
        if not state.up and state.instance is not None:
            # Up: status now reads this daemon from the heartbeat, not as one starting.
            state.instance.mark_up()
            state.up = True


def _next_runs(scheduler: Any) -> dict[str, datetime]:
    return {
        job.id: job.next_run_time.astimezone(UTC)
        for job in scheduler.get_jobs()
        if job.id != _HEARTBEAT_JOB and job.next_run_time is not None
    }


def _compose(state: _State, scheduler: Any) -> str:
    """The STATUS= line from the state (caller holds ``state.lock``) and the job store."""
    return status_line(
        state.activity,
        _next_runs(scheduler),
        state.last,
        state.last_model,
        state.config_error,
        now=datetime.now(UTC),
        stopping=state.stop.is_set(),
    )


def _outcome(result: cycle.CycleResult) -> str:
    """A cycle result in a few words: ``ok``, ``drift, promote churn-v3``, ``failed: why``."""
    text = result.status
    if result.decision is not None:
        text += f", {result.decision.action} {result.version_id or ''}".rstrip()
    if result.error and result.status in ("failed", "interrupted"):
        text += f": {result.error}"
    return text


def _schedule(
    scheduler: Any, model: ModelConfig, job: Callable[[str], None], next_run: datetime
) -> None:
    """Add (or replace) a model's job, first firing at ``next_run``."""
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
        next_run_time=next_run,
    )


def first_run(registry: Registry, model: ModelConfig, now: datetime) -> datetime:
    """One catch-up run now if a run is overdue, else the next due time after the last run.

    "Now" is spread by the schedule's jitter, as APScheduler spreads every later run: an
    explicit first run time bypasses the trigger's jitter, and 200 models started together
    would otherwise all fire in the first second.
    """
    last = queries.last_run(registry.path, model.name)
    if model.schedule.jitter:
        now += timedelta(seconds=random.uniform(0, model.schedule.jitter.total_seconds()))
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
    job: Callable[[str], None],
) -> None:
    """Apply the config file anew, or keep the old one whole when the new one is invalid."""
    notifier.reloading()
    old = {m.name: m for m in state.cfg.models}
    try:
        new = config_mod.load(config_path, checks)
        if new.registry != state.cfg.registry:
            raise ConfigError(["registry: cannot change while running; restart driftd"], new.source)
        now = datetime.now(UTC)
        # Everything that can fail happens before the first change, so a failure changes nothing.
        changed = {m.name: first_run(registry, m, now) for m in new.models if old.get(m.name) != m}
    except ConfigError as exc:
        error = "; ".join(exc.problems)
        state.config_error = f"{exc.source}: {error}" if exc.source else error
    except Exception as exc:  # a bug must not take the running daemon down
        state.config_error = f"{config_path}: cannot apply: {type(exc).__name__}: {exc}"
    else:
        state.cfg = new
        state.config_error = None
        for name in old.keys() - {m.name for m in new.models}:
            scheduler.remove_job(name)
            with state.lock:
                state.last.pop(name, None)
                state.last_model = None if state.last_model == name else state.last_model
        for model in new.models:
            if model.name in changed:
                _schedule(scheduler, model, job, changed[model.name])
        event(
            "reload.applied",
            models=",".join(m.name for m in new.models),
            changed=",".join(sorted(changed)) or None,
            removed=",".join(sorted(old.keys() - {m.name for m in new.models})) or None,
        )
        notifier.ready(f"config reloaded; monitoring {len(new.models)} model(s)")
        return
    event("reload.rejected", logging.ERROR, errors=state.config_error)
    notifier.ready(f"config reload rejected, old config kept: {state.config_error}")


def _shutdown(state: _State, scheduler: Any, registry: Registry, notifier: Notifier) -> int:
    notifier.stopping()
    event("daemon.stopping", pid=os.getpid())
    scheduler.shutdown(wait=False)
    dropped = state.queue.close() if state.queue is not None else 0
    killed = 0
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    busy = [
        t
        for t in threading.enumerate()
        if t.name.startswith(("ThreadPoolExecutor", workqueue.THREAD_PREFIX))
    ]
    while True:
        # Again and again: a cycle that was between its stop check and starting its child
        # when we first looked registers the child a moment later, and must not outlive us.
        killed += trainer.terminate_all()
        busy = [t for t in busy if t.is_alive()]
        if not busy or time.monotonic() >= deadline:
            break
        busy[0].join(min(0.2, max(0.0, deadline - time.monotonic())))
    count = registry.interrupt_stale_runs("driftd was stopped during this run")
    with state.beat_lock:
        state.stopped = True
        try:
            registry.beat(os.getpid(), STOPPED, next_runs=None, config_error=state.config_error)
        except DriftdError as exc:  # status will say "died"; the exit is still clean
            event("daemon.stop_beat_failed", logging.WARNING, error=str(exc))
    event("daemon.stopped", interrupted_runs=count, trainings_killed=killed, queued_dropped=dropped)
    if state.dispatcher is not None:
        why = f"stopped by a signal; {count} run(s) interrupted"
        state.dispatcher.emit(alerts.make(DAEMON_STOP, reason=why))
        state.dispatcher.close(alerts.DRAIN_SECONDS)
    if busy:
        # A cycle stuck in a foreign call: its run is already recorded as interrupted, and the
        # interpreter would otherwise join the worker thread forever at exit.
        if state.instance is not None:
            state.instance.release()  # a clean stop, though `finally` will not run
        logging.shutdown()
        os._exit(0)
    return 0


def check_once(
    cfg: Config,
    names: list[str] | None,
    now: datetime | None,
    progress: Callable[[str], None] | None = None,
) -> list[cycle.CycleResult]:
    """``driftd check``: one cycle per model through the same code path as the daemon;
    ``progress`` hears what each is doing ("training churn"), as the daemon's STATUS= does."""
    models = [cfg.model(n) for n in names] if names else list(cfg.models)
    permissions.make_dirs(cfg.registry.parent, permissions.Access(cfg.group))
    registry = Registry.open(cfg.registry, group=cfg.group)
    try:
        clock = now or datetime.now(UTC)
        # Delivered in this thread, each bounded by its timeout: the process is about to exit.
        dispatcher = alerts.Dispatcher(lambda: cfg, registry, background=False)
        notify = dispatcher.cycle_done
        status = progress or (lambda _: None)
        results = [
            cycle.run_cycle(cfg, m, registry, clock, trigger="check", status=status, notify=notify)
            for m in models
        ]
        metrics.after_cycle(cfg)  # the [metrics] textfile, when set; never raises
        for m in models:
            write_report(cfg, m.name)  # <report.dir>/<model>.html, when set; never raises
        return results
    finally:
        registry.close()
