"""The ``driftd`` command: a thin shell over the library.

Library errors become one-line messages on stderr and exit codes: 0 ok, 1 drift found or a check
failed, 2 usage or runtime error, 3 registry corrupt or too new, 75 registry locked by another
daemon, 78 invalid config. Read commands take ``--json``.

Heavy modules (pandas, scipy, scikit-learn) are imported inside the commands that need them, so
``driftd status`` starts fast and works on a box where only the registry is readable.
"""

from __future__ import annotations

import os

# One OpenMP thread for the command's own process (set before scipy or scikit-learn loads an
# OpenMP runtime): with the default pool, about 1 exit in 20 aborted with "terminate called
# without an active exception" (rc -6) after the work was done, measured on `driftd drift` with
# a Parquet file; 0 in 80 with one thread. Nothing on the drift path gains from OpenMP (the
# training child and the estimators already run single-threaded); an explicit setting wins.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import math
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from driftd import __version__, commands, render
from driftd import config as config_mod
from driftd.commands import common
from driftd.config import Config
from driftd.durations import format_age, parse_duration
from driftd.errors import EXIT_DRIFT, EXIT_ERROR, EXIT_OK, ConfigError, DriftdError
from driftd.text import escape

Handler = Callable[[argparse.Namespace], int]
CONFIG_HINT = (
    "point at a config with --config FILE or $DRIFTD_CONFIG "
    f"(default {config_mod.DEFAULT_CONFIG_PATH}), or try `driftd demo`"
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return EXIT_ERROR
    try:
        return handler(args)
    except ConfigError as exc:
        for problem in exc.problems:  # one line each, whatever the values in them hold
            print(f"driftd: {escape(_problem_line(exc.source, problem))}", file=sys.stderr)
        return exc.exit_code
    except DriftdError as exc:
        # Escaped whole, not cut at a newline: the newline may sit inside a path it names.
        # (`!r` inside the conditional would apply to the whole expression: quoted messages)
        message = str(exc) if str(exc) else repr(exc)
        print(f"driftd: {escape(message)}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK


def _problem_line(source: object, problem: str) -> str:
    """One config problem as printed (stderr, or ``validate --json``'s ``problems``)."""
    prefix = f"{source}: " if source else ""
    # A new user's first command finds no config: say how to point at one.
    hint = f"; {CONFIG_HINT}" if problem == "file not found" else ""
    return prefix + problem + hint


# Shared with the command modules under driftd.commands (which must not import this module).
name_checks = common.name_checks
_config = common.load_config
_registry_file = common.require_registry_file
_config_path = common.config_path
_emit = common.emit
_parse_now = common.parse_now
_NOW_RANGE = common.NOW_RANGE


# --- commands -------------------------------------------------------------------------------


def cmd_run(args: argparse.Namespace) -> int:
    from driftd import log
    from driftd.lock import InstanceLock, lock_path
    from driftd.permissions import Access, make_dirs

    # The lock before anything slow (importing scipy and scikit-learn, checking the config's
    # estimator names: seconds), so a second daemon is refused at once. daemon.run checks the
    # names, and releases the lock.
    cfg = _config(args)
    log.setup(args.log_level or cfg.log_level)
    make_dirs(cfg.registry.parent, Access(cfg.group))
    lock = InstanceLock(lock_path(cfg.registry))
    lock.acquire()
    from driftd import daemon

    return daemon.run(_config_path(args), name_checks(), lock)


def cmd_check(args: argparse.Namespace) -> int:
    from driftd import daemon, log

    times = _check_times(args)  # before the config: a bad range fails at once
    cfg = _config(args, full=True)
    log.setup(args.log_level or cfg.log_level)
    # Progress only for a person watching: a pipe or the journal gets the result alone.
    progress = _progress_printer() if sys.stderr.isatty() else None
    data: list[dict[str, Any]] = []
    # A range is one `--now` per step, in order, through the same call: one start-up for all.
    for now in times:
        for result in daemon.check_once(cfg, args.model or None, now, progress):
            row = render.result_dict(result)
            data.append({"now": _iso(now), **row} if args.from_ else row)
    _emit(args, data, _check_text)
    bad = any(r["status"] in ("drift", "failed") for r in data)
    return EXIT_DRIFT if bad else EXIT_OK


MAX_STEPS = 100_000  # a --from/--to range longer than this is refused (about 11 years hourly)


def _check_times(args: argparse.Namespace) -> list[datetime | None]:
    """The logical times of `driftd check`: ``[None]`` (the wall clock), ``[--now]``, or
    ``--from``, ``--from + --every``, ... up to and including ``--to``."""
    if args.from_ is None:
        if args.to is not None or args.every is not None:
            raise DriftdError("--to and --every need --from")
        return [_parse_now(args.now) if args.now else None]
    if args.now is not None:
        raise DriftdError("--now and --from are exclusive (--from/--to/--every sets each step)")
    if args.to is None:
        raise DriftdError("--from needs --to (the last logical time, inclusive)")
    first, last = _parse_now(args.from_), _parse_now(args.to)
    try:
        step = parse_duration(args.every or "1d")
    except ValueError as exc:
        raise DriftdError(f"--every: {exc} (got {args.every!r})") from None
    if last < first:
        raise DriftdError(f"--to ({args.to}) is before --from ({args.from_})")
    count = (last - first) // step + 1
    if count > MAX_STEPS:
        raise DriftdError(f"--from/--to/--every: {count:,} steps (at most {MAX_STEPS:,})")
    return [first + i * step for i in range(count)]


def _iso(now: datetime | None) -> str | None:
    return None if now is None else now.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _check_text(safe: list[dict[str, Any]]) -> str:
    """One block per result; a range heads each step's results with its logical time."""
    blocks, at = [], None
    for r in safe:
        if "now" in r and r["now"] != at:
            at = r["now"]
            blocks.append(f"== check at {at}")
        blocks.append(render.result_text(r))
    return "\n\n".join(blocks)


def _progress_printer() -> Callable[[str], None]:
    """Whole lines with the elapsed time ("driftd: [  4.2s] training churn"): log lines share
    stderr, so a line rewritten in place would be torn by them."""
    import time

    start = time.monotonic()

    def show(text: str) -> None:
        print(f"driftd: [{time.monotonic() - start:5.1f}s] {escape(text)}", file=sys.stderr)

    return show


def cmd_status(args: argparse.Namespace) -> int:
    from driftd import api

    path = config_mod.resolve_config_path(getattr(args, "config", None))
    cfg: Config | None = None
    problem: str | None = None
    try:
        cfg = config_mod.load(path)
    except ConfigError as exc:
        # A bad edit waiting for its reload: the daemon runs on, and status should still show it.
        registry, problem = _registry_despite(path, exc), "; ".join(exc.problems)
    else:
        registry = cfg.registry
    _registry_file(registry)
    data = api.registry_status(registry, cfg)
    from driftd.alerts.record import last_failure

    data["last_failed_delivery"] = last_failure(registry)
    data["config_file_error"] = problem
    _emit(args, data, _status_text)
    return EXIT_OK


def _registry_despite(path: Path, exc: ConfigError) -> Path:
    """The ``registry`` of a config that fails validation; re-raise ``exc`` if there is none."""
    import tomllib

    try:
        value = tomllib.loads(path.read_text(encoding="utf-8")).get("registry")
        if not isinstance(value, str) or not value:
            raise exc
        return (path.absolute().parent / Path(value).expanduser()).resolve()
    except (OSError, ValueError, RuntimeError):
        raise exc from None


def cmd_history(args: argparse.Namespace) -> int:
    from driftd import api

    cfg = _config(args)
    if args.model:
        _known_model(cfg, args.model)
    rows = api.history(cfg, model=args.model, limit=args.limit)
    # `at` is the decision's logical time (its run's --now, the data clock); the wall clock only
    # as recorded at. `run` is empty for a decision taken from the command line.
    cols = ["id", "at", "model", "action", "version_id", "run_id", "actor", "reason"]
    cols.append("recorded_at")
    heads = [*cols[:5], "run", *cols[6:-1], "recorded at"]
    _emit(args, rows, lambda safe: render.table(safe, cols, heads))
    return EXIT_OK


def _known_model(cfg: Config, name: str) -> None:
    """NotFoundError (exit 2) for a ``--model`` neither the config nor the registry knows: an
    empty table would read as "no decisions yet"."""
    import difflib

    from driftd.errors import NotFoundError
    from driftd.registry import queries

    known = {m.name for m in cfg.models}
    with queries.read(cfg.registry) as c:
        if c is not None:
            known |= {str(r[0]) for r in c.execute("SELECT name FROM models")}
    if name in known:
        return
    close = difflib.get_close_matches(name, sorted(known), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    listed = ", ".join(sorted(known)[:10]) or "none"
    listed += f", ... ({len(known)} in all)" if len(known) > 10 else ""
    raise NotFoundError(f"--model: no model named {name!r}{hint} (known: {listed})")


def cmd_versions(args: argparse.Namespace) -> int:
    from driftd.registry import queries

    cfg = _config(args)
    if args.model:
        _known_model(cfg, args.model)
    rows = queries.versions(cfg.registry, model=args.model)
    cols = ["id", "created_at", "status", "estimator", "data_rows", "parent_id", "artifact_sha256"]
    _emit(args, rows, lambda safe: render.table(safe, cols))
    return EXIT_OK


def cmd_show(args: argparse.Namespace) -> int:
    from driftd.registry import queries

    cfg = _config(args)
    data = queries.show(cfg.registry, args.version)
    _emit(args, data, _show_text)
    return EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    path = args.path or _config_path(args)
    try:
        cfg = config_mod.load(path, name_checks())
    except ConfigError as exc:
        if not args.json:
            raise
        problems = [_problem_line(exc.source, p) for p in exc.problems]
        _emit(args, {"path": str(path), "ok": False, "problems": problems, "models": []}, str)
        return exc.exit_code
    data = {"path": str(path), "ok": True, "problems": [], "models": [m.name for m in cfg.models]}
    if getattr(args, "schema", False):
        return _validate_schema(args, cfg, data)
    _emit(
        args,
        data,
        lambda safe: (
            f"{safe['path']}: ok ({len(safe['models'])} model(s): "
            + ", ".join(safe["models"])
            + ")"
        ),
    )
    return EXIT_OK


def _validate_schema(args: argparse.Namespace, cfg: Config, data: dict[str, Any]) -> int:
    """``validate --schema``: each model's features as the drift check and the trainer see them."""
    from driftd import schema, sources
    from driftd.cycle.data import features_of

    data["schemas"] = {}
    for model in cfg.models:
        frame = sources.read(model.data.reference, label=f"{model.name} reference")
        inferred = schema.infer(frame[features_of(model, frame)], model.data.categorical)
        data["schemas"][model.name] = inferred.as_dict()

    def text(safe: dict[str, Any]) -> str:
        lines = [f"{safe['path']}: ok"]
        for name, columns in safe["schemas"].items():
            width = max((len(c) for c in columns), default=0)
            lines += ["", f"{name}: {len(columns)} feature(s)"]
            lines += [f"  {c:<{width}}  {v['kind']:<11}  {v['why']}" for c, v in columns.items()]
        return "\n".join(lines)

    _emit(args, data, text)
    return EXIT_OK


def cmd_drift(args: argparse.Namespace) -> int:
    from driftd import api

    drift_cfg = None
    categorical: tuple[str, ...] = tuple(args.categorical or ())
    skip = set(args.exclude or ())
    engine, scheduler = args.engine or "pandas", args.scheduler or "threads"
    # Errors name the flags; with a config, its keys (which the flags only override).
    terms = api.Terms("--categorical", "--exclude", "--keep", "--keep COLUMN")
    configured = bool(args.config or args.model)
    if configured:
        cfg = _config(args, registry=False)
        model = cfg.model(args.model) if args.model else cfg.models[0]
        drift_cfg = model.drift
        categorical = categorical or model.data.categorical
        skip |= {c for c in (model.data.timestamp, model.data.target) if c}
        engine, scheduler = args.engine or model.data.engine, args.scheduler or cfg.dask.scheduler
        terms = api.Terms("data.categorical", "data.features", "--keep", "--keep COLUMN")
    if args.html and engine == "dask":
        raise DriftdError("--html needs the live rows in memory: not with --engine dask")
    found = api.comparison(
        args.reference,
        args.live,
        categorical=categorical,
        exclude=sorted(skip),
        drift=drift_cfg,
        keep=args.keep or (),
        # Without a config there is no data.timestamp or data.features to go by: leave out the
        # columns that look like timestamps or identifiers, and say so.
        drop_bookkeeping=not configured,
        engine=engine,
        scheduler=scheduler,
        terms=terms,
    )
    if found.left_out:  # on stderr: a silently missing column would read as "no drift"
        print(f"driftd: {escape(api.left_out_notice(found.left_out, terms))}", file=sys.stderr)
    data = found.to_dict()
    if args.html and found.live is not None:
        from driftd.commands.report import write_comparison

        names = (args.reference, args.live)
        write_comparison(args.html, found.reference, found.live, found.kinds, data, names)
    _emit(args, data, _drift_text)
    return EXIT_DRIFT if found.report.drifted else EXIT_OK


def cmd_promote(args: argparse.Namespace) -> int:
    from driftd import api, log
    from driftd.champion.manual import require_reason

    require_reason(args.reason, "--reason")
    log.setup("error")  # a failed pointer write or hook is printed once, by _warn
    cfg = _config(args)
    # notify=False: _decided announces it, with a failed delivery shown on stderr.
    registry = api.Registry(cfg)
    done = registry.promote(
        args.model, args.version, reason=args.reason, actor=_actor(), notify=False
    )
    _warn(done.change.warnings())
    data = _decided(cfg, done, "manual_promote", args.reason)
    _emit(args, data, lambda safe: f"{safe['model']}: champion is now {safe['version']}")
    return EXIT_OK


def cmd_rollback(args: argparse.Namespace) -> int:
    from driftd import api, log
    from driftd.champion.manual import require_reason

    require_reason(args.reason, "--reason")
    log.setup("error")  # a failed pointer write or hook is printed once, by _warn
    cfg = _config(args)
    # notify=False: _decided announces it, with a failed delivery shown on stderr.
    registry = api.Registry(cfg)
    done = registry.rollback(args.model, args.to, reason=args.reason, actor=_actor(), notify=False)
    _warn(done.change.warnings())
    data = _decided(cfg, done, "rollback", args.reason)
    _emit(
        args, data, lambda safe: f"{safe['model']}: rolled back; champion is now {safe['version']}"
    )
    return EXIT_OK


def _decided(cfg: Config, done: Any, action: str, reason: str) -> dict[str, Any]:
    """A committed operator decision as ``--json`` shows it, after notifying its targets
    (``[[notify]]``: delivered now, each bounded by its timeout; a failure is logged and
    recorded, and the decision stands)."""
    from driftd import log
    from driftd.champion.manual import announce
    from driftd.domain import Action, Decision

    log.setup("warning")  # a failed delivery is one line on stderr
    decision = Decision(Action(action), reason)
    announce(cfg, cfg.registry, done.model, done.version, decision, done.decision_id)
    return {
        "model": done.model,
        "version": done.version,
        "action": action,
        "reason": reason,
        "decision_id": done.decision_id,
        "warnings": list(done.change.warnings()),
    }


def _warn(lines: list[str]) -> None:
    """What followed a committed decision and failed (pointer file, hook): the decision stands,
    so these are warnings on stderr and the exit status stays 0."""
    for line in lines:
        print(f"driftd: warning: {escape(line)}", file=sys.stderr)


def cmd_verify(args: argparse.Namespace) -> int:
    from driftd.errors import EXIT_REGISTRY
    from driftd.registry.verify import examine

    cfg = _config(args)
    findings = examine(cfg.registry)
    problems = findings.problems
    data = {
        "registry": str(cfg.registry),
        "ok": not problems,
        "corrupt": findings.corrupt,
        "problems": problems,
    }
    _emit(
        args,
        data,
        lambda safe: "\n".join(safe["problems"]) if problems else f"{safe['registry']}: ok",
    )
    if findings.corrupt:  # the file itself: exit 3, as status and check say for it
        return EXIT_REGISTRY
    return EXIT_DRIFT if problems else EXIT_OK


def cmd_gc(args: argparse.Namespace) -> int:
    from driftd import lineage, retention
    from driftd.registry.store import Registry

    cfg = _config(args)
    if args.keep is not None and not 0 <= args.keep <= _SQLITE_MAX_INT:
        raise DriftdError(f"--keep: must be between 0 and {_SQLITE_MAX_INT} (got {args.keep})")
    planned = retention.plan(cfg, model=args.model, keep=args.keep)
    if not args.dry_run and planned.removals:
        registry = Registry.open(cfg.registry, group=cfg.group, create=False)
        try:
            planned = retention.execute(registry, planned, actor=_actor())
        finally:
            registry.close()
    data = planned.to_dict(dry_run=args.dry_run)
    _emit(args, data, lineage.gc_text)
    return EXIT_DRIFT if planned.errors else EXIT_OK


def cmd_reproduce(args: argparse.Namespace) -> int:
    from driftd import lineage, log, reproduce

    cfg = _config(args)
    if not 0 <= args.tolerance < math.inf:  # NaN compares false: nothing would ever match
        raise DriftdError(f"--tolerance: must be a finite number >= 0 (got {args.tolerance})")
    log.setup("warning")
    result = reproduce.reproduce(cfg, args.version, tolerance=args.tolerance)
    data = result.to_dict()
    _emit(args, data, lineage.reproduce_text)
    return EXIT_OK if result.matches else EXIT_DRIFT


def cmd_demo(args: argparse.Namespace) -> int:
    from driftd import demo

    return demo.run(Path(args.dir) if args.dir else None, fast=args.fast)


# --- text output ----------------------------------------------------------------------------


def _status_text(data: dict[str, Any]) -> str:
    lines = [f"registry  {data['registry']}"]
    if data.get("config_file_error"):
        lines.append(f"config    invalid, not loaded: {data['config_file_error']}")
    daemon = data.get("daemon")
    if daemon:
        lines.append(f"daemon    {_daemon_text(daemon)}")
        if daemon.get("config_error"):
            lines.append(f"          config reload rejected: {daemon['config_error']}")
    else:
        lines.append("daemon    never ran on this registry")
    failed = data.get("last_failed_delivery")
    if failed:
        about = " ".join(str(x) for x in (failed["event"], failed.get("model")) if x)
        lines.append(
            f"notify    last failed delivery: {about} to {failed['target']} at {failed['at']} "
            f"after {failed['attempts']} attempt(s): {failed.get('error') or '-'}"
        )
    for m in data["models"]:
        lines.append("")
        lines.append(m["name"])
        champ = m.get("champion")
        if champ:
            age = format_age(float(champ.get("age_s") or 0))
            lines.append(
                f"  champion       {champ['id']} (since {champ['since']}, {age} old at "
                f"{m['as_of']}{_recorded(champ['since'], champ.get('recorded_at'))})"
            )
        else:
            lines.append("  champion       none")
        check = m.get("last_check")
        if check:
            drifted = ", ".join(check.get("drifted") or []) or "none"
            lines.append(
                f"  last check     {check['at']}  {check['verdict']}  drifted: {drifted}"
                + _recorded(check["at"], check.get("recorded_at"), "  (recorded at {})")
            )
            if check["verdict"] == "insufficient_data":
                lines.append(f"                 {check['reason']}")
            lines += render.extra_lines(check.get("extra") or [], width=15)
            lines += _estimated_lines(check.get("estimated") or [])
        run = m.get("last_run")
        if run and run.get("now_at"):
            ended = run.get("finished_at") or run.get("started_at")
            lines.append(
                f"  last run       {run['id']} {run['status']} ({run.get('trigger')}), "
                f"data clock {run['now_at']}"
                + _recorded(run["now_at"], ended, "  (recorded at {})")
            )
        decision = m.get("last_decision")
        if decision:
            lines.append(
                f"  last decision  {decision['action']} {decision.get('version_id') or ''} "
                f"({decision['at']}{_recorded(decision['at'], decision.get('recorded_at'))})"
            )
            lines.append(f"                 {decision['reason']}")
        err = m.get("last_error")
        if err:
            lines.append(
                f"  last error     {err['at']}  {err['error']}"
                + _recorded(err["at"], err.get("recorded_at"), "  (recorded at {})")
            )
        hook = m.get("last_hook")
        if hook and hook["status"] != "ok":
            lines += _hook_lines(hook)
        nxt = (daemon or {}).get("next_runs", {}) or {}
        if m["name"] in nxt:  # a heartbeat's "next run" may be the check that just ran
            when = render.next_check(str(nxt[m["name"]]), datetime.now(UTC))
            lines.append(f"  next check     {when}")
    return "\n".join(lines)


def _hook_lines(hook: dict[str, Any]) -> list[str]:
    """A failed ``promotion.on_champion_change``: what, when, and its output's last line."""
    how = {"failed": f"exited {hook['exit_code']}", "timeout": "timed out"}
    lines = [
        f"  champion hook  {how.get(hook['status'], 'could not start')} after "
        f"{hook['version_id']} (at {hook['finished_at']}; the decision stands): {hook['argv']}"
    ]
    if hook.get("last_line"):
        lines.append(f"                 {hook['last_line']}")
    return lines


def _recorded(at: str | None, recorded: str | None, form: str = "; recorded at {}") -> str:
    """``form`` with the wall-clock time a logical time was recorded at, when they differ by
    more than a minute (a replay with ``--now``); "" for a live run, where they agree."""
    if not at or not recorded:
        return ""
    try:
        apart = abs((_parse_now(at) - _parse_now(recorded)).total_seconds())
    except DriftdError:
        return form.format(recorded)
    return form.format(recorded) if apart > 60 else ""


def _estimated_lines(rows: list[dict[str, Any]]) -> list[str]:
    """The primary label-free estimate and its band, then the other estimated metrics."""
    if not rows:
        return []
    first, others = rows[0], [r for r in rows[1:] if r.get("value") is not None]
    line = f"  estimated      {first['state']}  {first['detail']}"
    if others:
        line += "; also " + ", ".join(f"{r['metric']} {r['value']:.3f}" for r in others)
    return [line]


def _daemon_text(daemon: dict[str, Any]) -> str:
    """Alive (doing what), stalled, starting, crash-looping, stopped cleanly or died: the
    heartbeat row judged with the lock file (``queries.status``)."""
    pid, age = daemon.get("pid"), format_age(float(daemon.get("age_s") or 0))
    lock = daemon.get("lock") or {}
    latest, lock_age = lock.get("pid"), format_age(float(lock.get("age_s") or 0))
    took = f"pid {latest} took the lock at {lock.get('written_at')} ({lock_age} ago)"
    before = ""
    if daemon.get("beat_at"):
        how = "stopped cleanly" if daemon.get("state") == "stopped" else "last beat"
        before = f"; before it, pid {pid} {how} at {daemon.get('beat_at')} ({age} ago)"
    failures = int(daemon.get("start_failures") or 0)
    starts = f"{failures} start{'s' if failures > 1 else ''}"
    condition = daemon.get("condition")
    if condition == "alive":
        return f"alive (pid {pid}, since {daemon.get('started_at')}): {daemon.get('state')}"
    if condition == "stalled":
        return (
            f"stalled: pid {pid} holds the lock, but its last beat was {daemon.get('beat_at')} "
            f"({age} ago; registry not writable, or the scheduler stuck? see the journal)"
        )
    if condition == "starting":
        after = f" (after {starts} that died in start-up)" if failures else ""
        return f"starting: {took}, no heartbeat yet{after}{before}"
    if condition == "crash_looping":
        last = f", and now {took}" if lock.get("held") else f"; the last: {took}"
        return (
            f"crash-looping: {starts} in a row died in start-up, before their first heartbeat"
            f"{last}{before} (see the journal)"
        )
    if condition == "stopped":
        return f"stopped at {daemon.get('stopped_at')} ({age} ago; pid {pid} shut down cleanly)"
    if failures:
        return f"died in start-up: {took} and exited before its first heartbeat{before}"
    return (
        f"died: last beat {daemon.get('beat_at')} ({age} ago) from pid {pid} on "
        f"{daemon.get('host')}, and no clean stop recorded (killed, crashed or host down?)"
    )


def _drift_text(data: dict[str, Any]) -> str:
    cols = [
        "feature",
        "kind",
        "state",
        "test",
        "p_value",
        "p_adjusted",
        "effect_name",
        "effect",
        "threshold",
        "missing_ref",
        "missing_live",
        "new_category_mass",
        "detail",  # why it drifted, or why it was not judged (a missing-rate jump, new values)
    ]
    heads = ["feature", "kind", "state", "test", "p", "p_adj", "effect", "size", "thr"]
    heads += ["miss_ref", "miss_live", "new_cat", "detail"]
    body = render.table(data["features"] + data.get("extra", []), cols, heads)
    verdict = f"verdict: {data['verdict']} - {data['reason']}"
    return f"{body}\n\n{verdict}"


def _show_text(data: dict[str, Any]) -> str:
    from driftd import lineage

    return lineage.show_text(data)


_SQLITE_MAX_INT = 2**63 - 1


def _actor() -> str:
    from driftd.champion.manual import default_actor

    return default_actor("cli")


# --- argument parsing -----------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config", help="config file (default: $DRIFTD_CONFIG, else /etc/driftd/config.toml)"
    )
    as_json = argparse.ArgumentParser(add_help=False)
    as_json.add_argument("--json", action="store_true", help="machine-readable output")

    parser = argparse.ArgumentParser(
        prog="driftd",
        description="Keep ML models healthy: drift checks, retraining, promotion on evidence.",
    )
    parser.add_argument("--version", action="version", version=f"driftd {__version__}")
    sub = parser.add_subparsers(metavar="COMMAND")

    def add(name: str, handler: Handler, help_: str, *parents: argparse.ArgumentParser) -> Any:
        p = sub.add_parser(name, help=help_, description=help_, parents=[common, *parents])
        p.set_defaults(handler=handler)
        return p

    p = add("run", cmd_run, "run the daemon in the foreground (systemd's way)")
    p.add_argument("--log-level", choices=config_mod.LOG_LEVELS)
    p = add("check", cmd_check, "run one monitoring cycle now, through the daemon's code", as_json)
    p.add_argument("--model", action="append", help="only this model (repeatable)")
    p.add_argument("--now", help="the clock for the windows, ISO-8601 (replays, backfills)")
    p.add_argument(
        "--from",
        dest="from_",
        metavar="T0",
        help="replay: one check per step from T0 (ISO-8601) ... in one process",
    )
    p.add_argument("--to", metavar="T1", help="... up to and including T1 ...")
    p.add_argument("--every", metavar="DURATION", help="... every DURATION (default 1d)")
    p.add_argument("--log-level", choices=config_mod.LOG_LEVELS)
    add("status", cmd_status, "per model: champion, last check, last decision, errors", as_json)
    p = add("history", cmd_history, "the decision log, newest first", as_json)
    p.add_argument("--model")
    p.add_argument("--limit", type=int, default=50)
    p = add("versions", cmd_versions, "model versions and their lineage summary", as_json)
    p.add_argument("--model")
    p = add("show", cmd_show, "the full lineage of one version", as_json)
    p.add_argument("version", help="a version id such as churn-v3")
    p = add("validate", cmd_validate, "check a config file; exit 78 listing every problem", as_json)
    p.add_argument("path", nargs="?", help="config file (default: as --config)")
    p.add_argument(
        "--schema",
        action="store_true",
        help="also read each reference and print which features are numeric or categorical",
    )
    p = add("drift", cmd_drift, "compare two CSV/Parquet files with the drift engine", as_json)
    p.add_argument("reference")
    p.add_argument("live")
    p.add_argument("--model", help="take drift settings from this model of the config")
    p.add_argument("--categorical", action="append", help="treat this column as categorical")
    p.add_argument("--exclude", action="append", help="ignore this column (repeatable)")
    p.add_argument(
        "--keep",
        "--include",
        action="append",
        metavar="COLUMN",
        help="compare this column even if it looks like a timestamp or an identifier",
    )
    p.add_argument("--html", metavar="FILE", help="also write the comparison with plots as HTML")
    p.add_argument(
        "--engine",
        choices=("pandas", "dask"),
        help="dask: read LIVE (a Parquet directory or glob) partition by partition "
        "(default: the model's data.engine, else pandas)",
    )
    p.add_argument(
        "--scheduler",
        metavar="S",
        help='with --engine dask: threads, processes or "tcp://host:port" '
        "(default: the config's dask.scheduler, else threads)",
    )
    p = add("promote", cmd_promote, "make a version the champion (one transaction)", as_json)
    p.add_argument("model")
    p.add_argument("version")
    p.add_argument("--reason", required=True)
    p = add("rollback", cmd_rollback, "move the champion back (default: the previous one)", as_json)
    p.add_argument("model")
    p.add_argument("--to", help="the version to roll back to")
    p.add_argument("--reason", required=True)
    add("verify", cmd_verify, "check registry integrity, artifacts and the decision chain", as_json)
    p = add("gc", cmd_gc, "remove artifacts no champion, recent or pending version needs", as_json)
    p.add_argument("--model", help="only this model")
    p.add_argument("--keep", type=int, help="keep the N newest versions (default: per model)")
    p.add_argument("--dry-run", action="store_true", help="list what would go; change nothing")
    p = add("reproduce", cmd_reproduce, "retrain a version from its lineage and compare", as_json)
    p.add_argument("version", help="a version id such as churn-v3")
    p.add_argument(
        "--tolerance",
        type=float,
        default=1e-9,
        help="largest absolute metric difference that still matches (default 1e-9)",
    )
    p = add("demo", cmd_demo, "run the embedded demo: train, drift, retrain, decide")
    p.add_argument("--dir", help="work in this directory (default: a temporary one)")
    p.add_argument("--fast", action="store_true", help="fewer cycles (used by tests)")
    commands.register_all(add, as_json, parser)
    return parser


if __name__ == "__main__":
    sys.exit(main())
