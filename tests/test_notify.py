"""sd_notify over real AF_UNIX datagram sockets, as systemd's manager would receive them."""

from __future__ import annotations

import logging
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from driftd.notify import STATUS_MAX_BYTES, Notifier, child_environment

# AF_UNIX paths are limited to 107 bytes; a long TMPDIR makes tmp_path longer than that.
_SUN_PATH_MAX = 107


@pytest.fixture
def path_socket(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    directory = tmp_path
    if len(os.fsencode(directory / "notify")) > _SUN_PATH_MAX:
        directory = Path(tempfile.mkdtemp(prefix="driftd-", dir="/tmp"))
    path = directory / "notify"
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.bind(str(path))
            sock.settimeout(5)
            yield sock, str(path)
    finally:
        if directory != tmp_path:
            shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def abstract_socket() -> Iterator[tuple[socket.socket, str]]:
    name = f"driftd-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(5)
        yield sock, "@" + name


def _nothing_waiting(sock: socket.socket) -> bool:
    sock.setblocking(False)
    try:
        sock.recv(4096)
    except BlockingIOError:
        return True
    finally:
        sock.settimeout(5)
    return False


def test_path_socket_receives_exact_datagrams(path_socket: tuple[socket.socket, str]) -> None:
    """Each call is one datagram of newline-separated KEY=VALUE lines, byte for byte."""
    sock, address = path_socket
    notifier = Notifier.from_env({"NOTIFY_SOCKET": address})
    assert notifier.enabled

    notifier.ready("monitoring 2 model(s)")
    assert sock.recv(4096) == b"READY=1\nSTATUS=monitoring 2 model(s)"
    notifier.ready()
    assert sock.recv(4096) == b"READY=1"
    notifier.status("churn: checking drift")
    assert sock.recv(4096) == b"STATUS=churn: checking drift"
    notifier.watchdog()
    assert sock.recv(4096) == b"WATCHDOG=1"
    notifier.stopping()
    assert sock.recv(4096) == b"STOPPING=1"
    assert _nothing_waiting(sock)


def test_abstract_socket_address(abstract_socket: tuple[socket.socket, str]) -> None:
    """A leading '@' in NOTIFY_SOCKET means the abstract namespace (a leading NUL byte)."""
    sock, address = abstract_socket
    notifier = Notifier.from_env({"NOTIFY_SOCKET": address})
    notifier.status("über-model: idle")
    assert sock.recv(4096) == "STATUS=über-model: idle".encode()


def test_reloading_carries_the_monotonic_clock(path_socket: tuple[socket.socket, str]) -> None:
    """RELOADING=1 comes with MONOTONIC_USEC read from CLOCK_MONOTONIC, as systemd 253+ wants."""
    sock, address = path_socket
    before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    Notifier.from_env({"NOTIFY_SOCKET": address}).reloading()
    after = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    match = re.fullmatch(rb"RELOADING=1\nMONOTONIC_USEC=(\d+)", sock.recv(4096))
    assert match is not None
    assert before <= int(match.group(1)) <= after


def test_status_is_one_bounded_line(path_socket: tuple[socket.socket, str]) -> None:
    """Newlines become spaces, and an over-long status is cut on a UTF-8 boundary."""
    sock, address = path_socket
    notifier = Notifier.from_env({"NOTIFY_SOCKET": address})
    notifier.status("config reload rejected:\nmodels[0].every: bad\r\nmodels[1]: bad")
    assert sock.recv(4096) == b"STATUS=config reload rejected: models[0].every: bad models[1]: bad"

    notifier.ready("é" * 5000)
    data = sock.recv(65536)
    assert data.startswith(b"READY=1\nSTATUS=")
    status = data.removeprefix(b"READY=1\nSTATUS=")
    assert len(status) <= STATUS_MAX_BYTES
    assert status.decode("utf-8").endswith("é...")


def test_watchdog_interval_is_half_of_watchdog_usec() -> None:
    """WATCHDOG_USEC=60 s gives a ping every 30 s, when WATCHDOG_PID is unset or ours."""
    env = {"NOTIFY_SOCKET": "/run/systemd/notify", "WATCHDOG_USEC": "60000000"}
    assert Notifier.from_env(env).watchdog_interval == 30.0
    mine = {**env, "WATCHDOG_PID": str(os.getpid())}
    assert Notifier.from_env(mine).watchdog_interval == 30.0


def test_watchdog_of_another_pid_is_not_ours() -> None:
    """A WATCHDOG_PID naming another process (our parent, say) disables the watchdog for us."""
    env = {
        "NOTIFY_SOCKET": "/run/systemd/notify",
        "WATCHDOG_USEC": "60000000",
        "WATCHDOG_PID": str(os.getppid()),
    }
    notifier = Notifier.from_env(env)
    assert notifier.enabled
    assert notifier.watchdog_interval is None


@pytest.mark.parametrize("usec", ["", "0", "-5", "soon"])
def test_watchdog_off_for_missing_or_bad_usec(usec: str) -> None:
    """No usable WATCHDOG_USEC means no watchdog, never an exception."""
    env = {"NOTIFY_SOCKET": "/run/systemd/notify", "WATCHDOG_USEC": usec}
    assert Notifier.from_env(env).watchdog_interval is None


def test_watchdog_needs_a_socket() -> None:
    """WATCHDOG_USEC without NOTIFY_SOCKET: there is nobody to ping."""
    assert Notifier.from_env({"WATCHDOG_USEC": "60000000"}).watchdog_interval is None


def test_no_socket_is_a_silent_no_op(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Without NOTIFY_SOCKET (a terminal, a test) every call does nothing and logs nothing."""
    caplog.set_level(logging.DEBUG, logger="driftd")
    notifier = Notifier.from_env({"PATH": os.environ.get("PATH", "")})
    assert not notifier.enabled
    notifier.ready("x")
    notifier.status("x")
    notifier.watchdog()
    notifier.reloading()
    notifier.stopping()
    assert caplog.records == []


def test_relative_socket_path_is_refused_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A NOTIFY_SOCKET that is neither absolute nor @abstract disables notifying, loudly."""
    caplog.set_level(logging.DEBUG, logger="driftd")
    notifier = Notifier.from_env({"NOTIFY_SOCKET": "run/notify"})
    assert not notifier.enabled
    assert [r.levelno for r in caplog.records] == [logging.WARNING]
    assert "run/notify" in caplog.records[0].getMessage()


def test_dead_socket_warns_once_then_debug(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A socket path nobody listens on never raises: one WARNING naming it, then DEBUG only."""
    caplog.set_level(logging.DEBUG, logger="driftd")
    missing = tmp_path / "gone"
    notifier = Notifier.from_env({"NOTIFY_SOCKET": str(missing)})
    for _ in range(3):
        notifier.watchdog()
    levels = [r.levelno for r in caplog.records]
    assert levels == [logging.WARNING, logging.DEBUG, logging.DEBUG]
    assert str(missing) in caplog.records[0].getMessage()


def test_unreachable_abstract_socket_hints_at_private_network(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An abstract address nobody binds (as seen from PrivateNetwork=yes) gets a hint."""
    caplog.set_level(logging.DEBUG, logger="driftd")
    Notifier.from_env({"NOTIFY_SOCKET": f"@driftd-nobody-{uuid.uuid4().hex}"}).ready()
    assert len(caplog.records) == 1
    assert "PrivateNetwork" in caplog.records[0].getMessage()


def test_child_environment_strips_only_notify_variables() -> None:
    """Training children get the environment minus NOTIFY_SOCKET and WATCHDOG_*; input untouched."""
    env = {
        "PATH": "/usr/bin",
        "NOTIFY_SOCKET": "/run/systemd/notify",
        "WATCHDOG_USEC": "60000000",
        "WATCHDOG_PID": "42",
        "JOURNAL_STREAM": "8:1234",
    }
    assert child_environment(env) == {"PATH": "/usr/bin", "JOURNAL_STREAM": "8:1234"}
    assert "NOTIFY_SOCKET" in env


def test_child_process_with_stripped_environment_is_disabled(
    path_socket: tuple[socket.socket, str],
) -> None:
    """A real child started with child_environment() cannot reach the notify socket."""
    sock, address = path_socket
    env = child_environment({**os.environ, "NOTIFY_SOCKET": address, "WATCHDOG_USEC": "1000000"})
    code = (
        "from driftd.notify import Notifier\n"
        "n = Notifier.from_env()\n"
        "n.ready('from child')\n"
        "print(n.enabled, n.watchdog_interval)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False None"
    assert _nothing_waiting(sock)
