"""Crash-safe Parquet writes (the training-data snapshot kept beside each artifact)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pandas as pd

from driftd.errors import DataError

TEMP_PREFIX = ".tmp-"  # the prefix the artifact sweep removes after a crash


def write_parquet_atomic(frame: pd.DataFrame, path: str | os.PathLike[str]) -> None:
    """Write ``frame`` (without its index) to ``path`` so that a crash leaves old or new file.

    The bytes go to a ``.tmp-*`` file in the same directory, are fsynced, renamed over
    ``path``, and the directory is fsynced. DataError (naming ``path``) on failure; ``path``
    is then untouched and no temp file is left.
    """
    dest = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=".parquet", dir=dest.parent)
    except OSError as exc:
        raise DataError(f"{dest}: cannot write: {exc.strerror or exc}") from None
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)  # mkstemp's 0600 would hide the file from a `group`
        with os.fdopen(fd, "wb") as fh:
            frame.to_parquet(fh, index=False)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, dest)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, Exception):
            text = str(exc).splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise DataError(f"{dest}: cannot write Parquet: {text}") from None
        raise
    dir_fd = os.open(dest.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
