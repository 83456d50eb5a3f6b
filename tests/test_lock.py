"""The single-instance lock, exercised with real child processes and real signals."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from driftd.errors import LockError, RegistryError
from driftd.lock import InstanceLock, LockState, inspect, lock_path

HOLDER = """
import subprocess, sys, time
from pathlib import Path
from driftd.lock import InstanceLock

lock = InstanceLock(Path(sys.argv[1]))
lock.acquire()
if sys.argv[2] == "up":
    lock.mark_up()
if sys.argv[2] == "with-child":
    # close_fds=False: even then the close-on-exec lock descriptor must not leak.
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], close_fds=False)
    print("child", child.pid, flush=True)
print("locked", flush=True)
time.sleep(60)
"""


@pytest.fixture
def spawn() -> Iterator[list[subprocess.Popen[str]]]:
    procs: list[subprocess.Popen[str]] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _start_holder(
    path: Path, procs: list[subprocess.Popen[str]], mode: str = "plain"
) -> tuple[subprocess.Popen[str], int | None]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path), mode],
        stdout=subprocess.PIPE,
        text=True,
    )
    procs.append(proc)
    assert proc.stdout is not None
    grandchild = None
    line = proc.stdout.readline().split()
    if line and line[0] == "child":
        grandchild = int(line[1])
        line = proc.stdout.readline().split()
    assert line == ["locked"], f"holder failed to start (rc={proc.poll()})"
    return proc, grandchild


def _sigkill(proc: subprocess.Popen[str]) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(timeout=10) == -signal.SIGKILL


def test_second_daemon_is_refused_until_the_holder_is_killed(
    tmp_path: Path, spawn: list[subprocess.Popen[str]]
) -> None:
    """A held lock names its holder's pid; after kill -9 of the holder the lock is free again."""
    path = tmp_path / "registry.db.lock"
    holder, _ = _start_holder(path, spawn)
    lock = InstanceLock(path)

    with pytest.raises(LockError) as info:
        lock.acquire()
    assert str(info.value) == f"another driftd (pid {holder.pid}) holds {path}"
    assert info.value.exit_code == 75
    assert lock.holder_pid() == holder.pid
    assert not lock.held

    _sigkill(holder)
    assert lock.holder_pid() is None  # the pid is still in the file, but nobody holds the lock
    lock.acquire()
    assert lock.held
    assert lock.holder_pid() == os.getpid()
    assert path.read_text() == f"{os.getpid()}\nstarting 2\n"  # the killed one never got up
    lock.release()


def test_a_surviving_training_child_does_not_keep_the_lock(
    tmp_path: Path, spawn: list[subprocess.Popen[str]]
) -> None:
    """The lock descriptor is close-on-exec: a child outliving the killed daemon holds nothing."""
    path = tmp_path / "registry.db.lock"
    holder, grandchild = _start_holder(path, spawn, "with-child")
    assert grandchild is not None
    try:
        _sigkill(holder)
        os.kill(grandchild, 0)  # still alive
        with InstanceLock(path) as lock:
            assert lock.holder_pid() == os.getpid()
    finally:
        os.kill(grandchild, signal.SIGKILL)


def test_lock_is_free_after_a_clean_release(
    tmp_path: Path, spawn: list[subprocess.Popen[str]]
) -> None:
    """release() empties the pid file and drops the lock; release twice is harmless."""
    path = tmp_path / "registry.db.lock"
    lock = InstanceLock(path)
    lock.acquire()
    lock.acquire()  # idempotent while held
    assert path.read_text() == f"{os.getpid()}\nstarting 1\n"
    lock.release()
    lock.release()
    assert path.exists()  # never unlinked: see the module docstring
    assert path.read_text() == ""
    assert lock.holder_pid() is None

    holder, _ = _start_holder(path, spawn)
    assert lock.holder_pid() == holder.pid


def test_two_locks_in_one_process_conflict(tmp_path: Path) -> None:
    """flock is per open file: a second InstanceLock in the same process is refused too."""
    path = tmp_path / "registry.db.lock"
    with InstanceLock(path):
        other = InstanceLock(path)
        with pytest.raises(LockError, match=rf"\(pid {os.getpid()}\)"):
            other.acquire()
        assert other.holder_pid() == os.getpid()
    with InstanceLock(path) as again:
        assert again.held


def test_stale_pid_from_a_dead_holder_is_ignored(tmp_path: Path) -> None:
    """A pid left in the file by a crashed holder is reported as nobody, then overwritten."""
    path = tmp_path / "registry.db.lock"
    path.write_text("4194999\n")
    lock = InstanceLock(path)
    assert lock.holder_pid() is None
    with lock:
        assert path.read_text() == f"{os.getpid()}\nstarting 1\n"


def test_missing_lock_file_means_no_holder(tmp_path: Path) -> None:
    """holder_pid() on a registry that never ran a daemon is None, and creates nothing."""
    path = tmp_path / "registry.db.lock"
    assert InstanceLock(path).holder_pid() is None
    assert not path.exists()


def test_unopenable_lock_file_is_a_registry_error(tmp_path: Path) -> None:
    """A lock file in a missing directory fails with a one-line error naming the path."""
    path = tmp_path / "no-such-dir" / "registry.db.lock"
    with pytest.raises(RegistryError, match=r"cannot open lock file .*no-such-dir"):
        InstanceLock(path).acquire()


def test_the_file_tells_a_start_up_death_from_a_death_after_start_up(
    tmp_path: Path, spawn: list[subprocess.Popen[str]]
) -> None:
    """kill -9 before mark_up() leaves `starting N`, counted up by every such holder in a row;
    after mark_up() it leaves the pid alone; inspect() says held or not, and the holder."""
    path = tmp_path / "registry.db.lock"
    for n in (1, 2, 3):
        holder, _ = _start_holder(path, spawn)
        state = inspect(path)
        assert state is not None
        assert (state.held, state.pid, state.starting) == (True, holder.pid, n)
        _sigkill(holder)
        state = inspect(path)
        assert state is not None
        assert (state.held, state.pid, state.starting) == (False, holder.pid, n)
        assert state.written_at is not None

    holder, _ = _start_holder(path, spawn, "up")
    state = inspect(path)
    assert state is not None and (state.held, state.pid, state.starting) == (True, holder.pid, 0)
    _sigkill(holder)
    state = inspect(path)
    assert state is not None
    assert (state.held, state.pid, state.starting) == (False, holder.pid, 0)

    holder, _ = _start_holder(path, spawn)  # after a holder that got up, the count restarts
    assert path.read_text() == f"{holder.pid}\nstarting 1\n"


def test_a_release_after_an_error_leaves_the_holder_named(tmp_path: Path) -> None:
    """Leaving the context manager by an exception (release(clean=False)) keeps the line, so a
    daemon that failed reads as died; a clean exit empties the file."""
    path = tmp_path / "registry.db.lock"
    with pytest.raises(RuntimeError), InstanceLock(path) as lock:
        lock.mark_up()
        raise RuntimeError("start-up failed")
    assert path.read_text() == f"{os.getpid()}\n"
    state = inspect(path)
    assert state is not None and (state.held, state.pid) == (False, os.getpid())
    with InstanceLock(path):
        pass
    assert path.read_text() == ""
    assert inspect(path) == LockState(held=False, pid=None, starting=0, written_at=None)


def test_lock_path_and_a_missing_file() -> None:
    """The lock of `x/registry.db` is `x/registry.db.lock`; no file inspects as None."""
    path = lock_path(Path("/nonexistent/registry.db"))
    assert path == Path("/nonexistent/registry.db.lock")
    assert inspect(path) is None
