"""Where notifications go: a command or a URL, chosen per event. Stdlib only.

A :class:`Target` is built from the config's ``[[notify]]`` entries (``Config.notify`` and
``ModelConfig.notify``, parsed by :mod:`driftd.config`). Header values ``env:NAME`` and
``credential:NAME`` are resolved only at send time, so no secret sits in the config object,
a log line, or the registry: :func:`describe` names a target without them.

>>> t = Target(url="https://hooks.example/x?token=s3cret")
>>> t.describe()
'url:https://hooks.example/x'
>>> Target(url="https://user:pw@example.org:8443/hook").describe()
'url:https://example.org:8443/hook'
>>> Target(command=("/usr/local/bin/page", "--key", "s3cret")).describe()
'command:/usr/local/bin/page'
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from driftd.alerts.events import EVENTS
from driftd.errors import DriftdError

DEFAULT_TIMEOUT = timedelta(seconds=10)
DEFAULT_RETRIES = 3


class SecretError(DriftdError):
    """A header's secret could not be read; the message names its source, never its value."""


@dataclass(frozen=True, slots=True)
class Target:
    events: tuple[str, ...] = EVENTS
    command: tuple[str, ...] | None = None
    url: str | None = None
    format: str = "json"
    timeout: timedelta = DEFAULT_TIMEOUT
    retries: int = DEFAULT_RETRIES
    headers: Mapping[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        """The target without secrets: a URL without user info or query, a command's program."""
        if self.command:
            return f"command:{self.command[0]}"
        parts = urlsplit(self.url or "")
        host = parts.hostname or ""
        if parts.port is not None:
            host = f"{host}:{parts.port}"
        return "url:" + urlunsplit((parts.scheme, host, parts.path, "", ""))

    @classmethod
    def of(cls, entry: Any) -> Target:
        """A target from a ``NotifyConfig`` (or any object with its fields)."""
        command = getattr(entry, "command", None)
        return cls(
            events=tuple(getattr(entry, "events", None) or EVENTS),
            command=tuple(command) if command else None,
            url=getattr(entry, "url", None),
            format=getattr(entry, "format", None) or "json",
            timeout=getattr(entry, "timeout", None) or DEFAULT_TIMEOUT,
            retries=int(getattr(entry, "retries", DEFAULT_RETRIES)),
            headers=dict(getattr(entry, "headers", None) or {}),
        )


def configured(cfg: Any, model: str | None) -> tuple[Target, ...]:
    """The targets of the config's top-level ``[[notify]]`` plus those of ``model`` (if any)."""
    entries: list[Any] = list(getattr(cfg, "notify", ()) or ())
    if model is not None:
        for m in getattr(cfg, "models", ()):
            if m.name == model:
                entries += list(getattr(m, "notify", ()) or ())
    return tuple(Target.of(e) for e in entries)


def wanting(targets: Iterable[Target], event: str) -> list[Target]:
    return [t for t in targets if event in t.events]


def resolve_headers(
    headers: Mapping[str, str],
    environ: Mapping[str, str] = os.environ,
) -> dict[str, str]:
    """Header values with ``env:NAME`` and ``credential:NAME`` replaced by the secret.

    ``credential:NAME`` reads ``$CREDENTIALS_DIRECTORY/NAME`` (systemd's ``LoadCredential=``);
    one trailing newline is dropped. SecretError names the header and the source when missing.

    >>> resolve_headers({"X-A": "plain", "X-B": "env:TOKEN"}, {"TOKEN": "t"})
    {'X-A': 'plain', 'X-B': 't'}
    >>> resolve_headers({"X-B": "env:NOPE"}, {})
    Traceback (most recent call last):
    ...
    driftd.alerts.targets.SecretError: header X-B: environment variable NOPE is not set
    """
    out = {}
    for name, value in headers.items():
        if value.startswith("env:"):
            var = value[4:]
            if var not in environ:
                raise SecretError(f"header {name}: environment variable {var} is not set")
            out[name] = environ[var]
        elif value.startswith("credential:"):
            out[name] = _credential(name, value[len("credential:") :], environ)
        else:
            out[name] = value
    return out


def _credential(header: str, name: str, environ: Mapping[str, str]) -> str:
    directory = environ.get("CREDENTIALS_DIRECTORY")
    if not directory:
        raise SecretError(f"header {header}: credential {name}: $CREDENTIALS_DIRECTORY is not set")
    if not name or "/" in name or name in (".", ".."):
        raise SecretError(f"header {header}: credential name must be a plain file name")
    try:
        text = (Path(directory) / name).read_text(encoding="utf-8")
    except OSError as exc:
        raise SecretError(
            f"header {header}: credential {name}: {exc.strerror or type(exc).__name__}"
        ) from None
    return text.removesuffix("\n")
