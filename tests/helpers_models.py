"""Models that are not plain scikit-learn estimators, as training entrypoints for tests.

``training.entrypoint = "tests.helpers_models:NAME"`` runs them inside driftd's real training
child: a plain Python class (no scikit-learn base, no tags), a scikit-learn Pipeline, and
LightGBM's LGBMClassifier (scikit-learn's API, another library's estimator).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

NUMERIC = ["age", "income", "usage_hours", "sessions", "support_calls", "tenure_months"]


class PlainLogit:
    """A logistic model fitted by numpy's least squares on the log-odds-ish target: only
    ``predict``, ``predict_proba`` and ``classes_``; nothing from scikit-learn."""

    def __init__(self, columns: list[str], coef: np.ndarray, mean: np.ndarray, sd: np.ndarray):
        self.columns = columns
        self.coef = coef
        self.mean = mean
        self.sd = sd
        self.classes_ = np.array([0, 1])

    def _z(self, x: pd.DataFrame) -> np.ndarray:
        values = (x[self.columns].to_numpy(dtype=float) - self.mean) / self.sd
        return np.c_[np.ones(len(values)), np.nan_to_num(values)]

    def predict_proba(self, x: pd.DataFrame) -> np.ndarray:
        p = 1.0 / (1.0 + np.exp(-(self._z(x) @ self.coef)))
        return np.c_[1.0 - p, p]

    def predict(self, x: pd.DataFrame) -> np.ndarray:
        return (self.predict_proba(x)[:, 1] > 0.5).astype(int)


def fit_plain(frame: pd.DataFrame, features: list[str], target: str) -> PlainLogit:
    """Ten Newton steps of logistic regression on the numeric features, in numpy."""
    columns = [c for c in NUMERIC if c in features]
    values = frame[columns].to_numpy(dtype=float)
    mean, sd = np.nanmean(values, axis=0), np.nanstd(values, axis=0) + 1e-9
    model = PlainLogit(columns, np.zeros(len(columns) + 1), mean, sd)
    z, y = model._z(frame), frame[target].to_numpy(dtype=float)
    for _ in range(10):
        p = 1.0 / (1.0 + np.exp(-(z @ model.coef)))
        hessian = z.T @ (z * (p * (1 - p))[:, None]) + 1e-6 * np.eye(z.shape[1])
        model.coef = model.coef + np.linalg.solve(hessian, z.T @ (y - p))
    return model


def fit_pipeline(frame: pd.DataFrame, features: list[str], target: str) -> Any:
    """Scaler + one-hot encoder + LogisticRegression in one scikit-learn Pipeline."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numeric = [c for c in NUMERIC if c in features]
    categorical = [c for c in features if c not in numeric]
    prep = ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(), StandardScaler()), numeric),
            ("cat", OneHotEncoder(handle_unknown="ignore"), categorical),
        ]
    )
    return make_pipeline(prep, LogisticRegression(max_iter=500)).fit(frame[features], frame[target])


def fit_lightgbm(frame: pd.DataFrame, features: list[str], target: str) -> Any:
    """LightGBM's scikit-learn-API classifier on the numeric features (small and fast)."""
    from lightgbm import LGBMClassifier

    numeric = [c for c in NUMERIC if c in features]
    model = LGBMClassifier(n_estimators=30, num_leaves=8, verbose=-1, n_jobs=1, random_state=0)
    return model.fit(frame[numeric], frame[target])


def impute_strings_by_median(frame: pd.DataFrame, features: list[str], target: str) -> Any:
    """scikit-learn's own two-line error: the median imputer on a string column."""
    from sklearn.impute import SimpleImputer

    return SimpleImputer(strategy="median").fit(frame[["plan"]])
