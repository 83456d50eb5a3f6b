"""Writer connections: one per thread, each change one ``BEGIN IMMEDIATE`` transaction.

Why one connection per thread: APScheduler runs cycles in worker threads and a sqlite3
connection must not be used by two threads at once. Opening a connection per operation
measured 0.6 ms here against 0.02 ms for a query on an open one, and it would checkpoint and
delete the WAL whenever the last connection closed; a connection per thread (kept until
``close()``, or until its thread has died) is cheaper and keeps transactions independent.

Why IMMEDIATE: a deferred ``BEGIN`` (sqlite3's implicit transactions, sqlite-utils'
``db.atomic()``) takes a read snapshot first; if another process commits before our first
write, SQLite cannot upgrade the snapshot and fails at once with SQLITE_BUSY_SNAPSHOT, ignoring
``busy_timeout``. IMMEDIATE takes the write lock up front, so a second writer waits up to
``busy_timeout`` instead. ``isolation_level=None`` stops sqlite3 from opening or committing
transactions behind our back.

Why the daemon serialises its own writers: SQLite's write lock is one per file, and a waiter
polls it with sleeps rather than queueing, so with 200 models on one daemon about 12 % of the
cycles after the first round waited longer than ``busy_timeout`` for transactions of their own
siblings and were dropped ("database is locked"). Every write transaction of one :class:`Pool`
therefore first takes a process-wide lock (threads queue in Python, in a few milliseconds each),
and ``busy_timeout`` is left to cover other processes only (``driftd promote`` beside the daemon).
A writer that must not queue (the heartbeat) asks with a deadline: :meth:`Pool.transaction`'s
``wait``.

Why ``synchronous=FULL`` on every connection: measured on this shared 2-core machine (WAL,
ext4), a bare commit costs 0.5-4.8 ms with FULL against 0.03-0.1 ms with NORMAL (fsync cost
varies with the neighbours' I/O); through this API a promotion took 0.8-0.9 ms with FULL and
0.3-0.4 ms with NORMAL at a quiet moment. A cycle commits about ten times and the heartbeat
once per 5 s, so FULL costs far under 0.1 % of the daemon's time; in exchange a promotion that
``driftd promote`` reported done survives a power cut (NORMAL may lose the last commits). One
setting everywhere also means no commit is less durable than the decision it depends on.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from driftd.errors import RegistryBusyError, RegistryError
from driftd.filekind import describe
from driftd.registry import codec


def require_regular(path: Path) -> None:
    """RegistryError unless ``path`` is a regular file or absent (symlinks are followed).

    SQLite, handed a directory, reports "disk I/O error", and on a FIFO it would block; this
    says what the path is instead, before anything opens it.

    >>> require_regular(Path("/"))
    Traceback (most recent call last):
    ...
    driftd.errors.RegistryError: /: the registry is not a regular file (it is a directory)
    """
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return
    except OSError as exc:
        raise RegistryError(f"{path}: cannot access the registry: {exc.strerror or exc}") from None
    if not stat.S_ISREG(mode):
        raise RegistryError(f"{path}: the registry is not a regular file (it is {describe(mode)})")


class WriterBusyError(RegistryBusyError):
    """A write that was asked not to queue found another thread of this process writing."""


class Pool:
    """The per-thread connections of one registry file."""

    def __init__(self, path: Path, busy_timeout: float) -> None:
        self.path = path
        self.busy_timeout = busy_timeout
        self._local = threading.local()
        self._conns: dict[int, tuple[threading.Thread, sqlite3.Connection]] = {}
        self._lock = threading.Lock()
        # Re-entrant: a helper that opens a transaction while its caller holds one must fail
        # in SQLite ("cannot start a transaction within a transaction"), not deadlock here.
        self._write = threading.RLock()
        self._closed = False

    def connection(self) -> sqlite3.Connection:
        """This thread's connection, opened on first use."""
        if self._closed:
            raise RegistryError(f"{self.path}: registry is closed")
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        try:
            conn = self._open()
        except sqlite3.Error as exc:
            raise codec.translate(exc, self.path) from None
        me = threading.current_thread()
        with self._lock:
            if self._closed:
                conn.close()
                raise RegistryError(f"{self.path}: registry is closed")
            for ident, (thread, old) in list(self._conns.items()):
                if not thread.is_alive() or ident == me.ident:
                    old.close()
                    del self._conns[ident]
            self._conns[threading.get_ident()] = (me, conn)
        self._local.conn = conn
        return conn

    def _open(self) -> sqlite3.Connection:
        require_regular(self.path)
        uri = Path(os.path.abspath(self.path)).as_uri() + "?mode=rw"  # never creates the file
        # check_same_thread=False only so that close() may run in another thread; each
        # connection is otherwise used by the one thread that opened it.
        conn = sqlite3.connect(
            uri, uri=True, timeout=self.busy_timeout, isolation_level=None, check_same_thread=False
        )
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA synchronous = FULL")
        return conn

    @contextlib.contextmanager
    def transaction(self, wait: float | None = None) -> Iterator[sqlite3.Connection]:
        """One write transaction; on any error it is rolled back and sqlite3 errors translated.

        It waits for this process's other writers first: without limit, or at most ``wait``
        seconds, after which it raises :class:`WriterBusyError` having written nothing.
        """
        conn = self.connection()
        if not self._write.acquire(timeout=-1 if wait is None else wait):
            raise WriterBusyError(f"{self.path}: another thread of this process is writing")
        try:
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise codec.translate(exc, self.path) from None
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException as exc:
                # The original error matters more than a failed rollback (SQLite also rolls
                # back on close); in_transaction itself raises if close() ran in another thread.
                with contextlib.suppress(sqlite3.Error):
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise codec.translate(exc, self.path) from None
                raise
        finally:
            self._write.release()

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        try:
            return self.connection().execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise codec.translate(exc, self.path) from None

    def close(self) -> None:
        with self._lock:
            self._closed = True
            conns = [conn for _, conn in self._conns.values()]
            self._conns.clear()
        for conn in conns:
            conn.close()
