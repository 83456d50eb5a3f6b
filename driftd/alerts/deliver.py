"""Sending one event to one target: a command's stdin or an HTTP POST, with a timeout and
bounded retries with exponential backoff. Stdlib only (urllib, subprocess). Never raises.

Retried: a timeout, a refused or dropped connection, HTTP 408, 429 and 5xx, a command that
exits non-zero. Not retried: other HTTP 4xx (the request itself is wrong), a redirect (a POST
is never followed elsewhere: the headers may carry a token), a command that cannot start, a
missing secret. Waits between attempts are ``backoff * 2**(n-1)`` seconds, at most
:data:`MAX_BACKOFF_S`, and end early when ``stop`` is set (the daemon shutting down).
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit, urlunsplit

from driftd import __version__
from driftd.alerts.events import Event, slack_text
from driftd.alerts.targets import SecretError, Target, resolve_headers
from driftd.notify import child_environment
from driftd.text import escape

BACKOFF_S = 1.0
MAX_BACKOFF_S = 30.0
_ERROR_CHARS = 300  # one line in the registry and the journal


@dataclass(frozen=True, slots=True)
class Outcome:
    ok: bool
    attempts: int
    error: str | None = None


class _TransientError(Exception):
    """Worth another attempt."""


class _PermanentError(Exception):
    """Another attempt would fail the same way."""


def body(target: Target, event: Event) -> bytes:
    """The bytes sent: the event's JSON, or a Slack-compatible ``{"text": ...}``."""
    if target.format == "slack":
        return json.dumps({"text": slack_text(event)}).encode()
    return event.to_json()


def deliver(
    target: Target,
    event: Event,
    *,
    stop: threading.Event | None = None,
    backoff: float = BACKOFF_S,
) -> Outcome:
    """Up to ``1 + target.retries`` attempts; the outcome of the last one."""
    data = body(target, event)
    attempts, error = 0, "not attempted"
    for attempt in range(target.retries + 1):
        if attempt:
            wait = min(backoff * 2 ** (attempt - 1), MAX_BACKOFF_S)
            if stop is not None:
                if stop.wait(wait):
                    error += "; retries abandoned: driftd stopping"
                    break
            else:
                time.sleep(wait)
        attempts += 1
        try:
            _once(target, data)
            return Outcome(True, attempts)
        except _PermanentError as exc:
            error = _line(exc)
            break
        except _TransientError as exc:
            error = _line(exc)
    return Outcome(False, attempts, error)


def _once(target: Target, data: bytes) -> None:
    seconds = target.timeout.total_seconds()
    if target.command:
        _run(target.command, data, seconds)
    else:
        try:
            headers = resolve_headers(target.headers)
        except SecretError as exc:
            raise _PermanentError(str(exc)) from None
        _post(target.url or "", data, headers, seconds)


def _run(argv: tuple[str, ...], data: bytes, seconds: float) -> None:
    try:
        # Its own session, so a timeout kills the command and anything it started.
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
            env=child_environment(os.environ),
        )
    except OSError as exc:
        raise _PermanentError(f"cannot run {argv[0]}: {exc.strerror or exc}") from None
    try:
        _, err = proc.communicate(data, timeout=seconds)
    except subprocess.TimeoutExpired:
        _kill(proc)
        raise _TransientError(f"timed out after {seconds:g}s") from None
    if proc.returncode != 0:
        last = err.decode(errors="replace").strip().splitlines()[-1:] or [""]
        said = f": {last[0]}" if last[0] else ""
        raise _TransientError(f"exit status {proc.returncode}{said}")


def _kill(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        proc.kill()
    proc.communicate()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None  # urllib then raises the 3xx as an HTTPError


_OPENER = urllib.request.build_opener(_NoRedirect)


def _post(url: str, data: bytes, headers: dict[str, str], seconds: float) -> None:
    url, headers = _userinfo_as_basic_auth(url, headers)
    request = urllib.request.Request(
        url,
        data=data,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": f"driftd/{__version__}",
            **headers,
        },
    )
    try:
        with _OPENER.open(request, timeout=seconds) as response:
            response.read(65536)
    except urllib.error.HTTPError as exc:
        code = exc.code
        exc.close()
        if code in (408, 429) or code >= 500:
            raise _TransientError(f"HTTP {code}") from None
        raise _PermanentError(f"HTTP {code}") from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, TimeoutError):
            raise _TransientError(f"timed out after {seconds:g}s") from None
        raise _TransientError(
            f"cannot connect: {getattr(reason, 'strerror', None) or reason}"
        ) from None
    except TimeoutError:
        raise _TransientError(f"timed out after {seconds:g}s") from None
    except ValueError as exc:  # a URL urllib cannot use
        raise _PermanentError(f"unusable URL: {exc}") from None
    except OSError as exc:  # a reset mid-response
        raise _TransientError(f"{type(exc).__name__}: {exc}") from None


def _userinfo_as_basic_auth(url: str, headers: dict[str, str]) -> tuple[str, dict[str, str]]:
    """``https://user:pass@host/`` as HTTP Basic auth (urllib would resolve "user:pass@host"
    as a host name); an explicit Authorization header wins."""
    parts = urlsplit(url)
    if parts.username is None:
        return url, headers
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port is not None:
        netloc += f":{parts.port}"
    pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
    auth = {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode()}
    return urlunsplit(parts._replace(netloc=netloc)), {**auth, **headers}


def _line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return escape(text[0] if text else type(exc).__name__, _ERROR_CHARS)
