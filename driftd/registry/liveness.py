"""Is the daemon alive? The heartbeat row judged with the registry's lock file.

The heartbeat's age alone answers late and can name the wrong daemon: after a kill -9 the last
beat still looks fresh for three intervals, and a daemon that dies before its first beat leaves
its predecessor's row (``stopped`` after a clean stop) in place. The lock file answers at once:
:func:`driftd.lock.inspect` says whether a process holds it now, which pid took it last, and
whether that one got up (its first heartbeat) or how many starts in a row did not. Read-only:
the probe is a shared ``flock`` for an instant, never a write.

>>> daemon(None, None, datetime.now(), 5.0) is None
True
"""

from __future__ import annotations

import socket
from datetime import datetime
from pathlib import Path
from typing import Any

from driftd.errors import RegistryError
from driftd.lock import LockState, lock_path
from driftd.lock import inspect as inspect_lock
from driftd.registry.codec import parse_iso, utc_iso

__all__ = ["daemon", "lock_state"]

_BEAT_COLUMNS = (
    "pid",
    "host",
    "started_at",
    "beat_at",
    "state",
    "config_error",
    "next_runs",
    "code_version",
)


def lock_state(registry: Path) -> LockState | None:
    """The lock file's state, or None when there is none or it cannot be read or probed."""
    try:
        state = inspect_lock(lock_path(Path(registry)))
    except RegistryError:
        return None  # e.g. a reader without permission on it: the heartbeat decides alone
    return state if state is not None and state.held is not None else None


def daemon(
    beat: dict[str, Any] | None, lock: LockState | None, now: datetime, interval: float
) -> dict[str, Any] | None:
    """The ``daemon`` section of ``queries.status``: the heartbeat row judged with the lock."""
    if beat is not None and beat.get("host") not in (None, socket.gethostname()):
        lock = None  # a lock file on this host says nothing of a daemon on another one
    if beat is None and (lock is None or lock.pid is None):
        return None
    out: dict[str, Any] = dict.fromkeys(_BEAT_COLUMNS)
    out.update(beat or {})
    out.pop("id", None)
    beat_at = out["beat_at"]
    age = out["age_s"] = (
        None if beat_at is None else round((now - parse_iso(beat_at)).total_seconds(), 3)
    )
    fresh = age is not None and age < 3 * interval
    stopped = out["state"] == "stopped"
    failures = 0
    if lock is None:
        condition = "stopped" if stopped else "alive" if fresh else "died"
    elif lock.held:
        failures = max(0, lock.starting - 1)
        if lock.starting:  # the holder has not beaten yet; the row is a predecessor's
            condition = "crash_looping" if failures > 1 else "starting"
        else:
            condition = "stopped" if stopped else "alive" if fresh else "stalled"
    else:
        failures = lock.starting if lock.pid is not None else 0
        if failures > 1:
            condition = "crash_looping"
        else:
            condition = "stopped" if stopped and not failures else "died"
    out["condition"] = condition
    out["alive"] = condition == "alive"
    out["stopped_at"] = out["beat_at"] if condition == "stopped" else None
    out["start_failures"] = failures
    out["lock"] = None
    if lock is not None:
        out["lock"] = {
            "held": lock.held,
            "pid": lock.pid,
            "starting": lock.starting,
            "written_at": None if lock.written_at is None else utc_iso(lock.written_at),
            "age_s": None
            if lock.written_at is None
            else round((now - lock.written_at).total_seconds(), 3),
        }
    return out
