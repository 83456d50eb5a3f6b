"""The daemon's start-up sweep: close the runs that dead processes left 'running', then remove
what their crashes left on disk (temp files, orphaned version directories)."""

from __future__ import annotations

import logging
import os
import time
from datetime import timedelta
from pathlib import Path

from driftd import trainer
from driftd.champion import pointer
from driftd.config import Config
from driftd.log import event
from driftd.registry import queries
from driftd.registry.store import Registry

# An orphaned version directory of a model that is mid-cycle elsewhere is removed only after
# this long untouched (or twice the longest training timeout, if longer).
ORPHAN_MIN_AGE = timedelta(hours=1)
ORPHANS_LOGGED = 3


def at_startup(cfg: Config, registry: Registry) -> None:
    """Start-up: close the runs of dead processes, then clear what their crashes left on disk."""
    stale = registry.interrupt_stale_runs("driftd stopped during this run (found at start-up)")
    removed, orphans, deleted = artifacts(cfg) if cfg.artifacts.exists() else ([], [], [])
    if orphans:
        paths = [str(d.path) for d in orphans[:ORPHANS_LOGGED]]
        if len(orphans) > ORPHANS_LOGGED:
            paths.append(f"... ({len(orphans) - ORPHANS_LOGGED} more)")
        event(
            "startup.orphans",
            logging.WARNING,
            count=len(orphans),
            removed=len(deleted),
            kept=(len(orphans) - len(deleted)) or None,
            paths=",".join(paths),
        )
    repaired = champion_pointers(cfg)
    event(
        "startup.sweep",
        interrupted_runs=stale,
        temp_files_removed=len(removed),
        orphans_removed=len(deleted),
        pointers_repaired=len(repaired),
    )


def champion_pointers(cfg: Config) -> list[str]:
    """Rewrite each ``CHAMPION.json`` that disagrees with the registry: a crash between a
    decision's commit and its pointer write left the old one (see
    :mod:`driftd.champion.pointer`). The models repaired, each logged."""
    try:
        repaired = pointer.repair(cfg.artifacts, cfg.registry, [m.name for m in cfg.models])
    except OSError as exc:  # the daemon can still run; the next change rewrites the file
        event("startup.champion_pointer", logging.WARNING, error=f"{exc.filename}: {exc.strerror}")
        return []
    for model in repaired:
        event("startup.champion_pointer", logging.WARNING, model=model, repaired=True)
    return repaired


def artifacts(
    cfg: Config,
) -> tuple[list[Path], list[trainer.VersionDir], list[Path]]:
    """``(temp files removed, orphaned version directories, those removed)``.

    A model with a run still 'running' here belongs to a live process (a concurrent ``driftd
    check``; the runs of dead ones were just closed): its temp files are left alone, and its
    orphans only go once untouched for ``ORPHAN_MIN_AGE`` (see :mod:`driftd.trainer.orphans`).
    The directories are listed before the registry is read: a cycle records its run before it
    creates its directory, so a directory listed here is either referenced, or its writer's run
    is still 'running' in the snapshot, or nobody will ever reference it.
    """
    root = Path(os.path.abspath(cfg.artifacts))  # spelled as the registry stores paths
    started = time.time()
    listed = trainer.list_version_dirs(root, trainer.model_dirs(root))
    models, referenced, busy = queries.artifact_usage(cfg.registry)
    # A cycle starting after that snapshot is not in `busy`: `before` spares its files.
    removed = trainer.sweep_temp_files(root, skip=[root / m for m in busy], before=started)
    timeouts = [m.training.timeout.total_seconds() for m in cfg.models]
    min_age = max([ORPHAN_MIN_AGE.total_seconds(), *(2 * t for t in timeouts)])
    orphans, removable = trainer.find_orphans(
        [d for d in listed if d.model in models],
        referenced,
        busy,
        now=time.time(),
        min_age=min_age,
    )
    return removed, orphans, trainer.remove_dirs(removable)
