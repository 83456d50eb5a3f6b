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
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from driftd.champion.load import Champion, as_config, changed_since, load_champion
from driftd.champion.manual import Decided
from driftd.errors import DataError, DriftdError

if TYPE_CHECKING:
    import pandas as pd

    from driftd.config import Config, DriftConfig, NameChecks
    from driftd.cycle import CycleResult
    from driftd.domain import DriftReport, FeatureKind

SQLITE_MAX_INT = 2**63 - 1

__all__ = [
    "Champion",
    "Comparison",
    "Decided",
    "Registry",
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


@dataclass(frozen=True, slots=True)
class Terms:
    """How an error names the settings it points at: ``compare``'s arguments by default; the
    CLI passes its flags (or, with a config, the config's keys)."""

    categorical: str = "categorical=[...]"
    exclude: str = "exclude=[...]"
    keep: str = "keep"
    keep_hint: str = "keep=[...]"


@dataclass(frozen=True, slots=True, eq=False)  # frames have no truth value to compare
class Comparison:
    """What :func:`comparison` found: the report, the columns left out as bookkeeping (name ->
    why), and the features with their kinds and rows (``live`` is None on the dask engine, which
    never holds the live side) for a plot (``driftd drift --html``)."""

    report: DriftReport
    left_out: dict[str, str]
    kinds: dict[str, FeatureKind]
    reference: pd.DataFrame
    live: pd.DataFrame | None
    engine: str = "pandas"

    def to_dict(self) -> dict[str, Any]:
        """What ``driftd drift --json`` prints: the report, ``left_out``, and ``engine`` when
        it is dask."""
        data = self.report.to_dict()
        data["left_out"] = dict(self.left_out)
        if self.engine != "pandas":
            data["engine"] = self.engine
        return data


def compare(
    reference: pd.DataFrame | str | os.PathLike[str],
    live: pd.DataFrame | str | os.PathLike[str],
    *,
    categorical: Sequence[str] = (),
    exclude: Sequence[str] = (),
    drift: DriftConfig | None = None,
    keep: Sequence[str] = (),
    drop_bookkeeping: bool = True,
    engine: str = "pandas",
    scheduler: str = "threads",
) -> DriftReport:
    """Compare two frames (or CSV/Parquet files) with the drift engine, as ``driftd drift``.

    Every column of ``reference`` but ``exclude`` is a feature, except (with
    ``drop_bookkeeping``, as ``driftd drift`` without a config) columns that look like
    timestamps or identifiers (:mod:`driftd.bookkeeping`): they are left out with a
    UserWarning naming them, unless listed in ``keep`` (or ``categorical``). ``categorical``
    forces columns to be compared as categories; ``drift`` is a model's ``[models.drift]``
    (default: the defaults); ``engine="dask"`` counts ``live`` (a Parquet file, directory or
    glob) partition by partition on ``scheduler``. DataError for a missing column or values
    that cannot be compared. :func:`comparison` returns the left-out columns and the kinds too.
    """
    found = comparison(
        reference,
        live,
        categorical=categorical,
        exclude=exclude,
        drift=drift,
        keep=keep,
        drop_bookkeeping=drop_bookkeeping,
        engine=engine,
        scheduler=scheduler,
    )
    if found.left_out:
        # Said, not silent: a column quietly missing from the report would read as "no drift".
        warnings.warn(left_out_notice(found.left_out), UserWarning, stacklevel=2)
    return found.report


def comparison(
    reference: pd.DataFrame | str | os.PathLike[str],
    live: pd.DataFrame | str | os.PathLike[str],
    *,
    categorical: Sequence[str] = (),
    exclude: Sequence[str] = (),
    drift: DriftConfig | None = None,
    keep: Sequence[str] = (),
    drop_bookkeeping: bool = True,
    engine: str = "pandas",
    scheduler: str = "threads",
    terms: Terms = Terms(),
) -> Comparison:
    """:func:`compare`, returning a :class:`Comparison` (and warning of nothing: the left-out
    columns are its ``left_out``); ``driftd drift`` is this call. ``terms`` names the settings
    in error messages."""
    from driftd import detect, sources
    from driftd.config import DriftConfig

    if engine not in ("pandas", "dask"):
        raise DriftdError(f"engine: must be 'pandas' or 'dask' (got {engine!r})")
    ref, ref_path = _reference(reference, engine, scheduler)
    ref_where = f"reference {ref_path}" if ref_path else "reference"
    cur: pd.DataFrame | None = None
    live_path: str | None = None
    if engine == "pandas":
        cur, live_path = _frame(live, "live")
    elif isinstance(live, str | os.PathLike):
        live_path = os.fspath(live)
    else:  # the dask engine exists for a live side larger than memory: never a frame
        raise DataError(f"live: the dask engine reads a Parquet path, got {type(live).__name__}")
    # A column named in `categorical` was chosen by name: compared, whatever it looks like.
    chosen = (*keep, *(c for c in categorical if c in ref.columns))
    left_out = _bookkeeping(ref, keep, terms, chosen) if drop_bookkeeping else {}
    skip = set(exclude) | set(left_out)
    features = [str(c) for c in ref.columns if c not in skip]
    if cur is not None:
        sources.require_columns(cur, features, live_path or "live")
    sources.check_features(ref, features, categorical, ref_where)
    _refuse_times(ref, features, categorical, ref_where, terms)
    kinds = detect.infer_kinds(ref[features], categorical)
    if cur is None:
        from driftd.dask import compare as on_dask

        assert live_path is not None
        report = on_dask.compare(ref[features], live_path, kinds, drift or DriftConfig(), scheduler)
        return Comparison(report, left_out, kinds, ref[features], None, engine)
    sources.check_features(cur, features, categorical, f"live {live_path or ''}".rstrip())
    report = detect.compare_frames(ref[features], cur[features], kinds, drift or DriftConfig())
    return Comparison(report, left_out, kinds, ref[features], cur[features], engine)


def _reference(value: Any, engine: str, scheduler: str) -> tuple[pd.DataFrame, str | None]:
    """The reference side: on dask, a directory or glob of Parquet is read through dask."""
    if engine == "dask" and isinstance(value, str | os.PathLike):
        from driftd.dask.compare import read_reference

        return read_reference(os.fspath(value), scheduler), os.fspath(value)
    return _frame(value, "reference")


def _bookkeeping(
    frame: pd.DataFrame, keep: Sequence[str], terms: Terms, chosen: Sequence[str]
) -> dict[str, str]:
    """The columns :func:`driftd.bookkeeping.guess` names, but those ``chosen``; DataError for
    a ``keep`` the reference lacks."""
    from driftd import bookkeeping

    unknown = [k for k in keep if k not in frame.columns]
    if unknown:
        raise DataError(f"{terms.keep}: no column {unknown[0]!r} in the reference")
    return {c: why for c, why in bookkeeping.guess(frame).items() if c not in chosen}


def left_out_notice(left_out: dict[str, str], terms: Terms = Terms()) -> str:
    """The one line that names the columns left out and how to put one back."""
    said = ", ".join(f"{c} ({why})" for c, why in left_out.items())
    return f"left out {said}; compare one anyway with {terms.keep_hint}"


def _refuse_times(
    frame: pd.DataFrame,
    features: Sequence[str],
    categorical: Sequence[str],
    where: str,
    terms: Terms,
) -> None:
    """DataError naming a date or duration column among ``features`` and the settings that
    leave it out or compare it as categories (times are neither numbers nor categories)."""
    import pandas as pd

    listed = set(categorical)
    for name in features:
        dtype = frame[name].dtype
        if name in listed:
            continue
        if pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype):
            raise DataError(
                f"{where}: column {name!r} has dtype {dtype}; leave it out ({terms.exclude}) "
                f"or compare its values as categories ({terms.categorical})"
            )


def _frame(value: Any, label: str) -> tuple[pd.DataFrame, str | None]:
    """A frame, and its path when it was read from a file (errors name the file)."""
    import pandas as pd

    from driftd import sources

    if isinstance(value, str | os.PathLike):
        path = os.fspath(value)
        return sources.read(sources.SourceConfig(str(path)), label=label), str(path)
    if not isinstance(value, pd.DataFrame):
        # Not an AttributeError from deep in the engine: name the argument and what it takes.
        raise DataError(
            f"{label}: expected a pandas DataFrame or a CSV/Parquet path, "
            f"got {type(value).__name__}"
        )
    return value, None


def check(
    config: Config | str | os.PathLike[str] | None = None,
    model: str | Sequence[str] | None = None,
    now: datetime | None = None,
) -> list[CycleResult]:
    """One monitoring cycle per model (or only ``model``), through the daemon's code, as
    ``driftd check``; ``now`` is the clock for the windows (a replay), default the wall clock.
    A config given as a path is checked as :func:`validate_config` checks it, as the CLI does."""
    from driftd import daemon
    from driftd.config import Config
    from driftd.registry.connection import require_regular

    if isinstance(config, Config):
        cfg = config
    else:  # as `driftd check`: estimator, scorer and test names too, before any data is read
        cfg = validate_config(config)
        require_regular(cfg.registry)
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
        self,
        model: str,
        version: str,
        *,
        reason: str,
        actor: str | None = None,
        notify: bool = True,
    ) -> Decided:
        """Make ``version`` (``3``, ``v3`` or ``churn-v3``) the champion, as ``driftd promote``.

        Refused (DriftdError) for a blank, over-long or multi-line reason, an artifact that is
        missing or not the recorded bytes (ArtifactError), an unknown version (NotFoundError)
        and the current champion (RegistryError). Then the pointer file, the hook, and (with
        ``notify``) the ``promote`` event to the ``[[notify]]`` targets, as the CLI does.
        """
        from driftd.champion import manual

        actor = actor or manual.default_actor("python")
        return manual.promote(
            self.config, model, version, reason=reason, actor=actor, notify=notify
        )

    def rollback(
        self,
        model: str,
        to: str | None = None,
        *,
        reason: str,
        actor: str | None = None,
        notify: bool = True,
    ) -> Decided:
        """Return to a former champion (default: the previous one), as ``driftd rollback``;
        a version that never served is refused (promote it instead). Then as :meth:`promote`
        (the event is ``rollback``)."""
        from driftd.champion import manual

        actor = actor or manual.default_actor("python")
        return manual.rollback(self.config, model, to, reason=reason, actor=actor, notify=notify)

    def champion(self, model: str) -> dict[str, Any] | None:
        """What ``CHAMPION.json`` holds (``driftd champion --json``), from the registry."""
        from driftd.champion import pointer

        return pointer.expected(self.config.registry, model)
