"""Copy the registry's versions into an MLflow tracking server and model registry.

The one home of ``mlflow`` (an optional extra, ``pip install 'driftd[mlflow]'``). Each driftd
version becomes one MLflow run in the experiment ``driftd`` and one version of the registered
model of the same name:

- params: how it was trained (estimator or entrypoint, ``params.*``, seed, training rows and
  their time range, parent version, package versions as ``env.*``);
- tags: ``driftd.version_id`` (the key that makes a re-run idempotent), model, parent, status,
  the artifact's, data's and reference's sha256, the features;
- metrics: the holdout metrics recorded with the version, and for a candidate its comparison
  with the champion of the day (``vs_champion.<metric>.difference``, ``.ci_low``, ``.ci_high``);
- the artifact file itself, logged to the run as ``model/<file>``; the registered version's
  source is ``runs:/<run>/model`` (the driftd path when retention already deleted the file).

The registered model's alias ``champion`` points at the current champion (removed when there
is none). A re-run finds each version's run by its ``driftd.version_id`` tag and its registered
version by run id, creates only what is missing, and refreshes the tags that change (status);
a run an interrupted export left unfinished is deleted and made again.
"""

from __future__ import annotations

import contextlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from driftd.errors import DriftdError
from driftd.registry import queries

EXPERIMENT = "driftd"
ALIAS = "champion"
KEY = "driftd.version_id"
_TAG_LIMIT = 5000  # MLflow refuses tag values past 8000 characters (5000 on some stores)


@dataclass(frozen=True, slots=True)
class Exported:
    version_id: str
    model: str
    mlflow_version: str
    run_id: str
    created: bool  # False: found from an earlier export, tags refreshed


def client(tracking_uri: str, registry_uri: str | None = None) -> Any:
    try:
        from mlflow import MlflowClient

        # Its SQLite store logs each schema migration at INFO on first use: not driftd's news.
        logging.getLogger("mlflow").setLevel(logging.WARNING)
        logging.getLogger("alembic").setLevel(logging.WARNING)
    except ImportError:
        raise DriftdError(
            "driftd export mlflow needs MLflow: pip install 'driftd[mlflow]'"
        ) from None
    return MlflowClient(tracking_uri=tracking_uri, registry_uri=registry_uri or tracking_uri)


def default_artifact_location(tracking_uri: str) -> str | None:
    """``<dir of the database>/mlartifacts`` for a SQLite URI (MLflow's default is relative to
    the working directory, which scatters artifacts); the server's default otherwise.

    >>> default_artifact_location("sqlite:////srv/mlflow/mlflow.db")
    'file:///srv/mlflow/mlartifacts'
    >>> default_artifact_location("http://mlflow:5000") is None
    True
    """
    parts = urlsplit(tracking_uri)
    if parts.scheme != "sqlite" or not parts.path.startswith("//"):
        return None
    return (Path(parts.path[1:]).parent / "mlartifacts").absolute().as_uri()


def export(
    registry: Path,
    tracking_uri: str,
    *,
    models: list[str],
    registry_uri: str | None = None,
    experiment: str = EXPERIMENT,
) -> tuple[list[Exported], dict[str, str | None]]:
    """Export every version of ``models``, oldest first; returns them and each model's alias."""
    try:
        mlflow = client(tracking_uri, registry_uri)
        experiment_id = _experiment(mlflow, experiment, tracking_uri)
        done: list[Exported] = []
        aliases: dict[str, str | None] = {}
        for model in models:
            _registered_model(mlflow, model)
            rows = sorted(queries.versions(registry, model), key=lambda r: int(r["number"]))
            for row in rows:
                done.append(_version(mlflow, experiment_id, registry, str(row["id"])))
            champion = queries.champion(registry, model)
            aliases[model] = _alias(mlflow, model, champion, done)
        return done, aliases
    except DriftdError:
        raise
    except Exception as exc:  # MlflowException and the store's own errors
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise DriftdError(f"mlflow ({tracking_uri}): {first}") from None


def _experiment(mlflow: Any, name: str, tracking_uri: str) -> str:
    found = mlflow.get_experiment_by_name(name)
    if found is not None:
        return str(found.experiment_id)
    location = default_artifact_location(tracking_uri)
    return str(mlflow.create_experiment(name, artifact_location=location))


def _registered_model(mlflow: Any, name: str) -> None:
    from mlflow.exceptions import MlflowException

    try:
        mlflow.get_registered_model(name)
    except MlflowException:
        mlflow.create_registered_model(name, tags={"driftd.model": name})


def _version(mlflow: Any, experiment_id: str, registry: Path, version_id: str) -> Exported:
    info = queries.show(registry, version_id)
    model = str(info["model"])
    tags = _tags(info)
    runs = mlflow.search_runs([experiment_id], f"tags.`{KEY}` = '{_quoted(version_id)}'")
    # A run an interrupted export left unfinished may lack params, metrics or the artifact, and
    # has no registered version yet (that comes after set_terminated): replace it.
    for stale in [r for r in runs if r.info.status != "FINISHED"]:
        mlflow.delete_run(stale.info.run_id)
    runs = [r for r in runs if r.info.status == "FINISHED"]
    created = not runs
    if created:
        run = mlflow.create_run(
            experiment_id, start_time=_ms(info["created_at"]), tags=tags, run_name=version_id
        )
        run_id = str(run.info.run_id)
        for key, value in _params(info).items():
            mlflow.log_param(run_id, key, value)
        for name, amount in _metrics(info).items():
            mlflow.log_metric(run_id, name, amount, timestamp=_ms(info["created_at"]))
        artifact = Path(str(info["artifact_path"]))
        if info.get("artifact_deleted_at") is None and artifact.is_file():
            mlflow.log_artifact(run_id, str(artifact), "model")
            source = f"runs:/{run_id}/model"
        else:
            source = artifact.as_uri()
        mlflow.set_terminated(run_id, end_time=_ms(info["created_at"]))
    else:
        run_id = str(runs[0].info.run_id)
        source = ""
        for key, value in tags.items():
            mlflow.set_tag(run_id, key, value)
    found = mlflow.search_model_versions(f"name='{_quoted(model)}' and run_id='{run_id}'")
    if found:
        number = str(found[0].version)
        for key in ("driftd.status",):
            mlflow.set_model_version_tag(model, number, key, tags[key])
    else:
        source = source or f"runs:/{run_id}/model"
        version_tags = {k: tags[k] for k in (KEY, "driftd.status", "driftd.artifact_sha256")}
        made = mlflow.create_model_version(model, source, run_id=run_id, tags=version_tags)
        number = str(made.version)
    return Exported(version_id, model, number, run_id, created)


def _alias(
    mlflow: Any, model: str, champion: dict[str, Any] | None, done: list[Exported]
) -> str | None:
    from mlflow.exceptions import MlflowException

    if champion is None:
        with contextlib.suppress(MlflowException):  # there was none
            mlflow.delete_registered_model_alias(model, ALIAS)
        return None
    number = next(e.mlflow_version for e in done if e.version_id == champion["version_id"])
    mlflow.set_registered_model_alias(model, ALIAS, number)
    return number


def _tags(info: dict[str, Any]) -> dict[str, str]:
    tags = {
        KEY: str(info["id"]),
        "driftd.model": str(info["model"]),
        "driftd.number": str(info["number"]),
        "driftd.parent_id": str(info.get("parent_id") or ""),
        "driftd.status": str(info["status"]),
        "driftd.created_at": str(info["created_at"]),
        "driftd.artifact_sha256": str(info["artifact_sha256"]),
        "driftd.data_sha256": str(info.get("data_sha256") or ""),
        "driftd.reference_sha256": str(info.get("reference_sha256") or ""),
        "driftd.features": json.dumps(info.get("features") or [])[:_TAG_LIMIT],
    }
    decisions = info.get("decisions") or []
    if decisions:
        tags["driftd.decision"] = str(decisions[-1]["action"])
    return tags


def _params(info: dict[str, Any]) -> dict[str, str]:
    params: dict[str, str] = {
        "estimator": str(info.get("estimator") or ""),
        "seed": str(info.get("seed")),
        "parent_id": str(info.get("parent_id") or ""),
        "data_rows": str(info.get("data_rows")),
        "data_time_min": str(info.get("data_time_min") or ""),
        "data_time_max": str(info.get("data_time_max") or ""),
        "n_features": str(len(info.get("features") or [])),
        "code_version": str(info.get("code_version") or ""),
    }
    for key, value in sorted((info.get("params") or {}).items()):
        params[f"params.{key}"] = json.dumps(value)[:_TAG_LIMIT]
    for key, value in sorted((info.get("environment") or {}).items()):
        params[f"env.{key}"] = str(value)
    return params


def _metrics(info: dict[str, Any]) -> dict[str, float]:
    metrics = {
        str(k): float(v)
        for k, v in (info.get("metrics") or {}).items()
        if isinstance(v, int | float)
    }
    if info.get("training_seconds") is not None:
        metrics["training_seconds"] = float(info["training_seconds"])
    for evaluation in info.get("evaluations") or []:
        if evaluation.get("candidate_id") != info["id"]:
            continue
        for row in evaluation.get("comparisons") or []:
            for field in ("difference", "ci_low", "ci_high", "champion"):
                value = row.get(field)
                if isinstance(value, int | float):
                    metrics[f"vs_champion.{row['metric']}.{field}"] = float(value)
    return metrics


def _ms(text: str) -> int:
    from datetime import datetime

    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def _quoted(text: str) -> str:
    return text.replace("'", "\\'")
