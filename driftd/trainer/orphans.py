"""Version directories that no registry row references: what a crash can leave behind.

A cycle creates ``<artifacts>/<model>/<12 hex digits>/`` (the training data snapshot, then the
artifact) and only afterwards records the version in the registry. A crash, or a failure, in
between leaves a directory nothing points at. :func:`find_orphans` says which directories are
orphans and which of them are safe to remove; it is pure, so the rule is unit-tested without a
clock or a registry. The daemon's start-up sweep lists the directories, asks the registry, and
calls :func:`remove_dirs` (see :mod:`driftd.sweep`).

The rule, conservative on purpose:

* only directories named like the cycle names them (12 lower-case hex digits) under a model
  the registry knows are candidates; ``logs/``, ``.tmp-*`` (the temp sweep's business) and
  anything an operator put there are never touched;
* a candidate is an **orphan** when no ``versions`` row has its artifact in it (rows whose
  artifact was garbage-collected still count: the directory is theirs);
* an orphan is **removable** when its model has no run still ``running`` (after the stale runs
  of dead processes were closed), or when nothing in it changed for ``min_age`` seconds. Every
  writer starts its run before it creates its directory and the listing is taken before the
  registry is read, so a directory of a cycle still in flight (a concurrent ``driftd check``)
  always shows up as a running run of its model; ``min_age`` bounds how long a writer that
  died without being noticed (its pid reused) keeps its directory;
* but never when the registry keeps that model's versions in *another* directory: the artifact
  root was moved or copied, or is spelled differently (through a symlink), and what looks
  unreferenced here may be the only copy. Such orphans are reported, never removed.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path

VERSION_DIR = re.compile(r"[0-9a-f]{12}")


@dataclass(frozen=True, slots=True)
class VersionDir:
    """One candidate directory: its path, its model, the newest mtime of it and its entries."""

    path: Path
    model: str
    mtime: float


def find_orphans(
    dirs: Iterable[VersionDir],
    referenced: Collection[str],
    busy_models: Collection[str],
    *,
    now: float,
    min_age: float,
) -> tuple[list[VersionDir], list[VersionDir]]:
    """``(orphans, removable)``: unreferenced directories, and those of them safe to delete.

    ``referenced`` holds the absolute directories of every ``versions`` row's artifact;
    ``busy_models`` the models with a run still ``running``.

    >>> a = VersionDir(Path("/a/churn/0123456789ab"), "churn", mtime=0.0)
    >>> b = VersionDir(Path("/a/churn/ba9876543210"), "churn", mtime=990.0)
    >>> refs = {"/a/churn/0123456789ab"}
    >>> orphans, removable = find_orphans([a, b], refs, (), now=1000, min_age=60)
    >>> [d.path.name for d in orphans], [d.path.name for d in removable]
    (['ba9876543210'], ['ba9876543210'])
    >>> find_orphans([b], set(), {"churn"}, now=1000, min_age=60)[1]  # churn is mid-cycle
    []
    >>> find_orphans([b], {"/old/churn/0123456789ab"}, (), now=1000, min_age=60)[1]  # moved root
    []
    """
    known = {os.path.normpath(p) for p in referenced}
    homes: dict[str, set[str]] = {}
    for path in known:
        parent = os.path.dirname(path)
        homes.setdefault(os.path.basename(parent), set()).add(parent)

    def elsewhere(d: VersionDir) -> bool:
        parents = homes.get(d.model, set())
        return bool(parents) and os.path.normpath(d.path.parent) not in parents

    orphans = [d for d in dirs if os.path.normpath(d.path) not in known]
    removable = [
        d
        for d in orphans
        if not elsewhere(d) and (d.model not in busy_models or now - d.mtime >= min_age)
    ]
    return sorted(orphans, key=_key), sorted(removable, key=_key)


def model_dirs(artifact_root: Path) -> list[str]:
    """Names of the directories directly under ``artifact_root`` (one per model; symlinks and an
    absent root give none)."""
    try:
        return sorted(e.name for e in os.scandir(artifact_root) if e.is_dir(follow_symlinks=False))
    except OSError:
        return []


def list_version_dirs(artifact_root: Path, models: Collection[str]) -> list[VersionDir]:
    """The candidate directories under ``artifact_root/<model>/`` for each of ``models``.

    Symlinks are skipped (never followed, never removed). A directory that vanishes while it is
    listed is skipped too.
    """
    found: list[VersionDir] = []
    for model in sorted(models):
        base = artifact_root / model
        try:
            entries = list(os.scandir(base))
        except (FileNotFoundError, NotADirectoryError):
            continue
        for entry in entries:
            if not VERSION_DIR.fullmatch(entry.name) or not entry.is_dir(follow_symlinks=False):
                continue
            try:
                mtime = newest_mtime(Path(entry.path))
            except FileNotFoundError:
                continue
            found.append(VersionDir(Path(entry.path), model, mtime))
    return sorted(found, key=_key)


def remove_dirs(dirs: Iterable[VersionDir]) -> list[Path]:
    """Delete each directory (symlinks inside are unlinked, not followed); return those gone."""
    removed: list[Path] = []
    for d in dirs:
        shutil.rmtree(d.path, ignore_errors=True)
        if not d.path.exists():
            removed.append(d.path)
    return removed


def newest_mtime(path: Path) -> float:
    """The newest mtime of ``path`` and, for a directory, of everything below it (symlinks not
    followed); FileNotFoundError when ``path`` itself is gone."""
    newest = path.lstat().st_mtime
    if not path.is_dir() or path.is_symlink():
        return newest
    for here, subdirs, files in os.walk(path):
        for name in (*subdirs, *files):
            try:
                newest = max(newest, os.lstat(os.path.join(here, name)).st_mtime)
            except FileNotFoundError:
                continue
    return newest


def _key(d: VersionDir) -> str:
    return str(d.path)
