"""Refit on promotion (``promotion.refit``) through the real cycle: real registry, real children.

The data is :mod:`driftd.synth`'s demo stream, whose concept changes four days before ``NOW``:
the champion's realised roc_auc collapses at the first check on drifted labels, a candidate
trained on them wins, and the artifact that goes live is that candidate's spec and seed trained
again on its training rows plus its holdout.
"""

from __future__ import annotations

import sqlite3
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from driftd import config, cycle, lineage, synth, trainer
from driftd.cycle import CycleResult
from driftd.cycle.data import DATA_FILE, HOLDOUT_FILE
from driftd.domain import Action
from driftd.fingerprint import frame_sha256
from driftd.registry import queries
from driftd.registry.store import Registry
from driftd.registry.verify import verify
from driftd.reproduce import reproduce

NOW = datetime(2026, 1, 11, tzinfo=UTC)

# A training command that fails on its n-th call (counted in a file): the refit is the 3rd call
# (bootstrap, candidate, refit), so the evaluated candidate trains and its refit fails.
SCRIPT = """
import pathlib, sys
import pandas as pd, skops.io
from sklearn.linear_model import LogisticRegression
train, model, counter, fail_at = sys.argv[1:5]
count = pathlib.Path(counter)
calls = (count.read_text() if count.exists() else "") + "x"
count.write_text(calls)
if len(calls) == int(fail_at):
    sys.exit(5)
frame = pd.read_parquet(train)
features = FEATURES
skops.io.dump(LogisticRegression(max_iter=1000).fit(frame[features], frame["label"]), model)
""".replace("FEATURES", repr(list(synth.NUMERIC)))


def _config(tmp: Path, **promotion: Any) -> config.Config:
    paths = synth.write_demo_data(tmp / "data", NOW, rows_per_day=400, reference_rows=1500)
    (tmp / "state").mkdir()
    training: dict[str, Any] = {"params": {"max_iter": 1000}, "window": "1d"}
    data: dict[str, Any] = {"categorical": ["plan", "region"]}
    if promotion.pop("failing_refit", False):
        script = tmp / "train.py"
        script.write_text(SCRIPT)
        argv = [sys.executable, str(script), "{train}", "{model}", str(tmp / "calls"), "3"]
        training = {"command": argv, "window": "1d"}
        data = {"features": list(synth.NUMERIC)}
    raw = {
        "registry": "state/registry.db",
        "models": [
            {
                "name": "churn",
                "every": "1d",
                "data": {
                    "reference": str(paths["reference"]),
                    "live": str(paths["live"] / "*.csv"),
                    "timestamp": "ts",
                    "target": "label",
                    "window": "1d",
                    **data,
                },
                # Only realised performance triggers: the test is about what follows a win.
                "drift": {"share": 1.0, "prediction_drift": False},
                "training": training,
                "promotion": {"min_holdout": 100, "bootstrap": 200, **promotion},
            }
        ],
    }
    return config.parse(raw, base=tmp)


def _run(cfg: config.Config, days_ago: int) -> CycleResult:
    with Registry.open(cfg.registry) as registry:
        return cycle.run_cycle(cfg, cfg.models[0], registry, NOW - timedelta(days=days_ago))


def _promote(cfg: config.Config) -> CycleResult:
    """Bootstrap at -9d, then the first check whose realised window is drifted (-3d)."""
    assert _run(cfg, 9).decision is not None
    result = _run(cfg, 3)
    assert result.decision is not None, result.retrain_reason
    assert result.decision.action is Action.PROMOTE, result.decision.reason
    return result


def test_the_promoted_artifact_is_the_winner_refitted_on_training_plus_holdout(
    tmp_path: Path,
) -> None:
    """The champion is a new version whose parent is the evaluated candidate (spec `refit_of`
    names it with its artifact hash and rows); it was trained on exactly the candidate's
    training rows followed by its holdout rows, with the same estimator, params and seed; it
    carries the candidate's holdout metrics, and the decision (one, about the refit) carries
    the evaluation and both hashes. The evaluation row is about the candidate. `verify` is
    clean, `show` lays the refit out, and `reproduce` rebuilds the refit itself."""
    cfg = _config(tmp_path)
    result = _promote(cfg)
    champion = queries.champion(cfg.registry, "churn")
    assert champion is not None and champion["version_id"] == result.version_id
    candidate = queries.show(cfg.registry, champion["parent_id"])
    refit = queries.show(cfg.registry, champion["version_id"])
    assert refit["number"] == candidate["number"] + 1
    spec = refit["spec"]
    assert spec["refit_of"]["version"] == candidate["id"]
    assert spec["refit_of"]["artifact_sha256"] == candidate["artifact_sha256"]
    assert spec["refit_of"]["rows"] == candidate["data_rows"]
    assert spec["holdout"]["trained_on"] is True
    assert spec["holdout"]["sha256"] == candidate["spec"]["holdout"]["sha256"]
    assert refit["artifact_sha256"] != candidate["artifact_sha256"]
    assert (refit["params"], refit["seed"]) == (candidate["params"], candidate["seed"])
    assert refit["metrics"] == candidate["metrics"]

    # The refit's snapshot is the candidate's training rows, then its holdout rows.
    refit_dir, candidate_dir = (Path(v["artifact_path"]).parent for v in (refit, candidate))
    train = pd.read_parquet(candidate_dir / DATA_FILE)
    holdout = pd.read_parquet(candidate_dir / HOLDOUT_FILE)
    both = pd.read_parquet(refit_dir / DATA_FILE)
    assert len(both) == len(train) + len(holdout) == refit["data_rows"] == spec["rows"]
    columns = [*refit["features"], "label"]
    together = pd.concat([train, holdout], ignore_index=True)[both.columns]
    pd.testing.assert_frame_equal(both, together, check_dtype=False)
    assert refit["data_sha256"] == frame_sha256(both, columns)
    assert pd.read_parquet(refit_dir / HOLDOUT_FILE).equals(holdout)

    decisions = queries.history(cfg.registry, "churn", limit=10)
    assert [d["version_id"] for d in decisions if d["action"] == "promote"] == [refit["id"]]
    assert not candidate["decisions"]  # judged through the refit's decision, not promoted itself
    payload = decisions[0]["payload"]
    assert payload["refit"]["version"] == candidate["id"]
    assert payload["refit"]["refit_sha256"] == refit["artifact_sha256"]
    assert payload["evaluation"]["n_holdout"] == len(holdout)
    assert "refitted on training + holdout" in decisions[0]["reason"]
    assert [e["candidate_id"] for e in candidate["evaluations"]] == [candidate["id"]]
    assert verify(cfg.registry) == []

    text = lineage.show_text(refit)
    assert f"of                {candidate['id']}" in text and "trained on" in text

    repro = reproduce(cfg, refit["id"])
    assert repro.matches and repro.scored_on == "training data", repro.to_dict()
    assert repro.rows_scored == len(both)
    assert any("a refit of" in note for note in repro.notes)


def test_the_refit_is_not_the_evaluated_model_but_scores_like_it(tmp_path: Path) -> None:
    """The refit was trained on more, newer rows: its outputs differ from the candidate's, and
    its roc_auc on the next day's drifted rows is no worse than the candidate's by more than
    0.02 (the reason to refit: the newest rows are in the live model)."""
    cfg = _config(tmp_path)
    _promote(cfg)
    champion = queries.champion(cfg.registry, "churn")
    assert champion is not None
    candidate = queries.show(cfg.registry, champion["parent_id"])
    models = [
        trainer.load_model(Path(v["artifact_path"]), v["artifact_sha256"])
        for v in (champion, candidate)
    ]
    live = pd.concat(
        pd.read_csv(p) for p in sorted((tmp_path / "data" / "live").glob("*.csv"))[-2:]
    )
    x = live[list(champion["features"])]
    from sklearn.metrics import roc_auc_score

    refit_p, cand_p = (m.predict_proba(x)[:, 1] for m in models)
    assert abs(refit_p - cand_p).max() > 1e-3
    assert roc_auc_score(live["label"], refit_p) >= roc_auc_score(live["label"], cand_p) - 0.02


def test_refit_off_promotes_the_evaluated_candidate(tmp_path: Path) -> None:
    """`promotion.refit = false`: the evaluated candidate itself becomes champion, as before."""
    cfg = _config(tmp_path, refit=False)
    result = _promote(cfg)
    champion = queries.champion(cfg.registry, "churn")
    assert champion is not None and champion["version_id"] == result.version_id
    assert "refit_of" not in champion["spec"]
    assert champion["spec"]["holdout"]["trained_on"] is False
    assert verify(cfg.registry) == []


def test_a_failed_refit_promotes_the_evaluated_candidate(tmp_path: Path) -> None:
    """The refit's training fails (the command exits 5 on its third call): the candidate that
    won on evidence is promoted as evaluated, the reason and the payload say the refit failed,
    the failed training is recorded, and no refit version exists."""
    cfg = _config(tmp_path, failing_refit=True)
    result = _promote(cfg)
    assert result.decision is not None
    assert "refit failed (training failed: command exited with code 5" in result.decision.reason
    champion = queries.champion(cfg.registry, "churn")
    assert champion is not None and champion["version_id"] == result.version_id
    assert "refit_of" not in champion["spec"] and champion["number"] == 2
    payload = queries.history(cfg.registry, "churn", limit=1)[0]["payload"]
    assert payload["refit"]["error"].startswith("training failed: command exited with code 5")
    with sqlite3.connect(cfg.registry) as db:
        statuses = [r[0] for r in db.execute("SELECT status FROM trainings ORDER BY id")]
    assert statuses == ["ok", "ok", "failed"]
    assert verify(cfg.registry) == []
