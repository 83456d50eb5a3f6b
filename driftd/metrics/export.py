"""Where the metrics go: exposition text, an atomic textfile, an HTTP endpoint.

The settings come from the config's ``[metrics]`` table (``Config.metrics``); a config without
it (or an older ``Config`` without the field) means no textfile, no endpoint and the default
cap, so this module reads it with ``getattr``.
"""

from __future__ import annotations

import errno
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest, start_http_server

from driftd.errors import DriftdError
from driftd.log import event
from driftd.metrics.collector import RegistryCollector

MAX_FEATURES = 100  # per model; see the README's "Metrics" for why
TEXTFILE_MODE = 0o644  # node_exporter runs as another user and must read it


@dataclass(frozen=True, slots=True)
class Settings:
    textfile: Path | None = None
    listen: tuple[str, int] | None = None
    max_features: int = MAX_FEATURES


def settings(cfg: Any) -> Settings:
    """The ``[metrics]`` settings of a loaded config, defaults where it has none."""
    section = getattr(cfg, "metrics", None)
    if section is None:
        return Settings()
    cap = getattr(section, "max_features", MAX_FEATURES)
    return Settings(
        getattr(section, "textfile", None),
        getattr(section, "listen", None),
        MAX_FEATURES if cap is None else int(cap),
    )


def collector_registry(path: Path, max_features: int = MAX_FEATURES) -> CollectorRegistry:
    """A prometheus_client registry whose one collector reads the driftd registry at ``path``.

    ``auto_describe=False``: describing would run a full collection at registration.
    """
    registry = CollectorRegistry(auto_describe=False)
    registry.register(RegistryCollector(path, max_features))
    return registry


def exposition(path: Path, max_features: int = MAX_FEATURES) -> str:
    """The Prometheus text exposition of the registry at ``path``, as the endpoint serves it."""
    return generate_latest(collector_registry(path, max_features)).decode("utf-8")


def write_textfile(path: Path, registry: Path, max_features: int = MAX_FEATURES) -> None:
    """Write the exposition to ``path`` atomically: a temp file beside it, fsynced, renamed.

    node_exporter's textfile collector may read at any moment, so it must never see half a
    file; prometheus_client's ``write_to_textfile`` does the same rename but leaves the mode to
    the umask (0640 under the unit's ``UMask=0027``, unreadable for node_exporter's user) and
    does not fsync. Raises OSError.
    """
    data = generate_latest(collector_registry(registry, max_features))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, TEXTFILE_MODE)
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), TEXTFILE_MODE)  # the umask narrowed os.open's mode
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def after_cycle(cfg: Any) -> None:
    """Refresh the textfile, when one is configured. Never raises: metrics must not fail a cycle."""
    where = settings(cfg)
    if where.textfile is None:
        return
    try:
        write_textfile(where.textfile, cfg.registry, where.max_features)
    except (OSError, DriftdError) as exc:
        event("metrics.textfile_failed", logging.ERROR, path=str(where.textfile), error=str(exc))
    except Exception as exc:  # a bug here must not take the cycle or the daemon down
        event("metrics.textfile_failed", logging.ERROR, path=str(where.textfile), error=repr(exc))


class Endpoint:
    """The HTTP endpoint serving ``/metrics`` from a background thread."""

    def __init__(self, server: Any, thread: threading.Thread) -> None:
        self._server, self._thread = server, thread

    @property
    def port(self) -> int:
        return int(self._server.server_port)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


def serve(cfg: Any) -> Endpoint | None:
    """Start the endpoint of ``metrics.listen``, or None when it is not set.

    A DriftdError when the address cannot be bound: an operator who asked for metrics learns at
    start-up, not when a dashboard stays empty (under systemd the sandbox forbids IP sockets
    until the drop-in in the README allows them).
    """
    where = settings(cfg)
    if where.listen is None:
        return None
    host, port = where.listen
    try:
        server, thread = start_http_server(
            port, addr=host, registry=collector_registry(cfg.registry, where.max_features)
        )
    except OSError as exc:
        hint = ""
        if exc.errno in (errno.EAFNOSUPPORT, errno.EPERM, errno.EACCES):
            hint = " (under systemd, the README's metrics drop-in allows IP sockets)"
        raise DriftdError(
            f"metrics.listen: cannot listen on {host}:{port}: {exc.strerror or exc}{hint}"
        ) from None
    event("metrics.listening", address=f"{host}:{server.server_port}")
    return Endpoint(server, thread)
