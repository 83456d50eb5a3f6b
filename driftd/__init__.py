"""driftd: keeps machine-learning models healthy in production.

It checks live data for drift on a schedule, retrains a candidate when the drift is real,
promotes it only on evidence, and records every check, version and decision in SQLite.

The Python API (:mod:`driftd.api`, documented in the README's "Python API") is loaded on first
use of a name (PEP 562), so ``import driftd`` itself imports nothing else.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# Public name -> the module that defines it.
_EXPORTS: dict[str, str] = {
    "load_config": "driftd.api",
    "validate_config": "driftd.api",
    "compare": "driftd.api",
    "comparison": "driftd.api",
    "Comparison": "driftd.api",
    "check": "driftd.api",
    "status": "driftd.api",
    "history": "driftd.api",
    "Registry": "driftd.api",
    "Decided": "driftd.api",
    "load_champion": "driftd.api",
    "changed_since": "driftd.api",
    "Champion": "driftd.api",
    "Config": "driftd.config",
    "DriftConfig": "driftd.config",
    "CycleResult": "driftd.cycle",
    "DriftReport": "driftd.domain",
    "DriftdError": "driftd.errors",
    "ConfigError": "driftd.errors",
    "DataError": "driftd.errors",
    "StatsError": "driftd.errors",
    "RegistryError": "driftd.errors",
    "RegistryCorruptError": "driftd.errors",
    "SchemaTooNewError": "driftd.errors",
    "NotFoundError": "driftd.errors",
    "ArtifactError": "driftd.errors",
    "TrainingError": "driftd.errors",
    "EvaluationError": "driftd.errors",
    "LockError": "driftd.errors",
}

__all__ = [
    "ArtifactError",
    "Champion",
    "Comparison",
    "Config",
    "ConfigError",
    "CycleResult",
    "DataError",
    "Decided",
    "DriftConfig",
    "DriftReport",
    "DriftdError",
    "EvaluationError",
    "LockError",
    "NotFoundError",
    "Registry",
    "RegistryCorruptError",
    "RegistryError",
    "SchemaTooNewError",
    "StatsError",
    "TrainingError",
    "__version__",
    "changed_since",
    "check",
    "compare",
    "comparison",
    "history",
    "load_champion",
    "load_config",
    "status",
    "validate_config",
]

if TYPE_CHECKING:
    from driftd.api import (
        Champion,
        Comparison,
        Decided,
        Registry,
        changed_since,
        check,
        compare,
        comparison,
        history,
        load_champion,
        load_config,
        status,
        validate_config,
    )
    from driftd.config import Config, DriftConfig
    from driftd.cycle import CycleResult
    from driftd.domain import DriftReport
    from driftd.errors import (
        ArtifactError,
        ConfigError,
        DataError,
        DriftdError,
        EvaluationError,
        LockError,
        NotFoundError,
        RegistryCorruptError,
        RegistryError,
        SchemaTooNewError,
        StatsError,
        TrainingError,
    )


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'driftd' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # once: later lookups do not come back here
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
