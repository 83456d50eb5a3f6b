"""Process groups on Linux: signal one, wait for it without reaping, and see who is left.

A training child leads its own session, so its group id is its pid. :func:`exited` waits with
``WNOWAIT``: the child stays an unreaped zombie, which keeps its pid (and so the group id) from
being reused while driftd still signals the group.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time


def exited(pid: int) -> bool:
    """Whether the child has exited, without reaping it (its pid stays reserved)."""
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def kill_group(pgid: int, grace: float) -> None:
    """SIGTERM the group, give it ``grace`` seconds to exit, then SIGKILL whatever is left."""
    signal_group(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and group_alive(pgid):
        time.sleep(0.05)
    signal_group(pgid, signal.SIGKILL)


def wait_group_gone(pgid: int, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while group_alive(pgid) and time.monotonic() < deadline:
        time.sleep(0.02)


def group_members(pgid: int) -> list[int]:
    """Pids of live (non-zombie) processes in group ``pgid``, from /proc (empty if no /proc)."""
    members: list[int] = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return members
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                stat = fh.read().decode(errors="replace")
        except OSError:
            continue
        # "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) >= 3 and fields[0] not in ("Z", "X") and int(fields[2]) == pgid:
            members.append(int(entry))
    return members


def group_alive(pgid: int) -> bool:
    if os.path.isdir("/proc"):
        return bool(group_members(pgid))
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True
