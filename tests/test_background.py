"""Materiality relative to normal variation (issue 10, part 1).

:func:`driftd.detect.learn` is checked against the same quantile computed independently with
scipy (Wasserstein / reference population SD for numeric features, Jensen-Shannon base 2 for
categorical ones); then on a seasonal stream, where fixed thresholds alarm on most monthly
checks and learnt ones on few while a real jump still alarms; and through the real cycle
(``driftd check --now``) on CSV files, where the stored report says where its thresholds came
from.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cli_support import check
from scipy import stats as sps
from scipy.spatial.distance import jensenshannon

from driftd import detect
from driftd.config import DriftConfig
from driftd.domain import FeatureKind, Verdict

KINDS = {"x": FeatureKind.NUMERIC, "c": FeatureKind.CATEGORICAL}
LEVELS = ["a", "b", "c", "d"]


def _frame(rng: np.random.Generator, n: int, shift: float) -> pd.DataFrame:
    """``x`` normal with mean ``shift``; ``c`` four levels whose first share moves by
    ``shift / 4``."""
    p = np.array([0.4 + shift / 4, 0.3, 0.2, 0.1 - shift / 4])
    return pd.DataFrame({"x": rng.normal(shift, 1, size=n), "c": rng.choice(LEVELS, n, p=p)})


def _js(before: pd.Series, after: pd.Series) -> float:
    """Jensen-Shannon distance (base 2) of two categorical samples' shares."""
    p = before.value_counts().reindex(LEVELS, fill_value=0).to_numpy(dtype=float)
    q = after.value_counts().reindex(LEVELS, fill_value=0).to_numpy(dtype=float)
    return float(jensenshannon(p / p.sum(), q / q.sum(), base=2))


def test_learnt_thresholds_are_the_quantile_of_normal_variation() -> None:
    """Thresholds = the background_quantile ("lower" method) of each past window against the
    reference and of each window against the one before, numeric effects in reference SDs
    (Wasserstein / population SD), categorical ones Jensen-Shannon base 2; the note counts the
    comparisons and windows."""
    rng = np.random.default_rng(1)
    reference = _frame(rng, 2_000, 0.0)
    shifts = 0.15 * (-1.0) ** np.arange(10)  # consecutive windows differ twice as much
    windows = [_frame(rng, int(rng.integers(150, 400)), s) for s in shifts]
    cfg = DriftConfig()
    bg = detect.learn(detect.summarize(reference, KINDS), windows, cfg, KINDS)

    sd = float(np.std(reference["x"]))  # population SD
    numeric = [sps.wasserstein_distance(w["x"], reference["x"]) / sd for w in windows]
    numeric += [
        sps.wasserstein_distance(after["x"], before["x"]) / sd
        for before, after in itertools.pairwise(windows)
    ]
    categorical = [_js(reference["c"], w["c"]) for w in windows]
    categorical += [_js(b["c"], a["c"]) for b, a in itertools.pairwise(windows)]
    assert len(numeric) == len(categorical) == 19
    assert bg.thresholds["x"] == pytest.approx(np.quantile(numeric, 0.95, method="lower"))
    assert bg.thresholds["c"] == pytest.approx(np.quantile(categorical, 0.95, method="lower"))
    assert (bg.windows, bg.pairs) == (10, 19)
    assert (
        bg.note == "thresholds from normal variation: q0.95 of 19 comparisons over 10 past windows"
    )
    other = detect.learn(
        detect.summarize(reference, KINDS), windows, DriftConfig(background_quantile=0.6), KINDS
    )
    assert other.thresholds["x"] == pytest.approx(np.quantile(numeric, 0.6, method="lower"))


def test_seasonal_pairs_learn_from_the_same_span_one_period_earlier() -> None:
    """learn_seasonal: each (earlier span, window) pair measured against the earlier span
    itself (Wasserstein in the earlier span's own population SDs), then the quantile."""
    rng = np.random.default_rng(2)
    pairs = [(_frame(rng, 300, s), _frame(rng, 300, s + 0.05)) for s in np.linspace(0, 0.3, 9)]
    bg = detect.learn_seasonal(pairs, DriftConfig(), KINDS)
    numeric = [sps.wasserstein_distance(w["x"], e["x"]) / float(np.std(e["x"])) for e, w in pairs]
    categorical = [_js(e["c"], w["c"]) for e, w in pairs]
    assert bg.thresholds["x"] == pytest.approx(np.quantile(numeric, 0.95, method="lower"))
    assert bg.thresholds["c"] == pytest.approx(np.quantile(categorical, 0.95, method="lower"))
    assert bg.note.endswith("over 9 seasonal pairs")


def test_too_few_windows_fall_back_to_fixed_thresholds_visibly() -> None:
    """Fewer usable windows (those with at least min_samples rows) than background_min_windows:
    no learnt threshold, a note saying so, and detect keeps the fixed 0.05 and puts the note in
    the report's baseline and reason."""
    rng = np.random.default_rng(3)
    reference = _frame(rng, 2_000, 0.0)
    windows = [_frame(rng, 200, 0.1) for _ in range(6)] + [_frame(rng, 10, 0.1) for _ in range(4)]
    summary = detect.summarize(reference, KINDS)
    bg = detect.learn(summary, windows, DriftConfig(), KINDS)
    note = "fixed thresholds: 6 usable past window(s) < background_min_windows 8"
    assert bg.thresholds == {} and bg.windows == 6 and bg.note == note
    report = detect.detect(summary, _frame(rng, 500, 0.0), DriftConfig(), background=bg)
    assert report.baseline == note and note in report.reason
    assert {f.threshold for f in report.features} == {0.05}
    # Lowering the minimum to what the history has turns the same windows into thresholds.
    enough = detect.learn(summary, windows, DriftConfig(background_min_windows=6), KINDS)
    assert set(enough.thresholds) == {"x", "c"}


def test_learnt_threshold_never_lowers_the_fixed_one() -> None:
    """A background quieter than the fixed threshold (identical windows) leaves 0.05 in place:
    a move must be unusual and material."""
    rng = np.random.default_rng(4)
    reference = pd.DataFrame({"x": rng.normal(size=4_000), "c": rng.choice(LEVELS, 4_000)})
    summary = detect.summarize(reference, KINDS)
    same = [reference.iloc[:2_000]] * 9
    bg = detect.learn(summary, same, DriftConfig(), KINDS)
    assert bg.thresholds["x"] < 0.05
    report = detect.detect(summary, reference.iloc[2_000:2_600], DriftConfig(), background=bg)
    assert {f.threshold for f in report.features} == {0.05}


# --- a seasonal stream -----------------------------------------------------------------------

ROWS_PER_DAY = 4
WINDOW_DAYS = 30


def _seasonal(days: int, seed: int) -> pd.DataFrame:
    """Rows every 6 hours: ``temp`` follows a yearly sine of amplitude 1 (in noise SDs) plus
    noise; ``steady`` is noise only."""
    rng = np.random.default_rng(seed)
    day = np.arange(days * ROWS_PER_DAY) / ROWS_PER_DAY
    temp = np.sin(2 * np.pi * day / 365.25) + rng.normal(size=day.size)
    return pd.DataFrame({"day": day, "temp": temp, "steady": rng.normal(size=day.size)})


def _span(stream: pd.DataFrame, end: float, days: float = WINDOW_DAYS) -> pd.DataFrame:
    return stream[(stream["day"] >= end - days) & (stream["day"] < end)][["temp", "steady"]]


def test_seasonal_stream_alarms_on_movement_beyond_normal_variation_only() -> None:
    """Three years of a seasonal stream; the reference is a sample of the first year (rows in
    shuffled order, so the question is materiality, not dependence). Over 12 monthly checks in
    the third year, fixed thresholds call drift on at least 9; thresholds learnt from the 12
    windows before each check on at most 3; and a jump of 2.5 noise SDs in ``temp`` on top of
    the season still alarms on at least 11."""
    stream = _seasonal(3 * 365, seed=5)
    kinds = {"temp": FeatureKind.NUMERIC, "steady": FeatureKind.NUMERIC}
    first_year = stream[stream["day"] < 365].sample(frac=1.0, random_state=0)
    summary = detect.summarize(first_year[list(kinds)], kinds)
    cfg = DriftConfig()
    fixed = learnt = jumped = 0
    for end in range(2 * 365 + WINDOW_DAYS, 3 * 365 + 1, WINDOW_DAYS):
        live = _span(stream, end)
        past = [_span(stream, end - WINDOW_DAYS * j) for j in range(12, 0, -1)]
        bg = detect.learn(summary, past, cfg, kinds)
        assert bg.thresholds["temp"] > 0.3  # the season moves a 30-day window this much
        fixed += detect.detect(summary, live, cfg).verdict is Verdict.DRIFT
        learnt += detect.detect(summary, live, cfg, background=bg).verdict is Verdict.DRIFT
        jump = live.assign(temp=live["temp"] + 2.5)
        jumped += detect.detect(summary, jump, cfg, background=bg).verdict is Verdict.DRIFT
    assert fixed >= 9, (fixed, learnt, jumped)
    assert learnt <= 3, (fixed, learnt, jumped)
    assert jumped >= 11, (fixed, learnt, jumped)


# --- through the real cycle ------------------------------------------------------------------

START = datetime(2022, 1, 1, tzinfo=UTC)
NOW = START + timedelta(days=4 * 365)

MODEL = """
[[models]]
name = "{name}"
every = "30d"

[models.data]
reference = "data/{name}-reference.csv"
live = "data/{name}-live.csv"
timestamp = "ts"
target = "y"
window = "30d"

[models.drift]
{drift}
[models.training]
estimator = "sklearn.linear_model.LinearRegression"

[models.promotion]
scorer = "r2"
"""


def _stream_csv(root: Path) -> Path:
    """Four years of the seasonal stream (rows every 6 hours, label ``y`` = 2 temp + noise),
    cut four ways into reference and live files, and a config with one model per cut."""
    stream = _seasonal(4 * 365, seed=6)
    stream.insert(0, "ts", [START + timedelta(days=float(d)) for d in stream.pop("day")])
    stream["y"] = 2 * stream["temp"] + np.random.default_rng(7).normal(0, 0.5, len(stream))
    year, day = pd.Timedelta(days=365), pd.Timedelta(days=1)
    t0 = pd.Timestamp(START)
    cuts = {
        # name: (reference span, live span)
        "history": ((t0, t0 + year), (t0 + year, None)),
        "seasonal": ((t0, t0 + year), (t0 + year, None)),
        "young": ((t0, t0 + 3 * year), (t0 + 4 * year - 60 * day, None)),
        "short": ((t0 + 3 * year, t0 + 3 * year + 60 * day), (t0 + 4 * year - 60 * day, None)),
    }
    (root / "data").mkdir()
    for name, ((r0, r1), (l0, _)) in cuts.items():
        stream[(stream["ts"] >= r0) & (stream["ts"] < r1)].to_csv(
            root / "data" / f"{name}-reference.csv", index=False
        )
        stream[stream["ts"] >= l0].to_csv(root / "data" / f"{name}-live.csv", index=False)
    drift = {"seasonal": 'seasonal_period = "365d"\n'}
    text = 'registry = "state/registry.db"\nartifacts = "state/artifacts"\nlog_level = "warning"\n'
    text += "".join(MODEL.format(name=name, drift=drift.get(name, "")) for name in cuts)
    config = root / "config.toml"
    config.write_text(text, encoding="utf-8")
    return config


def _stored_reports(registry: Path) -> dict[str, dict[str, object]]:
    with sqlite3.connect(registry) as conn:
        rows = conn.execute("SELECT model, report FROM checks ORDER BY id").fetchall()
    conn.close()
    return {model: json.loads(report) for model, report in rows}


@pytest.mark.slow
def test_cycle_learns_thresholds_from_the_sources_history(tmp_path: Path) -> None:
    """One ``driftd check --now`` on CSV files of a seasonal stream. With three years of live
    history the stored report's baseline starts "thresholds from normal variation" and every
    feature's threshold is above the fixed 0.05 (and the seasonal one far above); with a live
    source of two months but a three-year reference, the reference's own timestamps supply
    the windows; with ``seasonal_period = "365d"`` the window is compared with the same span a
    year earlier; with two months of everything, the fixed thresholds stay and the report and
    its reason say so."""
    config = _stream_csv(tmp_path)
    results = check(config, NOW)
    assert set(results) == {"history", "seasonal", "young", "short"}
    assert all(r["error"] is None for r in results.values()), results
    reports = _stored_reports(tmp_path / "state" / "registry.db")

    for name in ("history", "young"):
        report = reports[name]
        assert str(report["baseline"]).startswith("thresholds from normal variation"), report
        thresholds = {f["feature"]: f["threshold"] for f in report["features"]}  # type: ignore[attr-defined]
        assert thresholds["steady"] > 0.05 and thresholds["temp"] > 0.3, (name, thresholds)
    seasonal = reports["seasonal"]
    assert str(seasonal["baseline"]).startswith(
        "compared with the same span one period (365d) earlier; thresholds from normal variation"
    ), seasonal["baseline"]
    assert all(f["threshold"] > 0.05 for f in seasonal["features"])  # type: ignore[attr-defined]

    short = reports["short"]
    assert str(short["baseline"]).startswith("fixed thresholds: "), short["baseline"]
    assert "< background_min_windows 8" in str(short["reason"])
    assert all(f["threshold"] == 0.05 for f in short["features"])  # type: ignore[attr-defined]
