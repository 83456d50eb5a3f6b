"""Finding and opening data files safely: globs, regular files only, an optional root.

A path is checked with ``stat`` before it is opened, so a FIFO is refused without ever blocking
on it; the file is then opened non-blocking and checked again with ``fstat`` on the open
descriptor, so a path swapped for a FIFO in between is refused too. A file renamed over while it
is read keeps yielding the old content (the descriptor holds the old inode); a file rewritten in
place while it is read is detected by comparing size and mtime before and after the read.
"""

from __future__ import annotations

import codecs
import glob
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from driftd.errors import DataError
from driftd.filekind import describe

_GLOB_CHARS = frozenset("*?[")


class ChangedWhileReading(Exception):  # noqa: N818 - internal signal, not an error for users
    """The file's size or mtime moved during the read; the caller retries once."""


def expand(pattern: str, where: str) -> list[str]:
    """The files a source path names: itself, or its glob matches sorted by name.

    A path that exists is taken literally even if it holds ``[`` or ``*``. Hidden files
    (``.tmp-*`` left by writers) are not matched by ``*``.
    """
    if not _GLOB_CHARS.intersection(pattern) or os.path.lexists(pattern):
        return [pattern]
    matches = sorted(glob.glob(pattern))
    if not matches:
        raise DataError(f"{where}: no files match the pattern")
    return matches


def confine(path: str, root: Path | None, where: str) -> str:
    """``path`` with symlinks resolved, refused when it leaves ``root`` (no check if None)."""
    if root is None:
        return path
    real = Path(os.path.realpath(path))
    base = Path(os.path.realpath(root))
    if not real.is_relative_to(base):
        raise DataError(f"{where}: resolves to {real}, outside the data directory {base}")
    return str(real)


def check_regular(path: str, where: str) -> os.stat_result:
    """stat ``path`` (following symlinks) and refuse anything but a regular file."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise DataError(f"{where}: file not found") from None
    except OSError as exc:
        raise DataError(f"{where}: cannot access: {exc.strerror or exc}") from None
    _require_regular(info, where)
    return info


def _require_regular(info: os.stat_result, where: str) -> None:
    if not stat.S_ISREG(info.st_mode):
        raise DataError(f"{where}: not a regular file ({describe(info.st_mode)})")


@contextmanager
def open_regular(path: str, where: str) -> Iterator[BinaryIO]:
    """Open a regular file for reading; raise ChangedWhileReading if it changes meanwhile."""
    check_regular(path, where)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise DataError(f"{where}: cannot open: {exc.strerror or exc}") from None
    with os.fdopen(fd, "rb") as fh:
        before = os.fstat(fd)
        _require_regular(before, where)
        if before.st_size == 0:
            raise DataError(f"{where}: is empty")
        try:
            yield fh
        except DataError:
            # A parse error in a file rewritten in place says nothing about the new content.
            if _changed(fd, before):
                raise ChangedWhileReading(where) from None
            raise
        if _changed(fd, before):
            raise ChangedWhileReading(where)


def _changed(fd: int, before: os.stat_result) -> bool:
    after = os.fstat(fd)
    return (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns)


def utf8_problem(fh: BinaryIO) -> str | None:
    """Where a file stops being UTF-8: ``byte 1234 (line 7) ...``; None if it is valid.

    pandas reports decode errors relative to its internal buffer, which names no place in the
    file; this scan runs only after such an error, so valid files pay nothing for it.
    """
    fh.seek(0)
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    line = 1
    for block in iter(lambda: fh.read(1 << 20), b""):
        pending = decoder.getstate()[0]
        try:
            decoder.decode(block)
        except UnicodeDecodeError as exc:
            data = pending + block
            bad = offset - len(pending) + exc.start
            line += data[: exc.start].count(b"\n")
            return f"byte {bad} (line {line}) is not valid UTF-8 (0x{data[exc.start]:02x})"
        offset += len(block)
        line += block.count(b"\n")
    pending = decoder.getstate()[0]
    if pending:
        return f"ends inside a UTF-8 sequence (byte {offset - len(pending)})"
    return None
