"""The exception tree. Every error driftd raises on purpose derives from :class:`DriftdError`.

::

    DriftdError                      exit 2 unless noted
    ├── ConfigError                  exit 78; carries every problem found, one per line
    ├── DataError                    a source could not be read or has the wrong shape
    ├── StatsError                   a statistic could not be computed (bad input to a test)
    ├── RegistryError                the SQLite registry refused or failed an operation
    │   ├── RegistryBusyError        the write lock stayed taken too long; nothing was written
    │   ├── RegistryCorruptError     integrity check failed; exit 3, the file is left untouched
    │   ├── SchemaTooNewError        written by a newer driftd; exit 3
    │   └── NotFoundError            a model or version that does not exist
    ├── ArtifactError                an artifact is missing, altered, or unsafe to load
    ├── TrainingError                the training child crashed, timed out or returned garbage
    ├── EvaluationError              champion and candidate could not be scored
    └── LockError                    another daemon holds the registry; exit 75

Foreign exceptions (sqlite3, OSError, pandas parser errors, ...) are translated into these at the
boundary that meets them, so callers above that boundary only ever see this tree.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_DRIFT = 1
EXIT_ERROR = 2
EXIT_REGISTRY = 3
EXIT_LOCKED = 75
EXIT_CONFIG = 78


class DriftdError(Exception):
    """Root of every error driftd raises deliberately."""

    exit_code = EXIT_ERROR


class ConfigError(DriftdError):
    """The configuration is invalid. ``problems`` holds every problem, each ``key.path: why``."""

    exit_code = EXIT_CONFIG

    def __init__(self, problems: list[str] | tuple[str, ...], source: str = "") -> None:
        self.problems = tuple(problems)
        self.source = source
        prefix = f"{source}: " if source else ""
        super().__init__("\n".join(prefix + p for p in self.problems))


class DataError(DriftdError):
    """A data source is unreadable, empty, or lacks a column. The message names file and column."""


class StatsError(DriftdError):
    """A two-sample statistic was asked for something it cannot compute."""


class RegistryError(DriftdError):
    """The registry failed an operation; the transaction was rolled back."""


class RegistryBusyError(RegistryError):
    """The write lock stayed taken past the wait allowed; nothing was written, a retry may work."""


class RegistryCorruptError(RegistryError):
    exit_code = EXIT_REGISTRY


class SchemaTooNewError(RegistryError):
    exit_code = EXIT_REGISTRY


class NotFoundError(RegistryError):
    """A model, version or run that the registry does not hold."""


class ArtifactError(DriftdError):
    """An artifact is missing, its sha256 does not match, or it holds untrusted types."""


class TrainingError(DriftdError):
    """Training a candidate failed (crash, timeout, bad output)."""


class EvaluationError(DriftdError):
    """Champion and candidate could not be compared."""


class LockError(DriftdError):
    """Another ``driftd run`` already holds this registry."""

    exit_code = EXIT_LOCKED
