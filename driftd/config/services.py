"""The tables beside the models: metrics, report, notify, dask and daemon."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from driftd.config.models import (
    DaemonConfig,
    DaskConfig,
    MetricsConfig,
    NotifyConfig,
    ReportConfig,
    default_workers,
)
from driftd.config.reader import Reader
from driftd.config.spec import DASK_SCHEDULERS

_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # RFC 9110 token


def metrics(r: Reader) -> MetricsConfig:
    values = r.read_all()
    textfile = values["textfile"]
    if textfile is not None and textfile.suffix != ".prom":
        why = "must end in .prom (node_exporter's textfile collector reads only *.prom)"
        r.problem("textfile", why, r.table.get("textfile"))
        values["textfile"] = None
    if values["listen"] is not None:
        values["listen"] = host_port(values["listen"])
        if values["listen"] is None:
            why = 'must be "host:port" with a port in 0-65535, e.g. "127.0.0.1:9108"'
            r.problem("listen", why, r.table["listen"])
    r.finish()
    return MetricsConfig(**values)


def host_port(text: str) -> tuple[str, int] | None:
    """``host:port`` or ``[v6addr]:port`` -> (host, port); None when malformed.

    >>> host_port("[::1]:9108"), host_port("localhost:0"), host_port(":9108")
    (('::1', 9108), ('localhost', 0), None)
    """
    host, sep, port = text.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        return None
    if any(c.isspace() for c in host) or "/" in host:
        return None
    return host, int(port)


def report(r: Reader) -> ReportConfig:
    out = ReportConfig(**r.read_all())
    r.finish()
    return out


def dask(r: Reader) -> DaskConfig:
    scheduler = r.read("scheduler")
    if scheduler not in DASK_SCHEDULERS:
        address = scheduler.removeprefix("tcp://")
        if not scheduler.startswith("tcp://") or host_port(address) is None:
            why = 'must be threads, processes or "tcp://host:port" of a dask scheduler'
            r.problem("scheduler", why, scheduler)
            scheduler = DaskConfig().scheduler
    r.finish()
    return DaskConfig(scheduler=scheduler)


def daemon(r: Reader) -> DaemonConfig:
    workers = r.read("workers")
    r.finish()
    return DaemonConfig(workers=default_workers() if workers is None else workers)


def notify_list(r: Reader) -> tuple[NotifyConfig, ...]:
    """``[[notify]]`` (top level) or ``[[models.notify]]``: an array of tables, possibly empty."""
    raw = r.take("notify", default=[])
    spec = f"{r.spec_table}.notify" if r.spec_table else "notify"
    if not isinstance(raw, list) or not all(isinstance(t, dict) for t in raw):
        r.problem("notify", f"must be an array of tables ([[{spec}]])", raw)
        return ()
    found = (notify(r.child(r.key(f"notify[{i}]"), t, spec)) for i, t in enumerate(raw))
    return tuple(n for n in found if n is not None)


def notify(r: Reader) -> NotifyConfig:
    values = r.read_all(skip=("headers",))
    if values["command"] == ():
        r.problem("command", "must not be empty", [])
        values["command"] = None
    if values["events"] is None or values["events"] == ():
        if values["events"] == ():
            r.problem("events", "must not be empty (leave it out for every event)", [])
        values["events"] = NotifyConfig().events
    url = values["url"]
    if url is not None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            r.problem("url", "must be an http:// or https:// URL with a host", url)
    if ("command" in r.table) == ("url" in r.table):
        which = "both are set" if "url" in r.table else "neither is set"
        r.problem("url", f"set exactly one of command or url ({which})", None, show_value=False)
    headers = r.take("headers", default={})
    if not isinstance(headers, dict):
        r.problem("headers", "must be a table of header = value strings", headers)
        headers = {}
    elif headers and "url" not in r.table:
        r.problem("headers", "only applies with url", headers)
    for key, value in headers.items():
        problem = _header_problem(key, value)
        if problem:
            r.problem(f"headers.{key}", problem, value)
    r.finish()
    return NotifyConfig(**values, headers=dict(headers))


def _header_problem(name: str, value: Any) -> str | None:
    if not _HEADER_NAME.fullmatch(name):
        return "is not a valid HTTP header name"
    if not isinstance(value, str):
        return "must be a string"
    if "\r" in value or "\n" in value or "\0" in value:
        return "must not contain line breaks or null bytes"
    kind, sep, ref = value.partition(":")
    if sep and kind in ("env", "credential") and (not ref or "/" in ref or ref in (".", "..")):
        return f'needs a name after "{kind}:" (no "/")'
    return None
