"""Direct loss estimation (DLE) for regressors.

A second model (gradient-boosted trees) learns the champion's absolute error, and its squared
error, from the features and the champion's prediction on the holdout. On live rows, the mean
predicted absolute error is the estimated MAE and the root of the mean predicted squared error
the estimated RMSE.

The loss models are cross-fitted: the holdout is cut into ``folds`` parts, each model learns on
all parts but one, and live rows get the mean of the fold models. The spread of the fold models'
estimates is the model's part of the band; the per-row variance of the absolute error
(E[e^2 | x] - E[|e| | x]^2, from the two loss models) is the sampling part.

Like CBPE it assumes that the error given the inputs is unchanged (covariate shift only), and
trees do not extrapolate: on inputs far outside the holdout, the estimate is the error at the
edge of the holdout.

>>> import numpy as np, pandas as pd
>>> from sklearn.linear_model import LinearRegression
>>> rng = np.random.default_rng(0)
>>> x = pd.DataFrame({"a": rng.uniform(-2, 2, 4000)})
>>> y = 2 * x["a"] + rng.normal(size=4000) * (0.2 + np.abs(x["a"]))  # noisier far from 0
>>> model = LinearRegression().fit(x[:1000], y[:1000])
>>> est = fit(model, x[1000:3000], y[1000:3000])
>>> far = x[3000:][np.abs(x["a"][3000:]) > 1]  # covariate shift to the noisy rows
>>> got = est.estimate(far)[0]
>>> realised = np.abs(y[3000:][np.abs(x["a"][3000:]) > 1] - model.predict(far)).mean()
>>> got.metric, bool(abs(got.value / realised - 1) < 0.1)
('mae', True)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from driftd.errors import EvaluationError
from driftd.estimate._types import Estimate, band, check_rows, predictions

FOLDS = 5
_MAX_CATEGORIES = 250  # HistGradientBoosting's categorical limit is max_bins (255)


@dataclass(frozen=True, slots=True)
class RegressorEstimator:
    model: Any
    columns: tuple[str, ...]
    categories: dict[str, tuple[Any, ...]]  # categorical column -> levels seen in the holdout
    abs_models: tuple[Any, ...]  # one per fold
    sq_models: tuple[Any, ...]
    reference: dict[str, float]
    n_holdout: int

    def estimate(self, x: Any) -> tuple[Estimate, ...]:
        """MAE then RMSE on ``x``."""
        if len(x) == 0:
            raise EvaluationError("no live rows to estimate on")
        design = _design(self.model, x, self.columns, self.categories)
        with _one_thread():
            absolute = np.array([np.clip(m.predict(design), 0, None) for m in self.abs_models])
            squared = np.array([np.clip(m.predict(design), 0, None) for m in self.sq_models])
        m, s = absolute.mean(axis=0), squared.mean(axis=0)
        n = len(m)
        mae = float(m.mean())
        mse = float(s.mean())
        rmse = float(np.sqrt(mse))
        # Fold models share most of their rows, so their spread understates the error of the
        # mean of fold models: it is used as is, not divided by sqrt(folds).
        mae_model_sd = float(absolute.mean(axis=1).std(ddof=1))
        rmse_model_sd = float(np.sqrt(squared.mean(axis=1)).std(ddof=1))
        mae_sampling = float(np.sqrt(np.clip(s - m**2, 0, None).sum()) / n)
        # Var(e^2) = 2 sigma^4 for normal errors, then the delta method for the square root.
        mse_sampling = float(np.sqrt(np.sum(2 * s**2)) / n)
        rmse_sampling = mse_sampling / (2 * rmse) if rmse > 0 else 0.0
        mae_band = band(mae, mae_sampling, mae_model_sd, lo=0.0)
        rmse_band = band(rmse, rmse_sampling, rmse_model_sd, lo=0.0)
        return (
            Estimate("mae", mae, *mae_band, n, self.reference["mae"], "dle", False),
            Estimate("rmse", rmse, *rmse_band, n, self.reference["rmse"], "dle", False),
        )


def fit(model: Any, x: Any, y: Any, *, seed: int = 0, folds: int = FOLDS) -> RegressorEstimator:
    """Cross-fit loss models of ``model``'s errors on its holdout ``x``, ``y``."""
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.model_selection import KFold

    labels = check_rows(x, y, least=10 * folds).astype(np.float64)
    if not np.isfinite(labels).all():
        raise EvaluationError("holdout target has missing or infinite values")
    columns = tuple(str(c) for c in x.columns)
    categories = {
        c: tuple(sorted(x[c].dropna().unique().tolist(), key=str))
        for c in columns
        if not _numeric(x[c])
    }
    design = _design(model, x, columns, categories)
    error = labels - design[:, -1]
    mask = [c in categories and len(categories[c]) <= _MAX_CATEGORIES for c in columns] + [False]

    def learner() -> Any:
        # Shallow, slow and with large leaves: |error| is mostly noise around a smooth mean, and
        # a holdout has hundreds to thousands of rows, not the millions boosting is tuned for.
        return HistGradientBoostingRegressor(
            max_iter=100,
            learning_rate=0.05,
            max_depth=3,
            min_samples_leaf=max(20, len(labels) // 50),
            l2_regularization=1.0,
            categorical_features=np.array(mask) if any(mask) else None,
            early_stopping=False,
            random_state=seed,
        )

    abs_models, sq_models = [], []
    with _one_thread():
        for train, _ in KFold(folds, shuffle=True, random_state=seed).split(design):
            abs_models.append(learner().fit(design[train], np.abs(error[train])))
            sq_models.append(learner().fit(design[train], error[train] ** 2))
    reference = {
        "mae": float(np.abs(error).mean()),
        "rmse": float(np.sqrt(np.mean(error**2))),
    }
    return RegressorEstimator(
        model, columns, categories, tuple(abs_models), tuple(sq_models), reference, len(labels)
    )


def _one_thread() -> Any:
    """One OpenMP thread for the loss models: on a busy 2-core host the default threads spun
    against each other and a 1,000-row fit took 61 s instead of 1.2 s (measured)."""
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    return threadpool_limits(limits=1, user_api="openmp")


def _numeric(column: Any) -> bool:
    return column.dtype.kind in "biuf"


def _design(
    model: Any, x: Any, columns: tuple[str, ...], categories: dict[str, tuple[Any, ...]]
) -> Any:
    """The features as floats (categories as codes, unseen ones missing) plus the prediction."""
    prediction = predictions(model, x, "predict").astype(np.float64).reshape(len(x), -1)
    if prediction.shape[1] != 1:
        raise EvaluationError("the champion predicts several outputs: DLE needs one")
    parts = []
    for c in columns:
        if c in categories:
            codes = {v: float(i) for i, v in enumerate(categories[c])}
            parts.append(np.array([codes.get(v, np.nan) for v in x[c].tolist()]))
        else:
            parts.append(x[c].to_numpy(dtype=np.float64, na_value=np.nan))
    return np.column_stack([*parts, prediction[:, 0]])
