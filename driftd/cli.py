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
import getpass
import math
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from driftd import __version__, render
from driftd import config as config_mod
from driftd.config import Config, NameChecks
from driftd.durations import format_age
from driftd.errors import EXIT_DRIFT, EXIT_ERROR, EXIT_OK, ConfigError, DriftdError
from driftd.text import escape, terminal_safe

Handler = Callable[[argparse.Namespace], int]


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
            prefix = f"{exc.source}: " if exc.source else ""
            print(f"driftd: {escape(prefix + problem)}", file=sys.stderr)
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


def name_checks() -> NameChecks:
    """The full checks: importing scikit-learn to confirm estimator and scorer names exist."""
    from driftd import evaluate, stats, trainer

    return NameChecks(
        estimator=trainer.check_estimator, scorer=evaluate.check_scorer, test=stats.test_problem
    )


def _config(args: argparse.Namespace, *, full: bool = False, registry: bool = True) -> Config:
    """The loaded config; with ``registry``, its registry path is refused unless it is a
    regular file (or absent), before SQLite opens it and blames the disk."""
    path = config_mod.resolve_config_path(getattr(args, "config", None))
    cfg = config_mod.load(path, name_checks() if full else None)
    if registry:
        _registry_file(cfg.registry)
    return cfg


def _registry_file(path: Path) -> None:
    from driftd.registry.connection import require_regular

    require_regular(path)


def _config_path(args: argparse.Namespace) -> str:
    return str(config_mod.resolve_config_path(getattr(args, "config", None)))


def _emit(args: argparse.Namespace, data: Any, text: Callable[[Any], str]) -> None:
    """``data`` as exact JSON with ``--json``; else ``text`` of it with every string escaped."""
    print(render.to_json(data) if getattr(args, "json", False) else text(terminal_safe(data)))


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

    cfg = _config(args, full=True)
    log.setup(args.log_level or cfg.log_level)
    now = _parse_now(args.now) if args.now else None
    results = daemon.check_once(cfg, args.model or None, now)
    data = [render.result_dict(r) for r in results]
    _emit(args, data, lambda safe: "\n\n".join(render.result_text(r) for r in safe))
    bad = any(r["status"] in ("drift", "failed") for r in data)
    return EXIT_DRIFT if bad else EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    from driftd.registry import queries

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
    data = queries.status(registry, now=datetime.now(UTC))
    data["registry"] = str(registry)
    data["config_file_error"] = problem
    known = {m["name"] for m in data["models"]}
    for m in cfg.models if cfg else ():
        if m.name not in known:
            data["models"].append({"name": m.name, "champion": None, "configured_only": True})
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
    from driftd.registry import queries

    cfg = _config(args)
    if not 1 <= args.limit <= _SQLITE_MAX_INT:
        raise DriftdError(f"--limit: must be between 1 and {_SQLITE_MAX_INT} (got {args.limit})")
    rows = queries.history(cfg.registry, model=args.model, limit=args.limit)
    # `at` is the decision's logical time (its run's --now); the wall clock only as recorded at.
    cols = ["id", "at", "model", "action", "version_id", "actor", "reason", "recorded_at"]
    heads = [*cols[:-1], "recorded at"]
    _emit(args, rows, lambda safe: render.table(safe, cols, heads))
    return EXIT_OK


def cmd_versions(args: argparse.Namespace) -> int:
    from driftd.registry import queries

    cfg = _config(args)
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
    cfg = config_mod.load(path, name_checks())
    names = ", ".join(m.name for m in cfg.models)
    print(escape(f"{path}: ok ({len(cfg.models)} model(s): {names})"))
    return EXIT_OK


def cmd_drift(args: argparse.Namespace) -> int:
    from driftd import detect, sources
    from driftd.config import DriftConfig, SourceConfig

    drift_cfg = DriftConfig()
    categorical: tuple[str, ...] = tuple(args.categorical or ())
    skip = set(args.exclude or ())
    if args.config or args.model:
        cfg = _config(args, registry=False)
        model = cfg.model(args.model) if args.model else cfg.models[0]
        drift_cfg = model.drift
        categorical = categorical or model.data.categorical
        skip |= {model.data.timestamp, model.data.target}
    reference = sources.read(SourceConfig(args.reference), label="reference")
    live = sources.read(SourceConfig(args.live), label="live")
    features = [c for c in reference.columns if c not in skip]
    sources.require_columns(live, features, args.live)
    sources.check_features(reference, features, categorical, f"reference {args.reference}")
    sources.check_features(live, features, categorical, f"live {args.live}")
    kinds = detect.infer_kinds(reference[features], categorical)
    report = detect.compare_frames(reference[features], live[features], kinds, drift_cfg)
    data = report.to_dict()
    _emit(args, data, _drift_text)
    return EXIT_DRIFT if report.drifted else EXIT_OK


def cmd_promote(args: argparse.Namespace) -> int:
    from driftd.domain import Action, Decision
    from driftd.registry import queries

    _require_reason(args.reason)
    cfg = _config(args)
    version = queries.resolve_version(cfg.registry, args.model, args.version)
    _decide(cfg, args.model, version, Decision(Action.MANUAL_PROMOTE, args.reason))
    print(escape(f"{args.model}: champion is now {version}"))
    return EXIT_OK


def cmd_rollback(args: argparse.Namespace) -> int:
    from driftd.domain import Action, Decision
    from driftd.errors import NotFoundError
    from driftd.registry import queries

    _require_reason(args.reason)
    cfg = _config(args)
    history = queries.champion_history(cfg.registry, args.model)
    if args.to:
        version = queries.resolve_version(cfg.registry, args.model, args.to)
        if version not in {h["version_id"] for h in history}:
            # A rollback returns to a model that served; anything else is a promotion.
            raise DriftdError(
                f"{args.model}: {version} was never champion; use `driftd promote` for a new one"
            )
    else:
        current = queries.champion(cfg.registry, args.model)
        previous = [
            h["version_id"]
            for h in history
            if current is None or h["version_id"] != current["version_id"]
        ]
        if not previous:
            raise NotFoundError(f"{args.model}: no previous champion to roll back to")
        version = previous[0]
    _decide(cfg, args.model, version, Decision(Action.ROLLBACK, args.reason))
    print(escape(f"{args.model}: rolled back; champion is now {version}"))
    return EXIT_OK


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
        nxt = (daemon or {}).get("next_runs", {}) or {}
        if m["name"] in nxt:
            lines.append(f"  next check     {nxt[m['name']]}")
    return "\n".join(lines)


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
    ]
    heads = ["feature", "kind", "state", "test", "p", "p_adj", "effect", "size", "thr"]
    heads += ["miss_ref", "miss_live", "new_cat"]
    body = render.table(data["features"] + data.get("extra", []), cols, heads)
    verdict = f"verdict: {data['verdict']} - {data['reason']}"
    return f"{body}\n\n{verdict}"


def _show_text(data: dict[str, Any]) -> str:
    from driftd import lineage

    return lineage.show_text(data)


def _parse_now(text: str) -> datetime:
    """``--now`` as an aware datetime inside the range data times can take.

    Data times are held as nanoseconds since 1970 (pandas), which end in 1677 and 2262; a
    clock outside, or at the calendar's edge where ``now - window`` underflows, is refused.
    """
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise DriftdError(f"--now: not an ISO-8601 timestamp (got {text!r})") from None
    value = value if value.tzinfo else value.replace(tzinfo=UTC)
    try:
        inside = _NOW_RANGE[0] <= value <= _NOW_RANGE[1]
    except OverflowError:  # an offset that moves year 1 or 9999 off the calendar in UTC
        inside = False
    if not inside:
        first, last = (f"{d:%Y-%m-%d}" for d in _NOW_RANGE)
        raise DriftdError(f"--now: must be between {first} and {last} (got {text!r})")
    return value


_NOW_RANGE = (datetime(1678, 1, 1, tzinfo=UTC), datetime(2262, 1, 1, tzinfo=UTC))
_SQLITE_MAX_INT = 2**63 - 1
MAX_REASON = 1000  # characters: a sentence or two and a ticket link; the log is not a wiki


def _decide(cfg: Config, model: str, version: str, decision: Any) -> None:
    """An operator's decision: one transaction that moves the pointer and appends the log row.

    Refused with a blank reason (it is the audit trail), and for a version whose artifact is
    missing or not the recorded bytes: every later cycle would fail to load that champion.
    """
    from driftd.errors import ArtifactError
    from driftd.registry.store import Registry
    from driftd.registry.verify import artifact_problem

    _require_reason(decision.reason)
    problem = artifact_problem(cfg.registry, version)
    if problem:
        raise ArtifactError(f"{problem}; champion unchanged")
    registry = Registry.open(cfg.registry, group=cfg.group, create=False)
    try:
        registry.decide(model, version, decision, run_id=None, actor=_actor())
    finally:
        registry.close()


def _require_reason(reason: str) -> None:
    """The decision log keeps one printable line per decision: refuse anything else."""
    if not reason.strip():
        raise DriftdError("--reason: must not be blank; say why, it goes in the decision log")
    if len(reason) > MAX_REASON:
        raise DriftdError(
            f"--reason: at most {MAX_REASON} characters (got {len(reason)}); "
            "link to longer notes instead"
        )
    control = next((c for c in reason if not c.isprintable()), None)
    if control is not None:
        raise DriftdError(
            f"--reason: must be one line of printable text (got {escape(control)} at "
            f"character {reason.index(control) + 1})"
        )


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


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
    p.add_argument("--log-level", choices=config_mod.LOG_LEVELS)
    add("status", cmd_status, "per model: champion, last check, last decision, errors", as_json)
    p = add("history", cmd_history, "the decision log, newest first", as_json)
    p.add_argument("--model")
    p.add_argument("--limit", type=int, default=50)
    p = add("versions", cmd_versions, "model versions and their lineage summary", as_json)
    p.add_argument("--model")
    p = add("show", cmd_show, "the full lineage of one version", as_json)
    p.add_argument("version", help="a version id such as churn-v3")
    p = add("validate", cmd_validate, "check a config file; exit 78 listing every problem")
    p.add_argument("path", nargs="?", help="config file (default: as --config)")
    p = add("drift", cmd_drift, "compare two CSV/Parquet files with the drift engine", as_json)
    p.add_argument("reference")
    p.add_argument("live")
    p.add_argument("--model", help="take drift settings from this model of the config")
    p.add_argument("--categorical", action="append", help="treat this column as categorical")
    p.add_argument("--exclude", action="append", help="ignore this column (repeatable)")
    p = add("promote", cmd_promote, "make a version the champion (one transaction)")
    p.add_argument("model")
    p.add_argument("version")
    p.add_argument("--reason", required=True)
    p = add("rollback", cmd_rollback, "move the champion back (default: the previous one)")
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
    return parser


if __name__ == "__main__":
    sys.exit(main())
