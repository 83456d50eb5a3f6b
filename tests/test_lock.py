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
from driftd.lock import InstanceLock

HOLDER = """
import subprocess, sys, time
from pathlib import Path
from driftd.lock import InstanceLock

lock = InstanceLock(Path(sys.argv[1]))
lock.acquire()
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
    assert path.read_text() == f"{os.getpid()}\n"
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
    assert path.read_text() == f"{os.getpid()}\n"
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
        assert path.read_text() == f"{os.getpid()}\n"


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
