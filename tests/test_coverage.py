"""Half-covered live windows: how much of a window its rows cover, and what the cycle does.

The rule (:func:`driftd.sources.coverage`) on hand-made timestamps, then the real cycle on an
hourly source whose rows arrive once a day, checked at noon: ``insufficient_data`` with the
covered span in its reason, recorded, and no retrain although ``max_age`` would fire.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from driftd import config, cycle
from driftd.domain import Verdict
from driftd.registry import queries
from driftd.registry.store import Registry
from driftd.sources import coverage

DAY = datetime(2026, 3, 1, tzinfo=UTC)


def _hours(first: int, last: int, start: datetime = DAY) -> pd.Series:
    """Hourly times ``start + first h`` .. ``start + last h``, each hour holding five rows."""
    stamps = [start + timedelta(hours=h) for h in range(first, last + 1) for _ in range(5)]
    return pd.Series(pd.to_datetime(stamps, utc=True))


def test_a_complete_hourly_day_is_covered_and_an_afternoon_is_half() -> None:
    """Rows at 01:00..24:00 cover (00:00, 24:00]; 13:00..24:00 leave 12 hours uncovered (the
    first row stands for the hour before it), and the reason names the covered span."""
    end = DAY + timedelta(days=1)
    assert coverage(_hours(1, 24), DAY, end).share == 1.0
    half = coverage(_hours(13, 24), DAY, end)
    assert half.share == 0.5
    assert half.cadence == timedelta(hours=1)
    assert "2026-03-01T13:00Z to 2026-03-02T00:00Z" in half.describe()
    assert "50 %" in half.describe()
    morning = coverage(_hours(1, 6), DAY, end)  # 18 hours to `end`, one of them a normal gap
    assert morning.share == pytest.approx(1 - 17 / 24, abs=1e-4)


def test_randomly_timed_complete_windows_are_not_holes() -> None:
    """A day of Poisson events (500 a day, 200 seeds) never reads below 0.9: their spacings
    vary, but only gaps beyond the 99th percentile of them count."""
    shares = []
    for seed in range(200):
        rng = np.random.default_rng(seed)
        offsets = np.sort(rng.uniform(0, 86_400, rng.poisson(500)))
        times = pd.Series(pd.Timestamp(DAY) + pd.to_timedelta(offsets, unit="s"))
        share = coverage(times, DAY, DAY + timedelta(days=1)).share
        assert share is not None
        shares.append(share)
    assert min(shares) >= 0.9
    assert np.median(shares) >= 0.97


def test_an_interior_hole_counts_once_the_spacings_are_many() -> None:
    """A week of hourly rows with one day missing in the middle (167 spacings): the 23 hours
    beyond the normal one-hour gap are uncovered. With 100 spacings or fewer the longest is
    taken as normal, so a lone hole inside a small window is not judged."""
    week = pd.concat([_hours(1, 72), _hours(97, 168)], ignore_index=True)
    share = coverage(week, DAY, DAY + timedelta(days=7)).share
    assert share == pytest.approx(1 - 24 / 168, abs=1e-4)
    small = pd.concat([_hours(1, 10), _hours(15, 24)], ignore_index=True)
    assert coverage(small, DAY, DAY + timedelta(days=1)).share == 1.0


def test_too_few_timestamps_are_not_judged() -> None:
    """Two distinct times (one daily batch, say) give no cadence: share None, never a verdict;
    a daily source read on a one-week window is fully covered whatever the hour of `now`."""
    two = pd.Series(pd.to_datetime([DAY, DAY, DAY + timedelta(hours=1)], utc=True))
    assert coverage(two, DAY - timedelta(days=1), DAY + timedelta(days=1)).share is None
    daily = pd.Series(pd.date_range(DAY, periods=7, freq="D", tz="UTC"))
    noon = DAY + timedelta(days=6, hours=12)
    assert coverage(daily, noon - timedelta(days=7), noon).share == 1.0


# --- the cycle ---------------------------------------------------------------------------------


def _frame(start: datetime, days: int, seed: int) -> pd.DataFrame:
    """Hourly rows (20 an hour) with an hour-of-day feature, a noise feature and a label."""
    rng = np.random.default_rng(seed)
    ts = pd.date_range(start + timedelta(hours=1), periods=days * 24, freq="h", tz="UTC")
    ts = ts.repeat(20)
    x = rng.normal(size=len(ts))
    label = (x + rng.normal(scale=0.5, size=len(ts)) > 0).astype(int)
    return pd.DataFrame({"ts": ts, "hour": ts.hour, "x": x, "label": label})


def _config(tmp: Path) -> config.Config:
    data = tmp / "data"
    data.mkdir()
    _frame(DAY - timedelta(days=14), 14, seed=1).to_csv(data / "reference.csv", index=False)
    # The daily batches up to midnight of DAY + 5; at noon that day the next has not arrived.
    _frame(DAY, 5, seed=2).to_csv(data / "live.csv", index=False)
    raw = {
        "registry": "state/registry.db",
        "models": [
            {
                "name": "rides",
                "every": "1d",
                "data": {
                    "reference": "data/reference.csv",
                    "live": "data/live.csv",
                    "timestamp": "ts",
                    "target": "label",
                    "window": "1d",
                },
                "drift": {"prediction_drift": False},
                "training": {"window": "2d"},
                "promotion": {"min_holdout": 50, "bootstrap": 200},
                "policy": {"cooldown": "1s", "max_age": "1s", "performance_drop": False},
            }
        ],
    }
    return config.parse(raw, base=tmp)


def _counts(path: Path) -> tuple[int, int]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as c:
        counts = (
            c.execute("SELECT count(*) FROM trainings").fetchone()[0],
            c.execute("SELECT count(*) FROM decisions").fetchone()[0],
        )
    c.close()
    return counts


def test_a_half_covered_window_is_insufficient_data_and_does_not_retrain(tmp_path: Path) -> None:
    """Checked at noon, the day's window holds only yesterday afternoon: the check is recorded
    as `insufficient_data` with the covered span, the run is `ok`, and nothing trains, although
    `max_age = "1s"` retrains at once on the covered window checked at midnight."""
    cfg = _config(tmp_path)
    model = cfg.models[0]
    with Registry.open(cfg.registry) as registry:
        first = cycle.run_cycle(cfg, model, registry, DAY + timedelta(days=2))
        assert first.decision is not None and str(first.decision.action) == "bootstrap"
        assert first.report is not None
        before = _counts(cfg.registry)

        noon = cycle.run_cycle(cfg, model, registry, DAY + timedelta(days=5, hours=12))
        assert noon.status == "ok" and noon.report is not None, noon
        assert noon.report.verdict is Verdict.INSUFFICIENT
        assert noon.report.reason.startswith("insufficient data: rows cover 54 % of ")
        assert "2026-03-05T13:00Z to 2026-03-06T00:00Z" in noon.report.reason
        assert "data.min_coverage 0.8" in noon.report.reason
        assert noon.decision is None and _counts(cfg.registry) == before
        # No evidence either way: K-of-N sees only the bootstrap check.
        assert registry.recent_breaches("rides", 3) == [first.report.verdict is Verdict.DRIFT]

        midnight = cycle.run_cycle(cfg, model, registry, DAY + timedelta(days=5))
        assert midnight.report is not None and midnight.report.verdict is not Verdict.INSUFFICIENT
        assert midnight.retrain_reason.startswith("champion is"), midnight
        assert _counts(cfg.registry)[0] > before[0]

    with sqlite3.connect(f"file:{cfg.registry}?mode=ro", uri=True) as c:
        check = c.execute(
            "SELECT c.verdict, c.breached, c.reason, r.verdict, r.status FROM checks c "
            "JOIN runs r ON r.id = c.run_id WHERE c.run_id = ?",
            (noon.run_id,),
        ).fetchone()
    c.close()
    assert check[:2] == ("insufficient_data", 0) and check[3:] == ("insufficient_data", "ok")
    assert check[2] == noon.report.reason
    status = queries.status(cfg.registry)["models"][0]
    assert status["last_check"]["verdict"] == "ok"  # the midnight check came last
