"""Prometheus metrics from the registry: ``driftd metrics``, a textfile, an HTTP endpoint.

The one home of ``prometheus_client``. Every value is read from the registry at collection time
(:mod:`.collector`, :mod:`.queries`), so all three outputs agree and nothing is kept in memory
between cycles. :mod:`.export` writes the textfile after each cycle and serves
``metrics.listen``.
"""

from __future__ import annotations

from driftd.metrics.export import (
    MAX_FEATURES,
    Endpoint,
    Settings,
    after_cycle,
    collector_registry,
    exposition,
    serve,
    settings,
    write_textfile,
)

__all__ = [
    "MAX_FEATURES",
    "Endpoint",
    "Settings",
    "after_cycle",
    "collector_registry",
    "exposition",
    "serve",
    "settings",
    "write_textfile",
]
