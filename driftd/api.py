"""driftd's public Python API; ``import driftd`` exposes every name in ``driftd.__all__``.

The command line is a shell over these functions: ``driftd promote`` is
:meth:`Registry.promote`, ``driftd status`` is :func:`status`, and so on, with the same
refusals and the same exceptions (:mod:`driftd.errors`: every one derives from
:class:`~driftd.errors.DriftdError`, and carries the CLI's exit code as ``exit_code``).

A ``config`` argument is a loaded :class:`~driftd.config.Config`, a path to a TOML file, or None
for ``$DRIFTD_CONFIG`` else ``/etc/driftd/config.toml`` (as the CLI's ``--config``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from driftd.champion.load import Champion, as_config, changed_since, load_champion
from driftd.champion.manual import Decided
from driftd.errors import DriftdError

if TYPE_CHECKING:
    import pandas as pd

    from driftd.config import Config, DriftConfig, NameChecks
    from driftd.cycle import CycleResult
    from driftd.domain import DriftReport

SQLITE_MAX_INT = 2**63 - 1

__all__ = [
    "Champion",
    "Decided",
    "Registry",
    "changed_since",
    "check",
    "compare",
    "history",
    "load_champion",
    "load_config",
    "status",
    "validate_config",
]


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Read and validate a config file (structure, types, ranges; not the estimator names);
    ConfigError lists every problem."""
    return as_config(path)


def validate_config(path: str | os.PathLike[str] | None = None) -> Config:
    """:func:`load_config` plus the checks ``driftd validate`` makes: estimator, scorer and test
    names exist (imports scikit-learn)."""
    from driftd import config as config_mod

    resolved = config_mod.resolve_config_path(None if path is None else os.fspath(path))
    return config_mod.load(resolved, name_checks())


def name_checks() -> NameChecks:
    """The full checks: importing scikit-learn to confirm estimator and scorer names exist."""
    from driftd import evaluate, stats, trainer
    from driftd.config import NameChecks

    return NameChecks(
        estimator=trainer.check_estimator, scorer=evaluate.check_scorer, test=stats.test_problem
    )


def compare(
    reference: pd.DataFrame | str | os.PathLike[str],
    live: pd.DataFrame | str | os.PathLike[str],
    *,
    categorical: Sequence[str] = (),
    exclude: Sequence[str] = (),
    drift: DriftConfig | None = None,
) -> DriftReport:
    """Compare two frames (or CSV/Parquet files) with the drift engine, as ``driftd drift``.

    Every column of ``reference`` but ``exclude`` is a feature; ``categorical`` forces columns
    to be compared as categories; ``drift`` is a model's ``[models.drift]`` (default: the
    defaults). DataError for a missing column or values that cannot be compared.
    """
    from driftd import detect, sources
    from driftd.config import DriftConfig

    ref, ref_name = _frame(reference, "reference")
    cur, cur_name = _frame(live, "live")
    features = [str(c) for c in ref.columns if c not in set(exclude)]
    sources.require_columns(cur, features, cur_name)
    sources.check_features(ref, features, categorical, f"reference {ref_name}")
    sources.check_features(cur, features, categorical, f"live {cur_name}")
    kinds = detect.infer_kinds(ref[features], categorical)
    return detect.compare_frames(ref[features], cur[features], kinds, drift or DriftConfig())


def _frame(value: Any, label: str) -> tuple[pd.DataFrame, str]:
    from driftd import sources

    if isinstance(value, str | os.PathLike):
        path = os.fspath(value)
        return sources.read(sources.SourceConfig(str(path)), label=label), str(path)
    return value, label


def check(
    config: Config | str | os.PathLike[str] | None = None,
    model: str | Sequence[str] | None = None,
    now: datetime | None = None,
) -> list[CycleResult]:
    """One monitoring cycle per model (or only ``model``), through the daemon's code, as
    ``driftd check``; ``now`` is the clock for the windows (a replay), default the wall clock."""
    from driftd import daemon

    cfg = as_config(config)
    names = [model] if isinstance(model, str) else list(model) if model else None
    if names:
        for name in names:
            cfg.model(name)
    return daemon.check_once(cfg, names, now)


def status(config: Config | str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Per model: champion, last check, last decision, last error, last failed hook; and the
    daemon's liveness (``driftd status --json``)."""
    cfg = as_config(config)
    return registry_status(cfg.registry, cfg)


def registry_status(registry: Path, cfg: Config | None) -> dict[str, Any]:
    """:func:`status` of a registry file; models only in ``cfg`` listed as configured only."""
    from driftd.registry import queries

    data = queries.status(registry, now=datetime.now(UTC))
    data["registry"] = str(registry)
    known = {m["name"] for m in data["models"]}
    for m in data["models"]:
        hook = m.get("last_hook")
        if hook:  # the line a terminal shows: the output's last, whatever came before
            hook["last_line"] = (hook.get("output") or "").strip().rpartition("\n")[2][:200]
    for m in cfg.models if cfg else ():
        if m.name not in known:
            data["models"].append({"name": m.name, "champion": None, "configured_only": True})
    return data


def history(
    config: Config | str | os.PathLike[str] | None = None,
    model: str | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """The decision log, newest first (``driftd history --json``): ``at`` is the decision's
    logical time, ``recorded_at`` the wall clock."""
    from driftd.registry import queries

    if not 1 <= limit <= SQLITE_MAX_INT:
        raise DriftdError(f"--limit: must be between 1 and {SQLITE_MAX_INT} (got {limit})")
    return queries.history(as_config(config).registry, model=model, limit=limit)


class Registry:
    """The operator's decisions on a config's registry, with the CLI's refusals.

    >>> import driftd
    >>> driftd.Registry  # doctest: +ELLIPSIS
    <class 'driftd.api.Registry'>
    """

    def __init__(self, config: Config | str | os.PathLike[str] | None = None) -> None:
        self.config = as_config(config)

    def __repr__(self) -> str:
        return f"Registry({str(self.config.registry)!r})"

    def promote(
        self, model: str, version: str, *, reason: str, actor: str | None = None
    ) -> Decided:
        """Make ``version`` (``3``, ``v3`` or ``churn-v3``) the champion, as ``driftd promote``.

        Refused (DriftdError) for a blank, over-long or multi-line reason, an artifact that is
        missing or not the recorded bytes (ArtifactError), an unknown version (NotFoundError)
        and the current champion (RegistryError). Then the pointer file and the hook.
        """
        from driftd.champion import manual

        actor = actor or manual.default_actor("python")
        return manual.promote(self.config, model, version, reason=reason, actor=actor)

    def rollback(
        self, model: str, to: str | None = None, *, reason: str, actor: str | None = None
    ) -> Decided:
        """Return to a former champion (default: the previous one), as ``driftd rollback``;
        a version that never served is refused (promote it instead)."""
        from driftd.champion import manual

        actor = actor or manual.default_actor("python")
        return manual.rollback(self.config, model, to, reason=reason, actor=actor)

    def champion(self, model: str) -> dict[str, Any] | None:
        """What ``CHAMPION.json`` holds (``driftd champion --json``), from the registry."""
        from driftd.champion import pointer

        return pointer.expected(self.config.registry, model)
