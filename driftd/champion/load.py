"""The champion for serving code: :func:`load_champion` and the cheap :func:`changed_since`.

A model server loads the champion once, then asks :meth:`Champion.changed` (one SQL row, well
under a millisecond; see the README's "Serving the champion") as often as it likes and loads
again when it says so, without restarting.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from driftd.errors import ArtifactError, NotFoundError

if TYPE_CHECKING:
    from driftd.config import Config


def as_config(config: Config | str | os.PathLike[str] | None) -> Config:
    """A loaded :class:`~driftd.config.Config`: as given, or read from a path, or from
    ``$DRIFTD_CONFIG`` / ``/etc/driftd/config.toml`` when None (as the CLI's ``--config``)."""
    from driftd import config as config_mod

    if isinstance(config, config_mod.Config):
        return config
    path = config_mod.resolve_config_path(None if config is None else os.fspath(config))
    cfg = config_mod.load(path)
    from driftd.registry.connection import require_regular

    require_regular(cfg.registry)
    return cfg


@dataclass(frozen=True, slots=True)
class Champion:
    """A loaded champion: ``model`` is the fitted object (anything with ``predict``),
    ``version`` its id; the rest is what the registry recorded about its artifact."""

    name: str
    version: str
    model: Any
    artifact: Path
    sha256: str
    size: int
    promoted_at: str
    decision_id: int
    registry: Path

    def changed(self) -> bool:
        """Whether the registry's champion is no longer this one (one SQL row)."""
        return current_version(self.registry, self.name) != self.version

    def predict(self, x: Any) -> Any:
        return self.model.predict(x)


def load_champion(model: str, config: Config | str | os.PathLike[str] | None = None) -> Champion:
    """The current champion of ``model``: read from the registry, its artifact checked against
    the recorded size and sha256, and loaded with the model's ``training.trusted_types`` and
    ``training.allow_pickle`` exactly as the daemon loads it (skops with an allow-list; pickle
    only by opt-in). NotFoundError without a champion, ArtifactError for a missing, altered or
    untrusted artifact."""
    from driftd import trainer
    from driftd.registry import queries

    cfg = as_config(config)
    training = cfg.model(model).training
    row = queries.champion(cfg.registry, model)
    if row is None:
        raise NotFoundError(f"{model}: no champion yet (the first check trains one)")
    path = Path(row["artifact_path"])
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise ArtifactError(f"{path}: artifact is missing") from None
    except OSError as exc:
        raise ArtifactError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if size != row["artifact_size"]:
        raise ArtifactError(
            f"{path}: size {size} bytes, registry says {row['artifact_size']}; "
            "the artifact was altered or replaced, refusing to load"
        )
    fitted = trainer.load_model(
        path,
        row["artifact_sha256"],
        trusted=training.trusted_types,
        allow_pickle=training.allow_pickle,
    )
    return Champion(
        name=model,
        version=str(row["version_id"]),
        model=fitted,
        artifact=path,
        sha256=str(row["artifact_sha256"]),
        size=int(row["artifact_size"]),
        promoted_at=str(row["since"]),
        decision_id=int(row["decision_id"]),
        registry=cfg.registry,
    )


def changed_since(
    model: str, version: str | None, config: Config | str | os.PathLike[str] | None = None
) -> bool:
    """Whether ``model``'s champion is no longer ``version`` (None: there was none)."""
    return current_version(as_config(config).registry, model) != version


def current_version(registry: Path, model: str) -> str | None:
    """The champion's version id, from one row; None without a registry or a champion."""
    import sqlite3

    from driftd.registry import codec

    if not Path(registry).exists():
        return None
    try:
        conn = codec.connect_ro(Path(registry))
        try:
            row = conn.execute(
                "SELECT version_id FROM champions WHERE model = ?", (model,)
            ).fetchone()
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise codec.translate(exc, Path(registry)) from None
    return None if row is None else str(row[0])
