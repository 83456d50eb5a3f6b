"""One ``driftd run`` per registry: an advisory ``flock`` on ``<registry>.lock``.

Why ``flock`` and not a pid file alone: the kernel drops the lock when the last descriptor of the
open file goes away, so a daemon killed with SIGKILL (or by the OOM killer) never leaves a stale
lock behind. What the file says is for the refusal message and for ``driftd status``.

Why the file is never deleted: unlinking a lock file lets two processes lock two different inodes
under the same name. A clean release truncates it instead, so an empty file means "released
cleanly" (or never taken).

What the file says (:func:`inspect` reads it, with whether the lock is held):

* ``PID`` then ``starting N``: held by PID, which has not yet reported itself up (the daemon does
  so after its first heartbeat, :meth:`InstanceLock.mark_up`); it is the N-th holder in a row that
  did not get that far. Left behind by a holder that died, it says the holder died in start-up,
  and N > 1 says the start-ups keep failing (a crash loop).
* ``PID`` alone: held by PID, which is up; left behind, PID died after it was up.
* empty: the last holder released the lock cleanly. A holder that ends with an exception releases
  with ``clean=False``, which leaves its line so that it reads as died, not as stopped.

The descriptor is close-on-exec, so a training child started with ``subprocess`` (or
multiprocessing's spawn / forkserver) does not keep the lock alive after the daemon dies. A bare
``os.fork()`` without exec would share it: do not fork training children that way.

>>> import tempfile
>>> with tempfile.TemporaryDirectory() as d:
...     with InstanceLock(Path(d) / "registry.db.lock") as lock:
...         lock.holder_pid() == os.getpid(), inspect(lock.path).starting
(True, 1)
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

from driftd.errors import LockError, RegistryError

__all__ = ["InstanceLock", "LockState", "inspect", "lock_path"]

# `holder_pid()` probes with a shared lock for a few microseconds; a daemon starting at that
# very instant must not mistake the probe for a rival daemon.
_ATTEMPTS = 4
_RETRY_SECONDS = 0.05
_STARTING = "starting"
_READ_BYTES = 64


def lock_path(registry: Path) -> Path:
    """The lock file of a registry: ``registry.db`` -> ``registry.db.lock``.

    >>> lock_path(Path("/var/lib/driftd/registry.db")).name
    'registry.db.lock'
    """
    registry = Path(registry)
    return registry.with_name(registry.name + ".lock")


@dataclass(frozen=True, slots=True)
class LockState:
    """What a lock file says, and whether someone holds the lock now.

    ``held`` is None when it could not be probed (no lock support on the filesystem).
    ``pid`` is the holder's, or the last holder's when it did not release cleanly; ``starting``
    is 0 once that holder reported itself up, else how many holders in a row, it included, did
    not get that far. ``written_at`` is when the line was last written (the file's mtime).
    """

    held: bool | None
    pid: int | None
    starting: int
    written_at: datetime | None


class InstanceLock:
    """An exclusive, non-blocking lock on ``path``; usable as a context manager."""

    __slots__ = ("_fd", "path")

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        """Whether this object holds the lock."""
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock or raise LockError naming the holder; idempotent while held.

        The line written counts this start after any the previous holder left unfinished.
        """
        if self._fd is not None:
            return
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise RegistryError(f"cannot open lock file {self.path}: {exc.strerror}") from None
        try:
            for attempt in range(_ATTEMPTS):
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if attempt == _ATTEMPTS - 1:
                        raise
                    time.sleep(_RETRY_SECONDS)
            _, before = _parse(_read(fd))
            _write(fd, f"{os.getpid()}\n{_STARTING} {before + 1}\n")
        except BlockingIOError:
            pid, _ = _parse(_read(fd))
            os.close(fd)
            who = f"another driftd (pid {pid})" if pid else "another driftd"
            raise LockError(f"{who} holds {self.path}") from None
        except OSError as exc:
            os.close(fd)
            raise RegistryError(f"cannot lock {self.path}: {exc.strerror}") from None
        self._fd = fd

    def mark_up(self) -> None:
        """Record that the holder got through its start-up (drops the ``starting`` line)."""
        if self._fd is None:
            return
        # Informational: if it fails, status reads "starting" until the next clean release.
        with contextlib.suppress(OSError):
            _write(self._fd, f"{os.getpid()}\n")

    def release(self, *, clean: bool = True) -> None:
        """Give the lock up (a no-op when not held). The file stays.

        ``clean=True`` empties it; ``clean=False`` (the holder is ending with an error) leaves
        the holder's line, so that ``driftd status`` reports it died rather than stopped.
        """
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            if clean:
                # Empty before unlocking: whoever locks next finds no stale pid.
                os.ftruncate(fd, 0)
        except OSError:
            pass  # the pid is informational; the lock itself is what matters
        finally:
            os.close(fd)  # closing the only descriptor drops the flock

    def holder_pid(self) -> int | None:
        """The pid of the process holding the lock now, or None when nobody does."""
        if self._fd is not None:
            return os.getpid()
        state = inspect(self.path)
        return state.pid if state is not None and state.held is not False else None

    def __enter__(self) -> InstanceLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release(clean=exc_type is None)

    def __repr__(self) -> str:
        return f"InstanceLock({str(self.path)!r}, held={self.held})"


def inspect(path: Path) -> LockState | None:
    """Read a lock file and probe whether it is held; None when there is no file.

    Reading the line first means a running holder is never probed with a lock when the file is
    empty; a line is checked with a shared lock for an instant, which fails while it is held.
    Raises RegistryError when the file exists but cannot be read.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise RegistryError(f"cannot read lock file {path}: {exc.strerror}") from None
    try:
        pid, starting = _parse(_read(fd))
        written = datetime.fromtimestamp(os.fstat(fd).st_mtime, UTC) if pid else None
        held: bool | None = False
        if pid is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                held = True
            except OSError as exc:
                if exc.errno != errno.ENOLCK:
                    raise RegistryError(f"cannot probe {path}: {exc.strerror}") from None
                held = None  # no lock support here (some network filesystems)
        return LockState(held=held, pid=pid, starting=starting, written_at=written)
    finally:
        os.close(fd)


def _read(fd: int) -> str:
    try:
        return os.pread(fd, _READ_BYTES, 0).decode("ascii", "replace")
    except OSError:
        return ""


def _write(fd: int, text: str) -> None:
    """Replace the file's text; a reader meanwhile sees the old or the new first line whole."""
    data = text.encode()
    os.pwrite(fd, data, 0)
    os.ftruncate(fd, len(data))


def _parse(text: str) -> tuple[int | None, int]:
    """``(pid, starting)`` from a lock file's text; ``(None, 0)`` when it names no pid.

    >>> _parse("4242\\nstarting 3\\n"), _parse("4242\\n"), _parse(""), _parse("junk")
    ((4242, 3), (4242, 0), (None, 0), (None, 0))
    """
    lines = text.splitlines()
    first = lines[0].strip() if lines else ""
    if not first.isdigit():
        return None, 0
    starting = 0
    if len(lines) > 1:
        key, _, value = lines[1].strip().partition(" ")
        if key == _STARTING and value.isdigit():
            starting = int(value)
    return int(first), starting
