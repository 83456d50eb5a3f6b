"""Seeded synthetic data with a known drift point, for the demo and the tests.

The stream is a binary-classification table (will a customer churn?) with a UTC timestamp
``ts``, a 0/1 target ``label``, six numeric features and two categorical ones:

========================  ==================================  ====================================
column                    before the drift                    from ``drift_at`` on (strength 1)
========================  ==================================  ====================================
``age``                   normal(42, 12), 18..90              unchanged
``income``                lognormal, median ~40,000           median down ~36 % (1 SD in log)
``usage_hours``           bimodal: 35 % heavy users           60 % heavy users
``sessions``              Poisson(2 + usage_hours / 3)        follows usage_hours
``support_calls``         Poisson(1.2)                        Poisson(2.4) (~ +1 SD)
``tenure_months``         geometric counts, mean ~23          unchanged
``plan``                  basic / standard / premium          a new level ``trial`` (20 %)
``region``                8 levels, fixed shares              unchanged
========================  ==================================  ====================================

The concept changes too: heavy usage used to keep customers and now drives them away (the
``usage_hours`` weight goes from -1.0 to +0.5), premium customers turn from loyal to at risk,
``trial`` customers churn most, and income matters more. A LogisticRegression retrained on
post-drift rows therefore beats one trained before the drift by a wide margin on post-drift
data (ROC AUC ~0.82 against ~0.63 with a thousand rows each; ``tests/test_synth.py`` pins
at least 0.05). ``drift_strength`` scales every change linearly (0 = no drift at all).

All randomness comes from ``numpy.random`` generators seeded by ``seed``, and rows are drawn in
time order, so the same arguments give identical frames and the rows before ``drift_at`` do not
depend on ``drift_at``.
"""

from __future__ import annotations

import os
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = [
    "CATEGORICAL",
    "DEMO_DAYS",
    "DEMO_DRIFT_DAYS_AGO",
    "DRIFTING",
    "FEATURES",
    "LABEL_BREAK_SOURCES",
    "NUMERIC",
    "STABLE",
    "TARGET",
    "TIMESTAMP",
    "demo_drift_at",
    "make_label_break",
    "make_reference",
    "make_stream",
    "write_demo_data",
]

TIMESTAMP = "ts"
TARGET = "label"
NUMERIC = ("age", "income", "usage_hours", "sessions", "support_calls", "tenure_months")
CATEGORICAL = ("plan", "region")
FEATURES = NUMERIC + CATEGORICAL
DRIFTING = ("income", "usage_hours", "sessions", "support_calls", "plan")
STABLE = ("age", "tenure_months", "region")

DEMO_DAYS = 10
DEMO_DRIFT_DAYS_AGO = 4
REFERENCE_END = datetime(2026, 1, 1, tzinfo=UTC)
# The sources (``region`` levels, 55 % of rows) that label everyone churned in make_label_break.
LABEL_BREAK_SOURCES = ("eu-west", "us-east", "us-west", "eu-north")

_PLANS = np.array(["basic", "standard", "premium", "trial"])
_PLAN_SHARES = np.array([0.5, 0.35, 0.15, 0.0])
_PLAN_SHARES_DRIFTED = np.array([0.35, 0.3, 0.15, 0.2])
_PLAN_EFFECT = np.array([0.4, 0.0, -0.5, 0.0])
_PLAN_EFFECT_DRIFTED = np.array([0.0, 0.0, 0.8, 1.2])
_REGIONS = np.array(
    ["eu-west", "eu-north", "eu-south", "us-east", "us-west", "apac-east", "apac-south", "latam"]
)
_REGION_SHARES = np.array([0.2, 0.1, 0.1, 0.2, 0.15, 0.1, 0.08, 0.07])
_REGION_EFFECT = np.array([0.0, 0.1, 0.0, -0.1, 0.1, 0.0, 0.2, -0.2])

# Independent random streams for the live stream and the reference, from the same seed.
_STREAM, _REFERENCE = 0, 1


def make_stream(
    start: datetime,
    periods: int,
    freq: timedelta,
    rows_per_period: int,
    drift_at: datetime | None,
    seed: int,
    *,
    drift_strength: float = 1.0,
    label_noise: float = 0.0,
) -> pd.DataFrame:
    """``periods * rows_per_period`` rows, ``rows_per_period`` in each period ``(p, p + freq]``.

    Period ``k`` starts at ``start + k * freq``; its rows are spread evenly over it (whole
    seconds when ``freq`` allows), so a half-open window aligned with the periods holds exactly
    ``rows_per_period`` rows. Rows with ``ts >= drift_at`` are drifted (``None``: never).
    ``label_noise`` is the share of labels flipped at random. Naive datetimes are UTC.

    >>> f = make_stream(datetime(2026, 1, 1), 2, timedelta(days=1), 3, None, seed=1)
    >>> f.shape, str(f["ts"].iloc[0]), str(f["ts"].iloc[-1])
    ((6, 10), '2026-01-01 08:00:00+00:00', '2026-01-03 00:00:00+00:00')
    """
    if periods < 0 or rows_per_period < 0 or freq <= timedelta(0):
        raise ValueError("periods and rows_per_period must be >= 0 and freq positive")
    if not 0.0 <= label_noise <= 0.5:
        raise ValueError(f"label_noise must be in [0, 0.5] (got {label_noise})")
    times = _times(_utc(start), periods, freq, rows_per_period)
    if drift_at is None:
        strength = np.zeros(len(times))
    else:
        drifted = times >= np.datetime64(_utc(drift_at).replace(tzinfo=None), "ns")
        strength = np.where(drifted, float(drift_strength), 0.0)
    return _rows(times, strength, np.random.SeedSequence([seed, _STREAM]), label_noise)


def make_label_break(
    start: datetime,
    periods: int,
    freq: timedelta,
    rows_per_period: int,
    break_at: datetime,
    seed: int,
    *,
    sources: tuple[str, ...] = LABEL_BREAK_SOURCES,
) -> pd.DataFrame:
    """:func:`make_stream` with no drift, except that from ``break_at`` on the rows of the
    ``region`` levels in ``sources`` are labelled 1 whatever their class: those sources start
    recording every customer as churned. The features do not move at all (the frame is
    ``make_stream(..., drift_at=None)`` but for ``label``), so only realised performance can see
    the break. With the default sources (55 % of rows) a LogisticRegression fitted before the
    break drops from ROC AUC ~0.80 to ~0.63 on rows after it, while one fitted on 2,000 rows
    after it scores ~0.97 there (``tests/test_synth.py`` pins the gap).

    >>> at = datetime(2026, 1, 2, tzinfo=UTC)
    >>> f = make_label_break(datetime(2026, 1, 1), 2, timedelta(days=1), 400, at, seed=1)
    >>> g = make_stream(datetime(2026, 1, 1), 2, timedelta(days=1), 400, None, seed=1)
    >>> broken = (f["ts"] >= at) & f["region"].isin(LABEL_BREAK_SOURCES)
    >>> bool(f.loc[broken, "label"].eq(1).all()), bool(f.loc[~broken].equals(g.loc[~broken]))
    (True, True)
    """
    frame = make_stream(start, periods, freq, rows_per_period, None, seed)
    broken = (frame[TIMESTAMP] >= pd.Timestamp(_utc(break_at))) & frame["region"].isin(sources)
    frame.loc[broken, TARGET] = 1
    return frame


def make_reference(
    n: int, seed: int, *, end: datetime = REFERENCE_END, span: timedelta = timedelta(days=7)
) -> pd.DataFrame:
    """``n`` pre-drift rows spread over ``(end - span, end]``: before a stream starting at ``end``.

    Drawn from a random stream independent of :func:`make_stream`'s for the same seed.

    >>> make_reference(4, seed=1)["ts"].max() == pd.Timestamp(REFERENCE_END)
    True
    """
    if n < 0 or span <= timedelta(0):
        raise ValueError("n must be >= 0 and span positive")
    times = _times(_utc(end) - span, 1, span, n)
    return _rows(times, np.zeros(n), np.random.SeedSequence([seed, _REFERENCE]), 0.0)


def demo_drift_at(now: datetime, drift_days_ago: int = DEMO_DRIFT_DAYS_AGO) -> datetime:
    """The drift point of :func:`write_demo_data` for this ``now``."""
    return _utc(now).replace(microsecond=0) - timedelta(days=drift_days_ago)


def write_demo_data(
    directory: Path,
    now: datetime,
    seed: int = 7,
    *,
    days: int = DEMO_DAYS,
    drift_days_ago: int = DEMO_DRIFT_DAYS_AGO,
    rows_per_day: int = 1000,
    reference_rows: int = 5000,
) -> dict[str, Path]:
    """Write ``reference.csv`` and ``live/YYYY-MM-DD.csv`` (one per UTC date) under ``directory``.

    With ``now`` cut to whole seconds: the live stream covers ``(now - days, now]`` with
    ``rows_per_day`` rows in every day-long window ending at ``now - k days``; the drift starts
    at ``now - drift_days_ago`` days (see :func:`demo_drift_at`): with the defaults, the live
    windows ending at ``now``, ``now - 1d``, ``now - 2d`` and ``now - 3d`` are drifted, the six
    before them are not. The reference holds ``reference_rows`` pre-drift rows over the week
    before the stream. Every file is written to a temp name and renamed, so a reader never sees
    half a file; same arguments, byte-identical files. Returns ``{"reference": csv path,
    "live": live directory}``; the live glob is ``live / "*.csv"``.
    """
    if not 0 <= drift_days_ago <= days:
        raise ValueError(f"drift_days_ago must be in [0, {days}] (got {drift_days_ago})")
    if not 0 < rows_per_day <= 86_400:
        raise ValueError("rows_per_day must be in [1, 86400]: the files keep whole seconds")
    end = _utc(now).replace(microsecond=0)
    start = end - timedelta(days=days)
    live = make_stream(
        start,
        days,
        timedelta(days=1),
        rows_per_day,
        demo_drift_at(end, drift_days_ago),
        seed,
    )
    reference = make_reference(reference_rows, seed, end=start)
    directory = Path(directory)
    live_dir = directory / "live"
    live_dir.mkdir(parents=True, exist_ok=True)
    ref_path = directory / "reference.csv"
    _write_csv(reference, ref_path)
    dates = live[TIMESTAMP].dt.strftime("%Y-%m-%d")
    for date, part in live.groupby(dates, sort=True):
        _write_csv(part, live_dir / f"{date}.csv")
    return {"reference": ref_path, "live": live_dir}


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _times(start: datetime, periods: int, freq: timedelta, rows: int) -> np.ndarray:
    """Row times as naive UTC datetime64[ns]: row i of period k at k*freq + (i+1)*freq/rows."""
    freq_ns = freq // timedelta(microseconds=1) * 1000
    second = 1_000_000_000
    unit = second if freq_ns % second == 0 and rows <= freq_ns // second else 1
    steps = (np.arange(1, rows + 1, dtype=np.int64) * (freq_ns // unit)) // max(rows, 1) * unit
    offsets = (np.arange(periods, dtype=np.int64)[:, None] * freq_ns + steps[None, :]).ravel()
    origin = np.datetime64(start.replace(tzinfo=None), "ns")
    return origin + offsets.astype("timedelta64[ns]")


def _rows(
    times: np.ndarray, strength: np.ndarray, seeds: np.random.SeedSequence, label_noise: float
) -> pd.DataFrame:
    """One row per time; ``strength`` (0..1 per row) moves covariates and concept together.

    Each column draws from its own generator: a Poisson draw consumes a parameter-dependent
    amount of randomness, and with one shared generator the drifted rows would shift the draws
    of every later column, pre-drift rows included.
    """
    n = len(times)
    s = strength
    rng = iter([np.random.default_rng(child) for child in seeds.spawn(11)])
    age = np.clip(next(rng).normal(42.0, 12.0, n), 18.0, 90.0).round(1)
    income = np.exp(next(rng).normal(10.6 - 0.45 * s, 0.45, n)).round(2)
    heavy = next(rng).random(n) < 0.35 + 0.25 * s
    draw = next(rng)
    usage = np.where(heavy, draw.normal(22.0, 4.0, n), draw.normal(6.0, 2.0, n))
    usage = usage.clip(0.0).round(2)
    sessions = next(rng).poisson(2.0 + usage / 3.0)
    calls = next(rng).poisson(1.2 + 1.2 * s)
    tenure = next(rng).geometric(1 / 24, n) - 1
    plan_shares = (1 - s)[:, None] * _PLAN_SHARES + s[:, None] * _PLAN_SHARES_DRIFTED
    plan = _categorical(next(rng).random(n), plan_shares)
    region = _categorical(next(rng).random(n), np.broadcast_to(_REGION_SHARES, (n, len(_REGIONS))))

    # The concept, on features standardised with fixed pre-drift constants.
    plan_effect = ((1 - s)[:, None] * _PLAN_EFFECT + s[:, None] * _PLAN_EFFECT_DRIFTED)[
        np.arange(n), plan
    ]
    logit = (
        -1.0
        - 0.7 * s
        + (-1.0 + 1.5 * s) * (usage - 11.6) / 8.0
        + 0.9 * (calls - 1.2) / 1.1
        + (-0.6 + 0.3 * s) * (np.log1p(tenure) - 2.8)
        + (-0.3 - 0.3 * s) * (np.log(income) - 10.6) / 0.45
        + 0.2 * (age - 42.0) / 12.0
        + plan_effect
        + _REGION_EFFECT[region]
    )
    label = next(rng).random(n) < 1.0 / (1.0 + np.exp(-logit))
    label ^= next(rng).random(n) < label_noise
    return pd.DataFrame(
        {
            TIMESTAMP: pd.DatetimeIndex(times).tz_localize(UTC),
            "age": age,
            "income": income,
            "usage_hours": usage,
            "sessions": sessions.astype(np.int64),
            "support_calls": calls.astype(np.int64),
            "tenure_months": tenure.astype(np.int64),
            "plan": _PLANS[plan],
            "region": _REGIONS[region],
            TARGET: label.astype(np.int64),
        }
    )


def _categorical(uniform: np.ndarray, shares: np.ndarray) -> np.ndarray:
    """Inverse-CDF draw per row: one uniform number per row whatever the shares are."""
    cumulative = np.cumsum(shares, axis=1)
    cumulative[:, -1] = 1.0  # rounding must not leave a gap above the last level
    levels: np.ndarray = (uniform[:, None] >= cumulative).sum(axis=1)
    return levels


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".csv", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            frame.to_csv(fh, index=False, date_format="%Y-%m-%dT%H:%M:%SZ", lineterminator="\n")
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp's 0600 would hide the data from the daemon
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
