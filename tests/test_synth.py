"""driftd.synth: deterministic streams whose drift is real in the covariates and the concept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from driftd import sources, synth
from driftd.config import SourceConfig

T0 = datetime(2026, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)


def test_same_seed_same_frame_other_seed_other_frame() -> None:
    """Generation is a pure function of its arguments."""
    a = synth.make_stream(T0, 3, DAY, 200, T0 + DAY, seed=5)
    b = synth.make_stream(T0, 3, DAY, 200, T0 + DAY, seed=5)
    pd.testing.assert_frame_equal(a, b)
    c = synth.make_stream(T0, 3, DAY, 200, T0 + DAY, seed=6)
    assert not a[list(synth.NUMERIC)].equals(c[list(synth.NUMERIC)])
    pd.testing.assert_frame_equal(synth.make_reference(300, 5), synth.make_reference(300, 5))


def test_schema() -> None:
    """ts (UTC), six numeric features, two categorical ones and a 0/1 label, in that order."""
    frame = synth.make_stream(T0, 1, DAY, 100, None, seed=1)
    expected = [synth.TIMESTAMP, *synth.FEATURES, synth.TARGET]
    assert list(frame.columns) == expected
    assert str(frame["ts"].dt.tz) == "UTC"
    assert all(pd.api.types.is_numeric_dtype(frame[c]) for c in synth.NUMERIC)
    for column in ("sessions", "support_calls", "tenure_months", "label"):
        assert frame[column].dtype == np.int64
    assert set(frame["label"]) == {0, 1}
    assert set(synth.DRIFTING) | set(synth.STABLE) == set(synth.FEATURES)


def test_every_period_window_holds_its_rows() -> None:
    """Rows of period k lie in (start + k*freq, start + (k+1)*freq], sorted, whole seconds."""
    frame = synth.make_stream(T0, 5, DAY, 700, None, seed=1)
    assert frame["ts"].is_monotonic_increasing
    assert (frame["ts"].dt.microsecond == 0).all()
    for k in range(5):
        part = sources.window(frame, "ts", T0 + k * DAY, T0 + (k + 1) * DAY)
        assert len(part) == 700
    odd = synth.make_stream(T0, 2, timedelta(seconds=1), 3, None, seed=1)
    assert len(sources.window(odd, "ts", T0, T0 + timedelta(seconds=1))) == 3


def test_rows_before_the_drift_do_not_depend_on_it() -> None:
    """Moving drift_at later changes no row before the earlier drift point."""
    early = synth.make_stream(T0, 4, DAY, 250, T0 + 2 * DAY, seed=9)
    late = synth.make_stream(T0, 4, DAY, 250, T0 + 3 * DAY, seed=9)
    none = synth.make_stream(T0, 4, DAY, 250, None, seed=9)
    before = early["ts"] < T0 + 2 * DAY
    pd.testing.assert_frame_equal(early[before], late[before])
    pd.testing.assert_frame_equal(early[before], none[before])
    zero = synth.make_stream(T0, 4, DAY, 250, T0 + 2 * DAY, seed=9, drift_strength=0.0)
    pd.testing.assert_frame_equal(zero, none)


def test_covariates_shift_as_documented() -> None:
    """support_calls moves ~1 SD, a new plan appears, and the stable features stay put."""
    frame = synth.make_stream(T0, 2, DAY, 3000, T0 + DAY, seed=2)
    pre = frame[frame["ts"] < T0 + DAY]
    post = frame[frame["ts"] >= T0 + DAY]

    def shift(column: str) -> float:
        return float((post[column].mean() - pre[column].mean()) / pre[column].std())

    assert 0.8 < shift("support_calls") < 1.4
    assert shift("usage_hours") > 0.3
    assert shift("income") < -0.3
    assert abs(shift("age")) < 0.1 and abs(shift("tenure_months")) < 0.1
    assert "trial" not in set(pre["plan"])
    assert 0.15 < (post["plan"] == "trial").mean() < 0.25
    shares = pd.concat(
        [pre["region"].value_counts(normalize=True), post["region"].value_counts(normalize=True)],
        axis=1,
    )
    assert (shares.iloc[:, 0] - shares.iloc[:, 1]).abs().max() < 0.03


def _auc(train: pd.DataFrame, test: pd.DataFrame) -> float:
    """The trainer's default model: one-hot categoricals, scaled numerics, LogisticRegression."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    columns = list(synth.FEATURES)
    model = Pipeline(
        [
            (
                "prep",
                ColumnTransformer(
                    [
                        ("cat", OneHotEncoder(handle_unknown="ignore"), list(synth.CATEGORICAL)),
                        ("num", StandardScaler(), list(synth.NUMERIC)),
                    ]
                ),
            ),
            ("clf", LogisticRegression()),
        ]
    )
    model.fit(train[columns], train[synth.TARGET])
    return float(roc_auc_score(test[synth.TARGET], model.predict_proba(test[columns])[:, 1]))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_retrained_model_beats_the_old_one_after_the_drift(seed: int) -> None:
    """The concept changes: a model refit on post-drift rows wins by >= 0.05 ROC AUC there."""
    reference = synth.make_reference(2000, seed)
    stream = synth.make_stream(T0, 3, DAY, 1500, T0 + DAY, seed)
    pre = sources.window(stream, "ts", None, T0 + DAY)
    train = sources.window(stream, "ts", T0 + DAY, T0 + 2 * DAY)
    holdout = sources.window(stream, "ts", T0 + 2 * DAY, T0 + 3 * DAY)
    assert _auc(reference, pre) > 0.75  # the old concept is learnable
    old, new = _auc(reference, holdout), _auc(train, holdout)
    assert new - old >= 0.05, (old, new)


def test_no_drift_means_no_gain_from_retraining() -> None:
    """Without drift a refit model is no better than the reference one (the control case)."""
    reference = synth.make_reference(2000, 0)
    stream = synth.make_stream(T0, 2, DAY, 1500, None, 0)
    train = sources.window(stream, "ts", None, T0 + DAY)
    holdout = sources.window(stream, "ts", T0 + DAY, T0 + 2 * DAY)
    assert abs(_auc(train, holdout) - _auc(reference, holdout)) < 0.02


def test_label_noise_flips_about_that_share() -> None:
    """label_noise flips that share of labels and touches nothing else."""
    clean = synth.make_stream(T0, 1, DAY, 4000, None, seed=4)
    noisy = synth.make_stream(T0, 1, DAY, 4000, None, seed=4, label_noise=0.1)
    assert 0.08 < (clean["label"] != noisy["label"]).mean() < 0.12
    pd.testing.assert_frame_equal(clean.drop(columns="label"), noisy.drop(columns="label"))


def test_reference_lies_before_the_stream() -> None:
    """make_reference spreads its rows over (end - span, end]."""
    reference = synth.make_reference(500, 3, end=T0, span=timedelta(days=2))
    assert reference["ts"].min() > pd.Timestamp(T0 - timedelta(days=2))
    assert reference["ts"].max() == pd.Timestamp(T0)
    assert "trial" not in set(reference["plan"])


def test_demo_data_is_deterministic_and_readable(tmp_path: Path) -> None:
    """Same seed: byte-identical files; the live glob reads back with the documented drift."""
    now = datetime(2026, 3, 10, 15, 30, 12, 999, tzinfo=UTC)
    first = synth.write_demo_data(tmp_path / "a", now, seed=7, rows_per_day=300)
    second = synth.write_demo_data(tmp_path / "b", now, seed=7, rows_per_day=300)
    names = sorted(p.name for p in first["live"].iterdir())
    days = pd.date_range("2026-02-28", "2026-03-10", freq="D")  # (now - 10d, now] by UTC date
    assert names == [f"{day:%Y-%m-%d}.csv" for day in days]
    for path in [first["reference"], *sorted(first["live"].iterdir())]:
        twin = second["reference"] if path == first["reference"] else second["live"] / path.name
        assert path.read_bytes() == twin.read_bytes()

    live = sources.read(SourceConfig(str(first["live"] / "*.csv")), timestamp="ts")
    reference = sources.read(SourceConfig(str(first["reference"])), timestamp="ts")
    assert len(live) == 300 * synth.DEMO_DAYS and len(reference) == 5000
    assert reference["ts"].max() < live["ts"].min()
    end = now.replace(microsecond=0)
    drift_at = synth.demo_drift_at(now)
    assert drift_at == end - timedelta(days=synth.DEMO_DRIFT_DAYS_AGO)
    last = sources.window(live, "ts", end - DAY, end)
    before = sources.window(live, "ts", None, drift_at - timedelta(seconds=1))
    assert len(last) == 300
    assert (last["plan"] == "trial").mean() > 0.1
    assert "trial" not in set(before["plan"])


def test_demo_data_differs_by_seed(tmp_path: Path) -> None:
    """Another seed writes other data."""
    now = datetime(2026, 3, 10, tzinfo=UTC)
    a = synth.write_demo_data(tmp_path / "a", now, seed=1, rows_per_day=50, reference_rows=50)
    b = synth.write_demo_data(tmp_path / "b", now, seed=2, rows_per_day=50, reference_rows=50)
    assert a["reference"].read_bytes() != b["reference"].read_bytes()
