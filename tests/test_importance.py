"""Drift that matters to the model: the champion's permutation importances (issue 10, part 4).

:func:`driftd.evaluate.importance.permutation_importance` is checked against scikit-learn's
``permutation_importance`` (same scorer, same number of repeats; the shuffles differ, so means
are compared within a few standard errors); then through real ``driftd check --now`` runs on
CSV files: the first champion's importances land in the registry's ``importances`` table, and
a drifting column the model ignores is reported without making the dataset drift.
"""

from __future__ import annotations

import json
import math
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cli_support import check
from sklearn.inspection import permutation_importance as sk_permutation_importance
from sklearn.linear_model import LinearRegression, LogisticRegression

from driftd import trainer
from driftd.errors import EvaluationError
from driftd.evaluate.importance import permutation_importance, weights

REPEATS = 20


def _regression(seed: int, n: int) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    x = pd.DataFrame(
        {"income": rng.normal(size=n), "age": rng.normal(size=n), "noise": rng.normal(size=n)}
    )
    y = 3 * x["income"] + 1.5 * x["age"] + rng.normal(scale=0.5, size=n)
    return x, y.rename("y")


def _agree(ours: dict[str, float], theirs: object, names: list[str]) -> None:
    """Each mean within 4 standard errors of the difference of two independent means of
    REPEATS shuffles (scikit-learn's per-repeat SD for both), plus a little slack."""
    means, sds = theirs.importances_mean, theirs.importances_std  # type: ignore[attr-defined]
    for i, name in enumerate(names):
        tolerance = 4 * sds[i] * math.sqrt(2 / REPEATS) + 2e-3
        assert ours[name] == pytest.approx(means[i], abs=tolerance), (name, ours, means)


def test_agrees_with_sklearn_on_a_regression() -> None:
    """LinearRegression scored by r2: driftd's mean drop per shuffled feature matches
    scikit-learn's permutation_importance (same scorer, 20 repeats each); the noise column's
    importance is about 0 and the strongest feature's is largest."""
    x, y = _regression(0, 2_000)
    model = LinearRegression().fit(x, y)
    ours = permutation_importance(model, x, y, "r2", seed=0, repeats=REPEATS)
    theirs = sk_permutation_importance(model, x, y, scoring="r2", n_repeats=REPEATS, random_state=0)
    _agree(ours, theirs, list(x.columns))
    assert ours["income"] > ours["age"] > 0.1
    assert abs(ours["noise"]) < 0.005


def test_agrees_with_sklearn_on_a_classifier() -> None:
    """LogisticRegression scored by roc_auc (probabilities): the same agreement."""
    rng = np.random.default_rng(1)
    x = pd.DataFrame({"a": rng.normal(size=3_000), "b": rng.normal(size=3_000)})
    x["noise"] = rng.normal(size=3_000)
    logit = 1.5 * x["a"] - 0.8 * x["b"]
    y = (rng.uniform(size=3_000) < 1 / (1 + np.exp(-logit))).astype(int)
    model = LogisticRegression().fit(x, y)
    ours = permutation_importance(model, x, y, "roc_auc", seed=3, repeats=REPEATS)
    theirs = sk_permutation_importance(
        model, x, y, scoring="roc_auc", n_repeats=REPEATS, random_state=3
    )
    _agree(ours, theirs, list(x.columns))
    assert ours["a"] > ours["b"] > 0.02


def test_seeded_and_restricted_to_the_named_features() -> None:
    """The same seed gives the same values; ``features`` limits the output; a feature the
    holdout lacks is an EvaluationError naming it."""
    x, y = _regression(2, 500)
    model = LinearRegression().fit(x, y)
    first = permutation_importance(model, x, y, "r2", seed=5)
    assert permutation_importance(model, x, y, "r2", seed=5) == first
    assert permutation_importance(model, x, y, "r2", seed=6) != first
    assert set(permutation_importance(model, x, y, "r2", features=["age"])) == {"age"}
    with pytest.raises(EvaluationError, match="'tenure'"):
        permutation_importance(model, x, y, "r2", features=["tenure"])


def test_weights_are_clipped_shares() -> None:
    """weights(): negative importances count as 0, the rest are shares summing to 1; nothing
    positive gives no weights at all."""
    w = weights({"a": 0.6, "b": 0.2, "c": -0.1, "d": 0.0})
    assert w == pytest.approx({"a": 0.75, "b": 0.25, "c": 0.0, "d": 0.0})
    assert sum(w.values()) == pytest.approx(1.0)
    assert weights({"a": -0.2, "b": 0.0}) == {}
    assert weights({}) == {}


# --- through the real cycle ------------------------------------------------------------------

T0 = datetime(2026, 3, 1, tzinfo=UTC)
PER_DAY = 288  # a row every 5 minutes: each one-day holdout has 288 rows

CONFIG = """
registry = "state/registry.db"
artifacts = "state/artifacts"
log_level = "warning"

[[models]]
name = "spend"
every = "1d"

[models.data]
reference = "data/reference.csv"
live = "data/live.csv"
timestamp = "ts"
target = "y"
window = "1d"

[models.training]
estimator = "sklearn.linear_model.LinearRegression"

[models.promotion]
scorer = "r2"
"""


def _write_stream(root: Path) -> Path:
    """A week of reference rows before T0, then three live days: day 2 has the ``noise``
    column (which ``y`` does not depend on) moved by 1.5 SDs, day 3 ``income`` by 1 SD (and
    ``y`` follows it)."""
    n = 10 * PER_DAY
    rng = np.random.default_rng(13)
    frame = pd.DataFrame(
        {"income": rng.normal(size=n), "age": rng.normal(size=n), "noise": rng.normal(size=n)}
    )
    live = np.arange(n) >= 7 * PER_DAY
    day = (np.arange(n) - 7 * PER_DAY) // PER_DAY
    frame.loc[live & (day == 1), "noise"] += 1.5
    frame.loc[live & (day == 2), "income"] += 1.0
    frame["y"] = 3 * frame["income"] + 1.5 * frame["age"] + rng.normal(scale=0.5, size=n)
    step = timedelta(days=1) / PER_DAY
    frame.insert(0, "ts", [T0 - timedelta(days=7) + step * (i + 1) for i in range(n)])
    (root / "data").mkdir()
    frame[~live].to_csv(root / "data" / "reference.csv", index=False)
    frame[live].to_csv(root / "data" / "live.csv", index=False)
    config = root / "config.toml"
    config.write_text(CONFIG, encoding="utf-8")
    return config


def _importances(registry: Path) -> list[tuple[str, str, float, str, int]]:
    with sqlite3.connect(registry) as conn:
        rows = conn.execute(
            "SELECT version_id, feature, importance, metric, n_rows FROM importances "
            "ORDER BY version_id, feature"
        ).fetchall()
    conn.close()
    return [(str(v), str(f), float(i), str(m), int(n)) for v, f, i, m, n in rows]


def _last_report(registry: Path) -> dict[str, object]:
    with sqlite3.connect(registry) as conn:
        (report,) = conn.execute("SELECT report FROM checks ORDER BY id DESC LIMIT 1").fetchone()
    conn.close()
    loaded: dict[str, object] = json.loads(report)
    return loaded


@pytest.mark.slow
def test_cycle_stores_importances_and_ignores_drift_the_champion_does_not_use(
    tmp_path: Path,
) -> None:
    """Real checks on CSV files. Day 1 bootstraps the first champion (a LinearRegression
    trained on the reference, holdout = day 1's 288 rows). At its first check as champion
    (day 2) the ``importances`` table gets one row per feature, scored by the promotion scorer
    on those 288 holdout rows, equal to permutation_importance of the stored artifact on its
    holdout.parquet. Day 2's ``noise`` column moved 1.5 SDs: it is reported as drifted, the
    dataset verdict is ok and its reason says "drifted but ignored by the champion: noise".
    Day 3's ``income`` moved 1 SD: the dataset drifts, and the importances are not recomputed."""
    config = _write_stream(tmp_path)
    registry = tmp_path / "state" / "registry.db"
    day = timedelta(days=1)
    first = check(config, T0 + day)["spend"]
    assert first["decision"] == "bootstrap", first
    assert _importances(registry) == []  # computed lazily, at the first check as champion

    second = check(config, T0 + 2 * day)["spend"]
    assert second["error"] is None, second
    stored = _importances(registry)
    assert [(v, f, m, n) for v, f, _, m, n in stored] == [
        ("spend-v1", name, "r2", PER_DAY) for name in ("age", "income", "noise")
    ]
    values = {f: imp for _, f, imp, _, _ in stored}
    assert values["income"] > values["age"] > 0.1 and abs(values["noise"]) < 0.01

    with sqlite3.connect(registry) as conn:
        path, sha = conn.execute(
            "SELECT artifact_path, artifact_sha256 FROM versions WHERE id = 'spend-v1'"
        ).fetchone()
    conn.close()
    holdout = pd.read_parquet(Path(path).parent / "holdout.parquet")
    assert len(holdout) == PER_DAY
    champion = trainer.load_model(Path(path), sha)
    features = ["income", "age", "noise"]
    again = permutation_importance(champion, holdout[features], holdout["y"], "r2", seed=0)
    assert again == pytest.approx(values, rel=1e-9)

    report = _last_report(registry)
    states = {f["feature"]: f["state"] for f in report["features"]}  # type: ignore[attr-defined]
    assert states["noise"] == "drift", report
    assert states["income"] == states["age"] == "ok", report  # only the ignored column moved
    assert report["verdict"] == "ok" and second["verdict"] == "ok", report["reason"]
    assert "drifted but ignored by the champion: noise" in str(report["reason"])

    third = check(config, T0 + 3 * day)["spend"]
    assert third["verdict"] == "drift", third
    assert "income" in str(_last_report(registry)["reason"])
    assert _importances(registry) == stored
