"""The sd_notify protocol, spoken directly: no libsystemd, no python-systemd.

systemd passes ``NOTIFY_SOCKET`` (a filesystem path, or ``@name`` for the abstract namespace) to a
``Type=notify`` service. A notification is one ``AF_UNIX``/``SOCK_DGRAM`` datagram of
newline-separated ``KEY=VALUE`` lines. Without ``NOTIFY_SOCKET`` (a terminal, a test, cron) every
method is a no-op, so callers never check whether they run under systemd.

Sending never raises into the daemon: a lost STATUS line must not stop a monitoring cycle. A socket
that cannot work at all (wrong path, address family filtered, abstract socket behind
``PrivateNetwork=yes``) is logged once at WARNING, later failures at DEBUG.

:func:`status_line` composes what the daemon puts after ``STATUS=`` (and in its heartbeat row).

>>> Notifier.from_env({}).enabled
False
>>> Notifier.from_env({}).ready("nothing happens without NOTIFY_SOCKET")
"""

from __future__ import annotations

import errno
import logging
import os
import socket
import time
from collections.abc import Mapping
from datetime import datetime

__all__ = [
    "CHILD_STRIPPED",
    "STATUS_MAX_BYTES",
    "Notifier",
    "child_environment",
    "status_line",
]

_log = logging.getLogger("driftd.notify")

# systemd reads notifications into a PIPE_BUF (4096-byte) buffer and drops a truncated datagram
# whole, so a long STATUS would silently cost us the READY=1 sent with it. `systemctl status`
# shows one line anyway.
STATUS_MAX_BYTES = 1024

# Transient conditions: the manager is busy or we were interrupted. Anything else means the
# socket can never work, and deserves one warning.
_TRANSIENT = frozenset({errno.EAGAIN, errno.EWOULDBLOCK, errno.EINTR, errno.ENOBUFS})

# A stalled manager must not stall the daemon's main loop (and with it the watchdog).
_SEND_TIMEOUT_SECONDS = 1.0

CHILD_STRIPPED = ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")


class Notifier:
    """Sends sd_notify messages to one socket address; a disabled notifier does nothing.

    ``watchdog_interval`` is how often to send WATCHDOG=1: half of ``WATCHDOG_USEC`` (systemd's
    advice), and only when ``WATCHDOG_PID`` is unset or names this process, since the watchdog
    belongs to the main process alone.
    """

    __slots__ = ("_address", "_shown", "_warned", "watchdog_interval")

    def __init__(
        self, address: bytes | None = None, watchdog_interval: float | None = None
    ) -> None:
        self._address = address
        self._shown = _show(address) if address is not None else ""
        self._warned = False
        self.watchdog_interval = watchdog_interval if address is not None else None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Notifier:
        """Read NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID.

        >>> env = {"NOTIFY_SOCKET": "@driftd-doc", "WATCHDOG_USEC": "60000000"}
        >>> n = Notifier.from_env(env)
        >>> n.enabled, n.watchdog_interval
        (True, 30.0)
        >>> not_us = str(os.getpid() + 1)
        >>> Notifier.from_env({**env, "WATCHDOG_PID": not_us}).watchdog_interval is None
        True
        """
        raw = environ.get("NOTIFY_SOCKET", "")
        if not raw:
            return cls()
        if raw.startswith("@"):
            address = b"\0" + os.fsencode(raw[1:])
        elif raw.startswith("/"):
            address = os.fsencode(raw)
        else:
            # libsystemd refuses these too (EINVAL); a relative path would depend on the cwd.
            _log.warning(
                "notify.disabled reason=%s socket=%s",
                '"NOTIFY_SOCKET is neither an absolute path nor @abstract"',
                raw,
            )
            return cls()
        return cls(address, _watchdog_interval(environ))

    @property
    def enabled(self) -> bool:
        return self._address is not None

    def ready(self, status: str = "") -> None:
        """READY=1: start-up (or a reload) is complete; optionally with a STATUS line."""
        fields = ["READY=1"]
        if status:
            fields.append("STATUS=" + _one_line(status))
        self._send(fields)

    def status(self, text: str) -> None:
        """STATUS=...: the free-form line `systemctl status driftd` shows."""
        self._send(["STATUS=" + _one_line(text)])

    def watchdog(self) -> None:
        """WATCHDOG=1: we are alive; send every ``watchdog_interval`` seconds."""
        self._send(["WATCHDOG=1"])

    def reloading(self) -> None:
        """RELOADING=1 with MONOTONIC_USEC, which systemd >= 253 needs for Type=notify-reload.

        Follow it with :meth:`ready` once the new config is applied (or rejected).
        """
        usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        self._send(["RELOADING=1", f"MONOTONIC_USEC={usec}"])

    def stopping(self) -> None:
        """STOPPING=1: shutdown has begun; systemd stops expecting watchdog pings."""
        self._send(["STOPPING=1"])

    def _send(self, fields: list[str]) -> None:
        if self._address is None:
            return
        payload = "\n".join(fields).encode("utf-8", "surrogateescape")
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.settimeout(_SEND_TIMEOUT_SECONDS)
                sock.sendto(payload, self._address)
        except (OSError, ValueError) as exc:
            self._failed(fields[0], exc)

    def _failed(self, first: str, exc: Exception) -> None:
        code = exc.errno if isinstance(exc, OSError) else None
        transient = isinstance(exc, TimeoutError) or code in _TRANSIENT
        if transient or self._warned:
            _log.debug("notify.failed socket=%s message=%s error=%r", self._shown, first, exc)
            return
        self._warned = True
        hint = ""
        if self._shown.startswith("@") and code in (errno.ECONNREFUSED, errno.ENOENT):
            hint = ' hint="an abstract socket is unreachable from PrivateNetwork=yes"'
        _log.warning(
            "notify.failed socket=%s message=%s error=%s%s (further failures logged at debug)",
            self._shown,
            first,
            _quote(str(exc)),
            hint,
        )


def child_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """A copy of ``environ`` without the sd_notify variables, for training children.

    A child that inherited them could report READY or feed the watchdog for a daemon that is
    itself hung (with ``NotifyAccess=all``), or log refused-sender noise (with ``main``).

    >>> child_environment({"PATH": "/usr/bin", "NOTIFY_SOCKET": "/run/systemd/notify"})
    {'PATH': '/usr/bin'}
    """
    return {k: v for k, v in environ.items() if k not in CHILD_STRIPPED}


def status_line(
    activity: Mapping[str, str],
    next_runs: Mapping[str, datetime],
    last: Mapping[str, str],
    last_model: str | None,
    config_error: str | None,
    *,
    now: datetime,
    stopping: bool = False,
) -> str:
    """What the daemon is doing, for ``systemctl status`` and the heartbeat row.

    Busy: what each running cycle does. Idle: until when, and which model is checked then.
    Then the last run's outcome (every model whose last run failed, else the latest), then a
    rejected reload, if any. ``stopping``: after SIGTERM, while cycles wind down.

    >>> from datetime import UTC
    >>> now = datetime(2026, 1, 11, 12, 0, tzinfo=UTC)
    >>> nxt = {"churn": datetime(2026, 1, 11, 12, 0, 5, tzinfo=UTC)}
    >>> status_line({}, nxt, {"churn": "ok"}, "churn", None, now=now)
    'idle until 12:00:05Z (next check churn); last run churn: ok'
    >>> status_line({"churn": "training churn"}, {}, {}, None, "alpha: bad", now=now)
    'training churn; config reload rejected, old config kept: alpha: bad'
    >>> status_line({}, nxt, {"churn": "failed: no data", "fraud": "ok"}, "fraud", None, now=now)
    'idle until 12:00:05Z (next check churn); last run churn: failed: no data'
    """
    if stopping:
        parts = [
            "stopping"
            + (": " + "; ".join(activity[m] for m in sorted(activity)) if activity else "")
        ]
    elif activity:
        parts = ["; ".join(activity[m] for m in sorted(activity))]
    elif next_runs:
        name, when = min(next_runs.items(), key=lambda kv: (kv[1], kv[0]))
        stamp = "%H:%M:%SZ" if when.date() == now.date() else "%Y-%m-%d %H:%M:%SZ"
        parts = [f"idle until {when.strftime(stamp)} (next check {name})"]
    else:
        parts = ["idle: no model scheduled"]
    failed = [m for m in sorted(last) if last[m].startswith(("failed", "interrupted"))]
    if failed:
        parts += [f"last run {m}: {last[m]}" for m in failed]
    elif last_model is not None and last_model in last:
        parts.append(f"last run {last_model}: {last[last_model]}")
    if config_error:
        parts.append(f"config reload rejected, old config kept: {config_error}")
    return "; ".join(parts)


def _watchdog_interval(environ: Mapping[str, str]) -> float | None:
    try:
        usec = int(environ.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    if usec <= 0:
        return None
    owner = environ.get("WATCHDOG_PID", "")
    if owner:
        try:
            if int(owner) != os.getpid():
                return None
        except ValueError:
            return None
    return usec / 2 / 1e6


def _one_line(text: str) -> str:
    flat = " ".join(text.splitlines())
    raw = flat.encode("utf-8", "surrogateescape")
    if len(raw) <= STATUS_MAX_BYTES:
        return flat
    # Cut on a character boundary: a split UTF-8 sequence would make the line undecodable.
    return raw[: STATUS_MAX_BYTES - 3].decode("utf-8", "ignore") + "..."


def _show(address: bytes) -> str:
    if address.startswith(b"\0"):
        return "@" + os.fsdecode(address[1:])
    return os.fsdecode(address)


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
