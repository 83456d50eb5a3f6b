"""``<artifacts>/<model>/CHAMPION.json``: the champion where serving code can find it.

The registry is the authority; the file is a copy of its ``champions`` row (joined with the
version and the decision) for readers that do not speak SQLite: a shell script, a sidecar, a
model server's start-up. It is always *rewritten from the registry*, never from the caller's
idea of what it just decided, and under an exclusive ``flock`` on the model's directory: two
writers that committed one after the other (the daemon and ``driftd promote``) may publish in
either order, but the one that publishes last reads the newest row, so the file never goes back
to an older champion. Each write is a temp file beside it, fsynced, renamed over it, and the
directory fsynced (:func:`driftd.trainer.artifacts.write_atomic`): a reader sees the old file
or the new one, never a torn one.

A crash between the commit and the rename leaves the old file; the daemon's start-up sweep
(:func:`repair`) rewrites every pointer that disagrees with the registry.
"""

from __future__ import annotations

import fcntl
import json
import os
import stat
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from driftd.registry import queries

FILE_NAME = "CHAMPION.json"
FORMAT = 1


def pointer_path(artifacts: Path, model: str) -> Path:
    """Where the pointer of ``model`` lives: ``<artifacts>/<model>/CHAMPION.json``."""
    return Path(os.path.abspath(artifacts)) / model / FILE_NAME


def expected(registry: Path, model: str) -> dict[str, Any] | None:
    """What the pointer must hold according to the registry; None without a champion."""
    with queries.read(registry) as c:
        if c is None:
            return None
        row = c.execute(
            "SELECT c.version_id, c.since, c.decision_id, d.created_at, d.action, "
            "v.artifact_path, v.artifact_sha256, v.artifact_size FROM champions c "
            "JOIN versions v ON v.id = c.version_id JOIN decisions d ON d.id = c.decision_id "
            "WHERE c.model = ?",
            (model,),
        ).fetchone()
    if row is None:
        return None
    return {
        "format": FORMAT,
        "model": model,
        "version": row["version_id"],
        "artifact": row["artifact_path"],
        "sha256": row["artifact_sha256"],
        "size": row["artifact_size"],
        # The data clock (the deciding run's `now`; a CLI decision's own time), as `status`.
        "promoted_at": row["since"],
        "recorded_at": row["created_at"],
        "decision_id": row["decision_id"],
        "action": row["action"],
    }


def read(path: Path) -> dict[str, Any] | None:
    """The pointer file's content; None when it is absent or not a JSON object."""
    try:
        value = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def publish(artifacts: Path, registry: Path, model: str) -> dict[str, Any] | None:
    """Make ``model``'s pointer agree with the registry; returns what it now holds.

    Without a champion the file is removed. OSError when the directory cannot be written.
    """
    path = pointer_path(artifacts, model)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _locked(path.parent):
        want = expected(registry, model)
        if want is None:
            path.unlink(missing_ok=True)
        elif read(path) != want:
            _write(path, want)
        return want


def repair(artifacts: Path, registry: Path, models: Iterable[str] = ()) -> list[str]:
    """The start-up sweep's part: rewrite every pointer that disagrees with the registry (a
    crash between a decision's commit and its pointer write), for the registry's models and
    ``models`` (the config's). Returns the models repaired."""
    with queries.read(registry) as c:
        known = [] if c is None else [str(r[0]) for r in c.execute("SELECT name FROM models")]
    repaired: list[str] = []
    for model in sorted({*known, *models}):
        path = pointer_path(artifacts, model)
        want = expected(registry, model)
        if want is None and not path.exists():
            continue
        if read(path) != want:
            publish(artifacts, registry, model)
            repaired.append(model)
    return repaired


def _write(path: Path, content: dict[str, Any]) -> None:
    from driftd.trainer.artifacts import write_atomic

    data = (json.dumps(content, indent=2, sort_keys=True) + "\n").encode()
    # The access of the model directory it sits in, as the artifacts beside it have (0640 in
    # the configured group, whose setgid directory gives the group; else 0600): a model server
    # in that group reads both, and nobody else reads either.
    mode = 0o640 if os.stat(path.parent).st_mode & stat.S_IRGRP else 0o600

    def write(fh: IO[bytes]) -> None:
        fh.write(data)
        os.fchmod(fh.fileno(), mode)

    write_atomic(path, write)


@contextmanager
def _locked(directory: Path) -> Iterator[None]:
    """An exclusive flock on ``directory`` (released when the descriptor closes, also by a
    kill -9, so a crashed writer never blocks the next one)."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
