"""One ``driftd run`` per registry: an advisory ``flock`` on ``<registry>.lock``.

Why ``flock`` and not a pid file alone: the kernel drops the lock when the last descriptor of the
open file goes away, so a daemon killed with SIGKILL (or by the OOM killer) never leaves a stale
lock behind. The pid written into the file is only for the message and for ``driftd status``.

Why the file is never deleted: unlinking a lock file lets two processes lock two different inodes
under the same name. Release truncates it instead, so an empty file means "not held".

The descriptor is close-on-exec, so a training child started with ``subprocess`` (or
multiprocessing's spawn / forkserver) does not keep the lock alive after the daemon dies. A bare
``os.fork()`` without exec would share it: do not fork training children that way.

>>> import tempfile
>>> with tempfile.TemporaryDirectory() as d:
...     with InstanceLock(Path(d) / "registry.db.lock") as lock:
...         lock.holder_pid() == os.getpid()
True
"""

from __future__ import annotations

import errno
import fcntl
import os
import time
from pathlib import Path
from types import TracebackType

from driftd.errors import LockError, RegistryError

__all__ = ["InstanceLock"]

# `holder_pid()` probes with a shared lock for a few microseconds; a daemon starting at that
# very instant must not mistake the probe for a rival daemon.
_ATTEMPTS = 4
_RETRY_SECONDS = 0.05


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
        """Take the lock or raise LockError naming the holder; idempotent while held."""
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
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except BlockingIOError:
            pid = _read_pid(fd)
            os.close(fd)
            who = f"another driftd (pid {pid})" if pid else "another driftd"
            raise LockError(f"{who} holds {self.path}") from None
        except OSError as exc:
            os.close(fd)
            raise RegistryError(f"cannot lock {self.path}: {exc.strerror}") from None
        self._fd = fd

    def release(self) -> None:
        """Give the lock up (a no-op when not held). The file stays, emptied."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            # Empty before unlocking: whoever locks next finds no stale pid.
            os.ftruncate(fd, 0)
        except OSError:
            pass  # the pid is informational; the lock itself is what matters
        finally:
            os.close(fd)  # closing the only descriptor drops the flock

    def holder_pid(self) -> int | None:
        """The pid of the process holding the lock now, or None when nobody does.

        Reading the pid first means a running daemon is never probed with a lock; only a pid left
        by a killed holder is checked, and found stale.
        """
        if self._fd is not None:
            return os.getpid()
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise RegistryError(f"cannot read lock file {self.path}: {exc.strerror}") from None
        try:
            pid = _read_pid(fd)
            if pid is None:
                return None
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return pid
            except OSError as exc:
                if exc.errno == errno.ENOLCK:
                    return pid  # no lock support here (some network filesystems): trust the pid
                raise RegistryError(f"cannot probe {self.path}: {exc.strerror}") from None
            return None  # we could lock it, so the pid in the file is stale
        finally:
            os.close(fd)

    def __enter__(self) -> InstanceLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()

    def __repr__(self) -> str:
        return f"InstanceLock({str(self.path)!r}, held={self.held})"


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None
