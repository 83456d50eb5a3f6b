"""The new retrain triggers through the real cycle: real registry, real training child.

The data is :mod:`driftd.synth`'s demo stream (drift injected four days before ``NOW``). The
dataset verdict is silenced with the share rule at ``share = 1.0`` (not every feature drifts),
so that each test sees the trigger it is about.
"""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from driftd import config, cycle, render, synth
from driftd.cycle import CycleResult
from driftd.domain import FeatureState, Verdict
from driftd.registry import queries
from driftd.registry.store import Registry

NOW = datetime(2026, 1, 11, tzinfo=UTC)


def _config(tmp: Path, **sections: dict[str, Any]) -> config.Config:
    paths = synth.write_demo_data(tmp / "data", NOW, rows_per_day=400, reference_rows=1500)
    (tmp / "state").mkdir()
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
                    "categorical": ["plan", "region"],
                    **sections.get("data", {}),
                },
                "drift": {
                    "decision": "share",
                    "share": 1.0,
                    "prediction_drift": False,
                    **sections.get("drift", {}),
                },
                "training": {"params": {"max_iter": 1000}, "window": "1d"},
                "promotion": {"min_holdout": 100, "bootstrap": 200},
                "policy": {"cooldown": "1h", **sections.get("policy", {})},
            }
        ],
    }
    return config.parse(raw, base=tmp)


def _run(cfg: config.Config, days_ago: int) -> CycleResult:
    with Registry.open(cfg.registry) as registry:
        return cycle.run_cycle(cfg, cfg.models[0], registry, NOW - timedelta(days=days_ago))


def _extra(result: CycleResult, name: str) -> Any:
    assert result.report is not None
    return next(f for f in result.report.extra if f.feature == name)


def _payload(cfg: config.Config) -> dict[str, Any]:
    payload: dict[str, Any] = queries.history(cfg.registry, limit=1)[0]["payload"]
    return payload


@pytest.mark.slow
def test_prediction_drift_and_multivariate_trigger_after_k_of_n(tmp_path: Path) -> None:
    """Drifted windows move the champion's p(class=1) and let a classifier separate the data:
    both retrain after 2 of 3 breaching checks, prediction drift first in priority, while the
    dataset verdict stays ok."""
    # Realised performance (on by default) would retrain at the first drifted check: off here.
    cfg = _config(
        tmp_path,
        drift={"prediction_drift": True, "multivariate": True},
        policy={"performance_drop": False},
    )
    assert _run(cfg, 9).decision is not None  # the bootstrap
    quiet = _run(cfg, 7)
    assert quiet.status == "ok", quiet.report
    first = _run(cfg, 3)
    assert first.status == "drift" and first.decision is None
    assert first.report is not None and first.report.verdict is Verdict.OK
    second = _run(cfg, 2)
    assert second.decision is not None, second.retrain_reason
    assert second.retrain_reason == (
        "prediction drift in 2 of the last 3 checks (>= 2) (also multivariate)"
    )
    assert _payload(cfg)["trigger"] == "prediction_drift"


def test_every_new_trigger_through_the_cycle(tmp_path: Path) -> None:
    """Labels arrive a day late. Quiet, then the first drifted window: prediction drift and the
    multivariate check breach (recorded, shown by status) but 1 of 3 is not enough, and the
    champion's roc_auc on the labelled window ending a day ago still holds. Next check: roc_auc
    dropped beyond 0.05 and the other two breach a second time; performance, first in
    priority, names the retrain. The candidate's training and holdout windows end label_delay
    before now."""
    cfg = _config(
        tmp_path,
        data={"label_delay": "1d"},
        drift={"prediction_drift": True, "multivariate": True},
        policy={"performance_drop": 0.05},
    )
    assert _run(cfg, 8).decision is not None  # the bootstrap, with a holdout ending at -9d
    champion = queries.champion(cfg.registry, "churn")
    assert champion is not None and "roc_auc" in champion["metrics"]
    quiet = _run(cfg, 6)
    assert quiet.status == "ok", quiet.retrain_reason
    assert _extra(quiet, "prediction:p(class=1)").state is FeatureState.OK

    first = _run(cfg, 3)  # live (-4d, -3d] drifted; realised window (-5d, -4d] not yet
    assert first.status == "drift" and first.decision is None
    assert first.report is not None and first.report.verdict is Verdict.OK
    assert _extra(first, "prediction:p(class=1)").state is FeatureState.DRIFT
    assert _extra(first, "multivariate:classifier").state is FeatureState.DRIFT
    assert _extra(first, "performance:roc_auc").state is FeatureState.OK
    # Three checks against the bootstrap's reference: the bootstrap check counts (one clock).
    assert "prediction drift in 1 of 3, multivariate drift in 1 of 3 (needs 2); roc_auc " in (
        first.retrain_reason
    )
    status = queries.status(cfg.registry)["models"][0]["last_check"]
    lines = render.extra_lines(status["extra"], width=15)
    assert lines[0].startswith("  multivariate   drift  classifier: p=")
    assert lines[1].startswith("  performance    ok  roc_auc ")
    assert lines[2].startswith("  prediction     drift  p(class=1): ks p_adj=")

    dropped = _run(cfg, 2)  # realised window (-4d, -3d]: after the concept changed
    row = _extra(dropped, "performance:roc_auc")
    assert row.state is FeatureState.DRIFT and row.n_live == 400
    reason = dropped.retrain_reason
    assert reason.startswith(f"roc_auc {champion['metrics']['roc_auc']:.3g} -> "), reason
    assert " on 400 labelled rows (drop " in reason
    assert reason.endswith("> 0.05) (also prediction_drift, multivariate)")
    assert _payload(cfg)["trigger"] == "performance"
    with sqlite3.connect(cfg.registry) as c:
        drifted = c.execute(
            "SELECT count(*) FROM feature_drift WHERE role = 'extra' AND state = 'drift'"
        ).fetchone()[0]
    assert drifted == 5  # 2 in the first drifted check, 3 in the second

    assert dropped.version_id is not None
    version = queries.show(cfg.registry, dropped.version_id)
    folder = Path(version["artifact_path"]).parent
    train = pd.read_parquet(folder / cycle.DATA_FILE)
    holdout = pd.read_parquet(folder / cycle.HOLDOUT_FILE)
    end = pd.Timestamp(NOW - timedelta(days=3))  # now - label_delay
    # What went live is the refit (training rows plus the holdout it was judged on): every
    # labelled row it saw ends label_delay before now, the holdout among them.
    assert version["spec"]["refit_of"]
    assert train["ts"].max() <= end and holdout["ts"].max() <= end
    assert train["ts"].min() <= holdout["ts"].min()


@pytest.mark.parametrize("delay", ["0s"])
def test_label_delay_must_be_a_positive_duration(tmp_path: Path, delay: str) -> None:
    """`data.label_delay` is a duration like every other: "0s" is refused (leave it out)."""
    with pytest.raises(config.ConfigError, match=r"models\[0\]\.data\.label_delay"):
        _config(tmp_path, data={"label_delay": delay})


def test_the_realised_threshold_is_learnt_from_the_champions_past_windows(
    tmp_path: Path,
) -> None:
    """realised_spread scores the champion on each data.window before the performance window
    (here 9 day-long windows, 4 of them after the concept changed) and takes the
    background_quantile (taken downwards) of the pairwise differences of those roc_auc values,
    never below performance_drop: recomputed here with scikit-learn; the cycle's performance row
    then carries it as its threshold. With fewer scorable windows than background_min_windows,
    or baseline = "fixed", performance_drop stays, with a note."""
    import numpy as np
    from sklearn.metrics import roc_auc_score

    from driftd.cycle.checks import realised_spread, with_threshold
    from driftd.cycle.data import labelled, load_champion

    cfg = _config(tmp_path)
    model = cfg.models[0]
    _run(cfg, 9)
    champion = queries.champion(cfg.registry, "churn")
    assert champion is not None
    features = list(synth.FEATURES)
    got = realised_spread(model, champion, features, NOW)

    fitted = load_champion(model, champion)
    rows = labelled(model, NOW - timedelta(days=11), NOW - timedelta(days=1))
    values = []
    for i in range(1, 10):
        hi = pd.Timestamp(NOW - timedelta(days=i))
        part = rows[(rows["ts"] > hi - pd.Timedelta(days=1)) & (rows["ts"] <= hi)]
        values.append(roc_auc_score(part["label"], fitted.predict_proba(part[features])[:, 1]))
    m = np.array(values)
    diffs = np.sort((m[:, None] - m[None, :])[~np.eye(9, dtype=bool)])
    expected = diffs[int(np.floor(0.95 * (len(diffs) - 1)))]
    assert got.windows == 9 and got.spread == pytest.approx(expected, abs=1e-12)
    assert got.threshold == pytest.approx(max(0.05, expected), abs=1e-12)
    assert expected > 0.05  # the drifted windows move the metric beyond the fixed drop
    assert with_threshold(model, got).policy.performance_drop == got.threshold
    assert "over 9 past windows" in got.note
    # The cycle judges realised performance against it: the report row and the reason say so.
    row = _extra(_run(cfg, 0), "performance:roc_auc")
    assert row.threshold == got.threshold
    assert row.detail.endswith(f" {got.threshold:.3g})"), row.detail

    short = replace(model, drift=replace(model.drift, background_min_windows=10))
    fixed = realised_spread(short, champion, features, NOW)
    assert (fixed.threshold, fixed.note) == (
        0.05,
        "fixed performance_drop: 9 scorable past window(s) < 10",
    )
    assert with_threshold(short, fixed) is short
    plain = replace(model, drift=replace(model.drift, baseline="fixed"))
    assert realised_spread(plain, champion, features, NOW).threshold == 0.05


def test_the_realised_spread_scores_each_past_window_once_per_champion(tmp_path: Path) -> None:
    """With the daemon's cache as memo, a second check an hour later scores no window again
    (the windows sit on a grid of data.window, so an hour's move changes none of them) and
    gives the same threshold; the memo holds one entry per window."""
    from driftd.cycle import SummaryCache
    from driftd.cycle.checks import realised_spread

    cfg = _config(tmp_path)
    model = cfg.models[0]
    _run(cfg, 9)
    champion = queries.champion(cfg.registry, "churn")
    assert champion is not None
    features = list(synth.FEATURES)
    cache = SummaryCache()
    built: list[str] = []

    def memo(key: str, build: Any) -> Any:
        def counted() -> Any:
            built.append(key)
            return build()

        return cache.other(key, counted)

    first = realised_spread(model, champion, features, NOW, memo=memo)
    assert len(built) == model.drift.background_windows
    later = realised_spread(model, champion, features, NOW + timedelta(hours=1), memo=memo)
    assert len(built) == model.drift.background_windows  # nothing scored again
    assert (later.threshold, later.windows) == (first.threshold, first.windows)
    assert first == realised_spread(model, champion, features, NOW)  # as without a memo
