"""Artifacts on disk: crash-safe writes, sha256, and loading that never executes the file.

A write goes to ``.tmp-*`` in the destination directory, is fsynced, renamed over the final
name and the directory is fsynced: after a crash the final name holds the old file or the new
one, never a torn one, and :func:`sweep_temp_files` removes the leftovers at start-up.

Loading verifies the sha256 of the bytes in memory and then parses those same bytes, so a file
swapped between the check and the load cannot slip through. skops files are parsed with a
trusted-type list made of :data:`TRUSTED_TYPES` plus the operator's ``training.trusted_types``;
the artifact's own list of types is only ever compared against it, never trusted.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import IO, Any

from driftd.errors import ArtifactError

TEMP_PREFIX = ".tmp-"
SKOPS_NAME = "model.skops"
PICKLE_NAME = "model.pkl"

# Types skops does not trust by default but that the estimators driftd builds need: measured
# with skops.io.get_untrusted_types on fitted Pipeline(ColumnTransformer(SimpleImputer +
# OneHotEncoder, SimpleImputer + StandardScaler), X) for LogisticRegression, RandomForest,
# GradientBoosting, HistGradientBoosting and DecisionTree (tests/test_artifacts.py re-measures).
TRUSTED_TYPES: tuple[str, ...] = (
    "numpy.dtype",  # SimpleImputer keeps the fitted dtype
    "sklearn.tree._tree.Tree",  # trees, forests, gradient boosting
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(dest: Path, write: Callable[[IO[bytes]], None]) -> None:
    """Call ``write`` on a temp file beside ``dest``, fsync it, rename it to ``dest``, fsync dir.

    On any failure the temp file is removed and ``dest`` is untouched. A failed fsync is not
    retried on the same file (Linux may already have dropped the dirty pages): the caller writes
    anew.
    """
    fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=dest.suffix, dir=dest.parent)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)  # mkstemp's 0600 would hide artifacts from `group`
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(dest.parent)


def finalize_atomic(tmp: Path, dest: Path) -> None:
    """Make a file written by someone else (a training command) durable under ``dest``."""
    with tmp.open("rb+") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, dest)
    fsync_dir(dest.parent)


def untrusted_types(data: bytes, trusted: Sequence[str] = ()) -> list[str]:
    """Types in a skops archive that neither skops, :data:`TRUSTED_TYPES` nor ``trusted`` allow.

    Reads the archive's schema only; nothing in it is constructed. ValueError when ``data`` is
    not a skops archive.
    """
    import skops.io

    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise ValueError("not a skops file (not a zip archive)")
    try:
        found = skops.io.get_untrusted_types(data=data)
    except Exception as exc:  # skops raises a variety of errors for a malformed schema
        raise ValueError(f"not a readable skops file ({type(exc).__name__}: {exc})") from None
    allowed = set(TRUSTED_TYPES) | set(trusted)
    return sorted(set(found) - allowed)


def load_model(
    path: Path, sha256: str, *, trusted: Sequence[str] = (), allow_pickle: bool = False
) -> Any:
    """Load an artifact after checking its sha256; ArtifactError if missing, altered or unsafe.

    ``model.pkl`` files load only with ``allow_pickle=True`` (pickle runs code on load). Anything
    else must be a skops archive whose types are all trusted.

    >>> load_model(Path("/nonexistent/model.skops"), "0" * 64)
    Traceback (most recent call last):
    driftd.errors.ArtifactError: /nonexistent/model.skops: artifact is missing
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ArtifactError(f"{path}: artifact is missing") from None
    except OSError as exc:
        raise ArtifactError(f"{path}: cannot read: {exc.strerror or exc}") from None
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha256.strip().lower():
        raise ArtifactError(
            f"{path}: sha256 mismatch (registry {sha256[:12]}..., file {actual[:12]}...); "
            "the artifact was altered or replaced, refusing to load"
        )
    if path.name.endswith(".pkl"):
        if not allow_pickle:
            raise ArtifactError(
                f"{path}: pickle artifact refused; set training.allow_pickle = true to load it"
            )
        import pickle

        try:
            return pickle.loads(data)  # the operator opted in, and the hash matched
        except Exception as exc:
            raise ArtifactError(f"{path}: cannot unpickle: {type(exc).__name__}: {exc}") from None
    try:
        bad = untrusted_types(data, trusted)
    except ValueError as exc:
        raise ArtifactError(f"{path}: {exc}; refusing to load") from None
    if bad:
        raise ArtifactError(
            f"{path}: untrusted types {', '.join(bad)}; list them in training.trusted_types "
            "only if you trust whoever wrote this artifact"
        )
    import skops.io

    try:
        return skops.io.loads(data, trusted=sorted(set(TRUSTED_TYPES) | set(trusted)))
    except Exception as exc:
        raise ArtifactError(f"{path}: cannot load: {type(exc).__name__}: {exc}") from None


def sweep_temp_files(
    artifact_root: Path, *, skip: Collection[Path] = (), before: float | None = None
) -> list[Path]:
    """Remove ``.tmp-*`` files and directories left by interrupted writes or trainings.

    Call it when no training runs (the daemon does so at start-up, before scheduling), or pass
    the directories where one may run (a concurrent ``driftd check``) as ``skip``: nothing below
    them is touched; ``before`` (a ``time.time()``) spares entries modified since, so a writer
    that started after the caller looked cannot lose its file. Symlinks are never followed.
    Returns what was removed.
    """
    skipped = {os.path.normpath(s) for s in skip}
    removed: list[Path] = []

    def fresh(path: Path) -> bool:
        try:
            return before is not None and path.lstat().st_mtime >= before
        except FileNotFoundError:
            return True  # gone already: nothing to remove

    for here, dirs, files in os.walk(artifact_root):
        base = Path(here)
        if os.path.normpath(here) in skipped:
            dirs.clear()
            continue
        for name in files:
            if name.startswith(TEMP_PREFIX) and not fresh(base / name):
                (base / name).unlink(missing_ok=True)
                removed.append(base / name)
        for name in list(dirs):
            if name.startswith(TEMP_PREFIX):
                dirs.remove(name)
                target = base / name
                if fresh(target):
                    continue
                if target.is_symlink():
                    target.unlink()
                else:
                    shutil.rmtree(target, ignore_errors=True)
                removed.append(target)
    return sorted(removed)
