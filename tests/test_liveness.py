"""`driftd status`'s verdict on the daemon: the heartbeat row judged with the lock file.

Every combination the daemon can leave behind, as values; tests/test_daemon.py produces the
same states with real daemons, real kills and real lock files.
"""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from driftd.lock import LockState
from driftd.registry import liveness

NOW = datetime(2026, 1, 11, 12, 0, tzinfo=UTC)
INTERVAL = 5.0


def _beat(age_s: float, state: str = "idle", pid: int = 100) -> dict[str, Any]:
    at = (NOW - timedelta(seconds=age_s)).isoformat().replace("+00:00", "Z")
    return {
        "id": 1,
        "pid": pid,
        "host": socket.gethostname(),
        "started_at": at,
        "beat_at": at,
        "state": state,
        "config_error": None,
        "next_runs": None,
        "code_version": "0.1.0",
    }


def _lock(held: bool, pid: int | None = 100, starting: int = 0) -> LockState:
    written = None if pid is None else NOW - timedelta(seconds=3)
    return LockState(held=held, pid=pid, starting=starting, written_at=written)


@pytest.mark.parametrize(
    ("beat", "lock", "condition", "failures"),
    [
        # No lock information (an older driftd, an unreadable file): the beat's age decides.
        (_beat(2), None, "alive", 0),
        (_beat(20), None, "died", 0),
        (_beat(20, "stopped"), None, "stopped", 0),
        # Held by a daemon that is up: alive while it beats, stalled when the beats stop.
        (_beat(2), _lock(True), "alive", 0),
        (_beat(20), _lock(True), "stalled", 0),
        # Held by one still starting: the row is its predecessor's, whatever it says.
        (_beat(600, "stopped", pid=7), _lock(True, starting=1), "starting", 0),
        (_beat(2, pid=7), _lock(True, starting=2), "starting", 1),
        (_beat(600, "stopped", pid=7), _lock(True, starting=3), "crash_looping", 2),
        # Not held: gone at once, however fresh its last beat.
        (_beat(1), _lock(False), "died", 0),
        (_beat(1), _lock(False, pid=None), "died", 0),
        (_beat(1, "stopped"), _lock(False, pid=None), "stopped", 0),
        (_beat(1, "stopped"), _lock(False), "stopped", 0),  # killed between stop beat and release
        (_beat(600, "stopped", pid=7), _lock(False, starting=1), "died", 1),
        (_beat(600, "stopped", pid=7), _lock(False, starting=4), "crash_looping", 4),
    ],
)
def test_condition_from_the_beat_and_the_lock(
    beat: dict[str, Any], lock: LockState | None, condition: str, failures: int
) -> None:
    """Each state of the lock file and the heartbeat row reads as one condition, and `alive`
    only when the lock is held by a daemon that is up and beating (or, without a lock file, by
    the beat's age alone)."""
    daemon = liveness.daemon(beat, lock, NOW, INTERVAL)
    assert daemon is not None
    assert (daemon["condition"], daemon["start_failures"]) == (condition, failures)
    assert daemon["alive"] is (condition == "alive")
    assert daemon["stopped_at"] == (beat["beat_at"] if condition == "stopped" else None)
    assert "id" not in daemon and daemon["pid"] == beat["pid"]
    if lock is not None:
        assert daemon["lock"]["pid"] == lock.pid and daemon["lock"]["held"] is lock.held


def test_a_daemon_that_never_beat_is_still_reported() -> None:
    """No heartbeat row yet (a first daemon starting, or dead in start-up): the section exists,
    row fields empty; with neither a row nor a pid in the lock file there is no daemon."""
    daemon = liveness.daemon(None, _lock(False, pid=42, starting=1), NOW, INTERVAL)
    assert daemon is not None
    assert (daemon["condition"], daemon["pid"], daemon["beat_at"]) == ("died", None, None)
    assert daemon["lock"]["age_s"] == 3.0
    assert liveness.daemon(None, _lock(False, pid=None), NOW, INTERVAL) is None
    assert liveness.daemon(None, None, NOW, INTERVAL) is None


def test_a_beat_from_another_host_ignores_this_hosts_lock_file() -> None:
    """A lock file here says nothing about a daemon elsewhere: the beat's age decides."""
    beat = _beat(2) | {"host": socket.gethostname() + "-elsewhere"}
    daemon = liveness.daemon(beat, _lock(False), NOW, INTERVAL)
    assert daemon is not None
    assert (daemon["condition"], daemon["lock"]) == ("alive", None)
