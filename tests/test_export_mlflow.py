"""``driftd export mlflow`` into a local SQLite tracking store (no server): each version a run
and a registered model version with its lineage, the ``champion`` alias on the champion, and a
re-run that creates nothing new. Skipped when MLflow (the ``driftd[mlflow]`` extra) is absent."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from cli_support import NOW, check, run, run_json

from driftd import synth

mlflow = pytest.importorskip("mlflow", reason="the driftd[mlflow] extra is not installed")

CONFIG = """
registry = "state/registry.db"
artifacts = "state/artifacts"
log_level = "warning"

[[models]]
name = "churn"
every = "1d"

[models.data]
reference = "data/reference.csv"
live = "data/live/*.csv"
timestamp = "ts"
target = "label"
window = "1d"

[models.drift]
hysteresis_k = 1
hysteresis_n = 1

[models.promotion]
scorer = "roc_auc"
min_holdout = 200
bootstrap = 200
"""


def _export(config: Path, uri: str) -> dict[str, object]:
    proc = run(config, "export", "mlflow", "--tracking-uri", uri, "--json", rc=0)
    loaded: dict[str, object] = json.loads(proc.stdout)
    return loaded


@pytest.mark.slow
def test_export_registers_versions_with_lineage_idempotently(tmp_path: Path) -> None:
    """A quiet day bootstraps churn-v1; a drifted day trains churn-v2, which is promoted
    (post-drift data) and refitted as churn-v3. The export makes three runs and registered
    versions 1-3 with the
    driftd version id, status and hashes as tags, the estimator and seed as params, the
    holdout roc_auc and the comparison with the champion as metrics, the artifact logged to
    the run, and ``churn@champion`` -> version 3 (churn-v3, v2's refit). A second export
    creates nothing. After ``driftd rollback`` the next export moves the alias to version 1."""
    synth.write_demo_data(tmp_path / "data", NOW, rows_per_day=400, reference_rows=2000)
    config = tmp_path / "config.toml"
    config.write_text(CONFIG, encoding="utf-8")
    assert check(config, NOW - timedelta(days=6))["churn"]["decision"] == "bootstrap"
    second = check(config, NOW - timedelta(days=1))["churn"]
    assert second["decision"] == "promote", second
    uri = f"sqlite:///{tmp_path / 'mlflow' / 'mlflow.db'}"
    (tmp_path / "mlflow").mkdir()

    first = _export(config, uri)
    exported = [(v["version_id"], v["mlflow_version"], v["created"]) for v in first["versions"]]  # type: ignore[union-attr]
    # churn-v2 won on the holdout; churn-v3 is its refit on training + holdout, the champion.
    assert exported == [("churn-v1", "1", True), ("churn-v2", "2", True), ("churn-v3", "3", True)]
    assert first["champion_alias"] == {"churn": "3"}

    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    champion = client.get_model_version_by_alias("churn", "champion")
    assert str(champion.version) == "3" and champion.tags["driftd.version_id"] == "churn-v3"
    run_ = client.get_run(champion.run_id)
    shown = run_json(config, "show", "churn-v3")
    assert run_.data.tags["driftd.artifact_sha256"] == shown["artifact_sha256"]
    assert run_.data.tags["driftd.parent_id"] == "churn-v2"
    assert run_.data.tags["driftd.status"] == "champion"
    assert run_.data.params["estimator"] == "sklearn.linear_model.LogisticRegression"
    assert run_.data.params["seed"] == "0"
    assert run_.data.params["data_rows"] == str(shown["data_rows"])
    logged = [a.path for a in client.list_artifacts(champion.run_id, "model")]
    assert logged == [f"model/{Path(shown['artifact_path']).name}"]
    assert champion.source == f"runs:/{champion.run_id}/model"
    candidate = client.get_run(client.get_model_version("churn", "2").run_id)
    holdout = run_json(config, "show", "churn-v2")["metrics"]["roc_auc"]
    assert candidate.data.metrics["roc_auc"] == pytest.approx(holdout)
    assert candidate.data.metrics["vs_champion.roc_auc.ci_low"] > 0  # promoted on this

    again = _export(config, uri)
    assert [v["created"] for v in again["versions"]] == [False] * 3  # type: ignore[union-attr]

    # An export killed right after creating churn-v1's run (RUNNING, no params, no artifact):
    # the next export replaces that run with a complete one.
    other = f"sqlite:///{tmp_path / 'mlflow' / 'other.db'}"
    fresh = mlflow.MlflowClient(tracking_uri=other, registry_uri=other)
    experiment = fresh.create_experiment(
        "driftd", artifact_location=(tmp_path / "mlflow" / "other").as_uri()
    )
    killed = fresh.create_run(experiment, tags={"driftd.version_id": "churn-v1"}).info.run_id
    assert _export(config, other)["versions"][0]["created"] is True  # type: ignore[index]
    [finished] = fresh.search_runs([experiment], "tags.`driftd.version_id` = 'churn-v1'")
    assert finished.info.run_id != killed and finished.info.status == "FINISHED"
    assert finished.data.params["seed"] == "0"
    assert fresh.get_run(killed).info.lifecycle_stage == "deleted"
    assert len(client.search_model_versions("name='churn'")) == 3
    assert len(client.search_runs([run_.info.experiment_id])) == 3

    run(config, "rollback", "churn", "--reason", "test", rc=0)
    moved = _export(config, uri)
    assert moved["champion_alias"] == {"churn": "1"}
    assert str(client.get_model_version_by_alias("churn", "champion").version) == "1"
    assert client.get_model_version("churn", "3").tags["driftd.status"] != "champion"


def test_an_unknown_model_and_a_bad_uri_are_one_line_errors(tmp_path: Path) -> None:
    """``--model`` must name a model of the config; an unusable tracking URI is one line on
    stderr with exit 2, naming the URI."""
    synth.write_demo_data(tmp_path / "data", NOW, rows_per_day=50, reference_rows=200)
    config = tmp_path / "config.toml"
    config.write_text(CONFIG, encoding="utf-8")
    proc = run(config, "export", "mlflow", "--tracking-uri", "sqlite:///x.db", "--model", "nope")
    assert proc.returncode != 0 and "nope" in proc.stderr
    bad = run(config, "export", "mlflow", "--tracking-uri", "bogus://nowhere", rc=2)
    lines = bad.stderr.strip().splitlines()
    assert len(lines) == 1 and "bogus://nowhere" in lines[0], bad.stderr
