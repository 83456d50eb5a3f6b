"""``driftd gc``: which artifacts may go, and removing them with a decision in the log.

The rule for versions is :func:`select`, a pure function (unit-tested without a registry). A
version's artifact is **kept** when the version

* is the current champion, or ever was one (rollback needs it; the registry refuses anyway:
  ``Registry.delete_version_artifact``);
* is among the ``keep`` newest versions of its model (``models.policy.keep_versions``, or
  ``driftd gc --keep N``), whatever its status, so recent rejects stay inspectable;
* is the newest version of its model awaiting approval (or marked ``would_promote`` in
  dry-run mode): an operator may still promote it;
* was trained by a run that is still running (its decision is not written yet).

Every other version's directory (the artifact and its training-data snapshot) is removed, each
with a ``gc`` decision written in the same transaction that marks the artifact deleted.

Beyond versions, gc removes what crashes leave on disk, with the daemon's start-up rule
(:mod:`driftd.trainer.orphans`) plus an age floor of :data:`MIN_AGE`: version directories no
registry row references, and ``.tmp-*`` files and directories of interrupted writes. Nothing of a
model with a run still running is touched unless it is older than the longest training timeout
(twice over), so an in-flight training is safe. Each orphan directory gets its own ``gc``
decision (with no version); the temp files of a model share one.

Clocks: the rule for versions reads no time at all (counts and statuses only), so a replay's
registry, whose runs live on a ``--now`` clock, is collected exactly like a live one. gc's own
decisions have no run, so their logical time is when they are recorded, as for ``promote`` and
``rollback`` (see ``registry.writes.logical_time``). The age floor for leftovers alone uses the
wall clock: it compares file modification times, which the file system writes in wall time.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from driftd import trainer
from driftd.config import Config, PolicyConfig
from driftd.domain import Action, Decision
from driftd.errors import DriftdError
from driftd.registry import queries
from driftd.registry.store import Registry

MIN_AGE = 3600.0  # seconds untouched before an orphan directory or temp file may go
OPEN_ACTIONS = ("awaiting_approval", "would_promote")  # a human may still act on these
TEMP_PREFIX = ".tmp-"


@dataclass(frozen=True, slots=True)
class VersionFacts:
    """What the rule needs to know about one version (see ``queries.retention_facts``)."""

    id: str
    model: str
    number: int
    champion: bool = False
    was_champion: bool = False
    last_action: str | None = None
    run_pending: bool = False
    deleted: bool = False


@dataclass(frozen=True, slots=True)
class Choice:
    """The rule's answer for one version: collect it or not, and why, in a few words."""

    version_id: str
    model: str
    collect: bool
    reason: str


def select(versions: Iterable[VersionFacts], keep: int | Mapping[str, int]) -> list[Choice]:
    """Keep or collect each version not yet collected; ``keep`` is N, or N per model name.

    >>> vs = [VersionFacts("m-v1", "m", 1, champion=True, was_champion=True),
    ...       VersionFacts("m-v2", "m", 2, last_action="reject"),
    ...       VersionFacts("m-v3", "m", 3, last_action="awaiting_approval"),
    ...       VersionFacts("m-v4", "m", 4, last_action="awaiting_approval")]
    >>> for c in select(vs, keep=0):
    ...     print(c.version_id, c.collect, c.reason)
    m-v1 False current champion
    m-v2 True rejected
    m-v3 True awaiting approval, superseded by m-v4
    m-v4 False newest version awaiting approval
    """
    by_model: dict[str, list[VersionFacts]] = {}
    for v in versions:
        by_model.setdefault(v.model, []).append(v)
    out: list[Choice] = []
    for model in sorted(by_model):
        n = keep if isinstance(keep, int) else keep.get(model, PolicyConfig().keep_versions)
        if n < 0:
            raise DriftdError(f"gc: keep must be >= 0 (got {n})")
        group = sorted(by_model[model], key=lambda v: v.number)
        newest = {v.id for v in group[max(0, len(group) - n) :]}
        waiting = [
            v
            for v in group
            if v.last_action in OPEN_ACTIONS and not v.was_champion and not v.deleted
        ]
        open_newest = waiting[-1].id if waiting else None
        for v in group:
            if v.deleted:
                continue
            reason = _kept_because(v, n, newest, open_newest)
            collect = reason is None
            out.append(Choice(v.id, model, collect, reason or _collect_because(v, open_newest)))
    return out


def _kept_because(v: VersionFacts, n: int, newest: set[str], open_newest: str | None) -> str | None:
    if v.champion:
        return "current champion"
    if v.was_champion:
        return "former champion (kept for rollback)"
    if v.run_pending:
        return "its run is still in progress"
    if v.id in newest:
        return f"among the {n} newest versions"
    if v.id == open_newest:
        return "newest version awaiting approval"
    return None


def _collect_because(v: VersionFacts, open_newest: str | None) -> str:
    if v.last_action in OPEN_ACTIONS:
        status = "awaiting approval" if v.last_action == "awaiting_approval" else "would_promote"
        return f"{status}, superseded by {open_newest}"
    return {
        "reject": "rejected",
        "inconclusive": "inconclusive",
        None: "never decided (its run ended without a decision)",
    }.get(v.last_action, str(v.last_action))


# --- the plan and its execution -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Removal:
    """One thing gc removes (or would remove): a version's directory, an orphan, a temp file."""

    kind: str  # version | orphan | temp
    model: str
    path: str
    bytes: int
    reason: str
    version_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "model": self.model,
            "version_id": self.version_id,
            "path": self.path,
            "bytes": self.bytes,
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class Plan:
    removals: tuple[Removal, ...]
    kept: tuple[Choice, ...]
    errors: tuple[str, ...] = field(default=())

    def to_dict(self, *, dry_run: bool) -> dict[str, Any]:
        return {
            "dry_run": dry_run,
            "removed": [r.to_dict() for r in self.removals],
            "bytes": sum(r.bytes for r in self.removals),
            "kept": [{"version_id": c.version_id, "reason": c.reason} for c in self.kept],
            "errors": list(self.errors),
        }


def plan(
    cfg: Config, *, model: str | None = None, keep: int | None = None, now: float | None = None
) -> Plan:
    """What gc would remove now, read from the registry and the artifact directory only."""
    now = time.time() if now is None else now
    root = cfg.artifacts
    # Listed before the registry is read: see driftd.trainer.orphans for why this order.
    models_on_disk = trainer.model_dirs(root)
    listed = trainer.list_version_dirs(root, models_on_disk)
    temps = _temp_entries(root, models_on_disk)
    facts = queries.retention_facts(cfg.registry, model)
    known, _, busy = queries.artifact_usage(cfg.registry)
    # Unlike the start-up sweep, a collected version's directory is not "referenced": if gc was
    # interrupted between its commit and the removal, the leftover goes the next time.
    referenced = {
        os.path.dirname(str(f["artifact_path"])) for f in facts if not f["artifact_deleted_at"]
    }
    scope = ({model} if model else known) & known  # a decision needs a model row
    keeps: int | dict[str, int] = (
        keep if keep is not None else {m.name: m.policy.keep_versions for m in cfg.models}
    )
    choices = select((_facts(f) for f in facts), keeps)
    by_id = {f["id"]: f for f in facts}
    removals: list[Removal] = []
    for choice in choices:
        if choice.collect:
            row = by_id[choice.version_id]
            directory = Path(row["artifact_path"]).parent
            removals.append(
                Removal(
                    "version",
                    choice.model,
                    str(directory),
                    _size(directory),
                    choice.reason,
                    choice.version_id,
                )
            )
    min_age = max([MIN_AGE, *(2 * m.training.timeout.total_seconds() for m in cfg.models)])
    _, removable = trainer.find_orphans(
        [d for d in listed if d.model in scope], referenced, busy, now=now, min_age=min_age
    )
    for d in removable:
        if now - d.mtime >= MIN_AGE:
            reason = "no version references it"
            removals.append(Removal("orphan", d.model, str(d.path), _size(d.path), reason))
    gone = [r.path + os.sep for r in removals]  # their temp files go with them
    for entry_model, path, mtime in temps:
        if entry_model not in scope or str(path).startswith(tuple(gone)):
            continue
        young = now - mtime < (min_age if entry_model in busy else MIN_AGE)
        if not young:
            reason = "left by an interrupted write or training"
            removals.append(Removal("temp", entry_model, str(path), _size(path), reason))
    kept = tuple(c for c in choices if not c.collect)
    return Plan(tuple(removals), kept)


def execute(registry: Registry, planned: Plan, *, actor: str) -> Plan:
    """Remove what ``planned`` lists, logging each removal; return what was really removed.

    A version that became champion since the plan (or was removed by someone else) is skipped
    and reported in ``errors``; so is a path that could not be removed.
    """
    done: list[Removal] = []
    errors: list[str] = []
    for r in (r for r in planned.removals if r.kind != "temp"):
        try:
            if r.kind == "version" and r.version_id is not None:
                gone = registry.delete_version_artifact(
                    r.version_id,
                    actor=actor,
                    reason=f"gc: {r.reason}",
                    payload={"kind": "version", "directory": r.path, "bytes": r.bytes},
                    remove_dir=True,
                )
                if gone is None:
                    continue
            else:
                registry.decide(
                    r.model,
                    None,
                    Decision(Action.GC, f"gc: orphaned artifact directory ({r.reason})"),
                    run_id=None,
                    actor=actor,
                    payload={"kind": "orphan", "directory": r.path, "bytes": r.bytes},
                )
                shutil.rmtree(r.path)
        except (DriftdError, OSError) as exc:
            errors.append(f"{r.version_id or r.path}: {_one_line(exc)}")
            continue
        done.append(r)
    temps: dict[str, list[Removal]] = {}
    for r in planned.removals:
        if r.kind == "temp":
            temps.setdefault(r.model, []).append(r)
    for model, entries in sorted(temps.items()):
        registry.decide(
            model,
            None,
            Decision(Action.GC, f"gc: {len(entries)} temp file(s) of interrupted writes"),
            run_id=None,
            actor=actor,
            payload={
                "kind": "temp",
                "paths": [r.path for r in entries],
                "bytes": sum(r.bytes for r in entries),
            },
        )
        for r in entries:
            try:
                _remove(Path(r.path))
            except OSError as exc:
                errors.append(f"{r.path}: {_one_line(exc)}")
                continue
            done.append(r)
    return Plan(tuple(done), planned.kept, tuple(errors))


# --- helpers ---------------------------------------------------------------------------------


def _facts(row: Mapping[str, Any]) -> VersionFacts:
    return VersionFacts(
        id=str(row["id"]),
        model=str(row["model"]),
        number=int(row["number"]),
        champion=bool(row["champion"]),
        was_champion=bool(row["was_champion"]),
        last_action=row["last_action"],
        run_pending=row["run_status"] == "running",
        deleted=row["artifact_deleted_at"] is not None,
    )


def _temp_entries(root: Path, models: Sequence[str]) -> list[tuple[str, Path, float]]:
    """``(model, path, newest mtime)`` of every ``.tmp-*`` entry below ``root/<model>/``."""
    found: list[tuple[str, Path, float]] = []
    for model in models:
        for here, dirs, files in os.walk(root / model):
            for name in [*files, *dirs]:
                if name.startswith(TEMP_PREFIX):
                    path = Path(here) / name
                    try:
                        found.append((model, path, trainer.newest_mtime(path)))
                    except FileNotFoundError:
                        continue
            dirs[:] = [d for d in dirs if not d.startswith(TEMP_PREFIX)]
    return sorted(found, key=lambda t: str(t[1]))


def _size(path: Path) -> int:
    """Bytes of a file or of everything below a directory (symlinks not followed)."""
    try:
        if not path.is_dir() or path.is_symlink():
            return path.lstat().st_size
    except FileNotFoundError:
        return 0
    total = 0
    for here, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(here, name)).st_size
            except FileNotFoundError:
                continue
    return total


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
