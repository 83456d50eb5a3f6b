"""The multivariate check: can a classifier tell reference rows from live rows?

Per-feature tests miss a change that lives only in the relations between features (two
columns that used to be independent become correlated, with unchanged marginals). A domain
classifier sees the joint distribution:

1. Up to ``max_rows`` rows are drawn from each side (seeded, without replacement); each row is
   labelled 0 (reference) or 1 (live). Numeric columns are used as they are (infinities become
   missing; missing values are handled natively); categorical columns become integer codes over
   the categories of both sides together, the 254 most frequent kept and the rest pooled.
2. A scikit-learn ``HistGradientBoostingClassifier`` (early stopping on a 20 % split)
   is fitted in each of ``folds`` stratified folds and scores the rows of the fold it did not
   see. The statistic is the **mean held-out ROC AUC** over the folds: 0.5 = indistinguishable.
3. **p-value.** Within one fold, the held-out rows were not used to fit that fold's model, so
   under "no change" their scores are independent of their side and the one-sided Mann-Whitney
   test (normal approximation, tie-corrected, with continuity correction) of "live rows score
   higher" is valid. The folds' p-values are dependent (each model was fitted on the other
   folds' rows), so they are combined as twice their mean, which is a valid p-value under any
   dependence (Rüschendorf 1982; Vovk & Wang 2020) and conservative. Pooling every fold's scores
   into one Mann-Whitney test instead rejected 6.7 % of 150 no-drift samples at alpha = 0.05.
4. **Which features.** When the AUC reaches ``explain_above``, each feature's importance is the
   held-out AUC lost when that column is shuffled within the held-out rows (permutation
   importance), averaged over the folds: the columns the classifier relies on to separate.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from driftd.errors import EvaluationError

if TYPE_CHECKING:
    import pandas as pd

FOLDS = 5
MAX_CODES = 255  # HistGradientBoosting's limit on categorical codes (max_bins)
MAX_ITER = 100
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Separability:
    """The outcome of :func:`separability`. ``importances`` is largest first, possibly empty."""

    auc: float
    p_value: float
    fold_aucs: tuple[float, ...]
    n_ref: int
    n_live: int
    importances: tuple[tuple[str, float], ...] = ()


def mann_whitney_auc(scores: npt.ArrayLike, live: npt.ArrayLike) -> tuple[float, float]:
    """ROC AUC of ``scores`` for telling ``live`` (True) rows from the others, and the one-sided
    Mann-Whitney p-value of "live rows score higher" (normal approximation, tie-corrected, with
    continuity correction; scipy's ``mannwhitneyu(..., alternative="greater")``).

    >>> auc, p = mann_whitney_auc([0.1, 0.4, 0.35, 0.8], [False, False, True, True])
    >>> auc, round(p, 3)
    (0.75, 0.349)
    """
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(live, dtype=bool)
    n1 = int(y.sum())
    n0 = y.size - n1
    if n1 == 0 or n0 == 0:
        raise EvaluationError("mann_whitney_auc needs rows from both samples")
    _, inverse, counts = np.unique(s, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    ranks = (ends - (counts - 1) / 2.0)[inverse]  # average ranks, 1-based
    u = float(ranks[y].sum()) - n1 * (n1 + 1) / 2.0
    n = n1 + n0
    ties = float((counts.astype(np.float64) ** 3 - counts).sum())
    variance = n1 * n0 / 12.0 * ((n + 1) - ties / (n * (n - 1)))
    auc = u / (n1 * n0)
    if variance <= 0:
        return auc, 1.0  # every score equal: nothing separates
    z = (u - n1 * n0 / 2.0 - 0.5) / math.sqrt(variance)
    return auc, 0.5 * math.erfc(z / math.sqrt(2.0))


def separability(
    reference: pd.DataFrame,
    live: pd.DataFrame,
    categorical: Sequence[str] = (),
    *,
    max_rows: int = 20_000,
    folds: int = FOLDS,
    seed: int = 0,
    explain_above: float | None = None,
) -> Separability:
    """Train reference-vs-live classifiers in ``folds`` folds; see the module docstring.

    Both frames hold the same feature columns; ``categorical`` names the categorical ones.
    EvaluationError when a side has fewer rows than ``folds``.
    """
    rng = np.random.default_rng(seed)
    ref = _sample(reference, max_rows, rng)
    cur = _sample(live, max_rows, rng)
    k = min(folds, len(ref), len(cur))
    if k < 2:
        raise EvaluationError(
            f"the multivariate check needs at least 2 rows per side (got {len(ref)} and {len(cur)})"
        )
    x, is_cat = _encode(ref, cur, list(reference.columns), set(categorical))
    # A column missing everywhere separates nothing (and trips HistGradientBoosting's binning).
    usable = np.asarray(~np.isnan(x).all(axis=0), dtype=bool)
    columns = [c for c, keep in zip(reference.columns, usable.tolist(), strict=True) if keep]
    if not columns:
        raise EvaluationError("the multivariate check found no column with a value")
    x, is_cat = x[:, usable], is_cat[usable]
    y = np.concatenate((np.zeros(len(ref), dtype=bool), np.ones(len(cur), dtype=bool)))
    from sklearn.model_selection import StratifiedKFold
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    splits = StratifiedKFold(k, shuffle=True, random_state=seed).split(x, y)
    aucs: list[float] = []
    p_values: list[float] = []
    fitted: list[tuple[Any, npt.NDArray[np.intp], float]] = []
    # One OpenMP thread: measured on a busy 2-core host, two threads were 5-10x slower in wall
    # time (spinning threads) for every size up to 20k rows per side, where one took 0.7 s.
    with threadpool_limits(limits=1, user_api="openmp"):
        for train, test in splits:
            try:
                model = _classifier(is_cat, seed).fit(x[train], y[train])
                scores = model.predict_proba(x[test])[:, 1]
            except (ValueError, TypeError, MemoryError) as exc:
                first = (str(exc).strip().splitlines() or [""])[0]
                raise EvaluationError(
                    f"the multivariate classifier failed: {type(exc).__name__}: {first}"
                ) from None
            auc, p = mann_whitney_auc(scores, y[test])
            aucs.append(auc)
            p_values.append(p)
            fitted.append((model, test, auc))
        mean_auc = float(np.mean(aucs))
        importances: tuple[tuple[str, float], ...] = ()
        if explain_above is not None and mean_auc >= explain_above:
            importances = _importances(fitted, x, y, columns, rng)
    return Separability(
        auc=mean_auc,
        p_value=min(1.0, 2.0 * float(np.mean(p_values))),
        fold_aucs=tuple(aucs),
        n_ref=len(ref),
        n_live=len(cur),
        importances=importances,
    )


def _sample(frame: pd.DataFrame, max_rows: int, rng: np.random.Generator) -> pd.DataFrame:
    if len(frame) <= max_rows:
        return frame
    rows = np.sort(rng.choice(len(frame), size=max_rows, replace=False))
    return frame.iloc[rows]


def _encode(
    ref: pd.DataFrame, cur: pd.DataFrame, columns: list[str], categorical: set[str]
) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
    """One float matrix (reference rows first); categorical columns as codes, NaN = missing."""
    import pandas as pd

    out = np.empty((len(ref) + len(cur), len(columns)), dtype=np.float64)
    is_cat = np.zeros(len(columns), dtype=bool)
    for j, name in enumerate(columns):
        both = pd.concat((ref[name], cur[name]), ignore_index=True)
        numeric = pd.api.types.is_numeric_dtype(both) and not pd.api.types.is_bool_dtype(both)
        if name in categorical or not numeric:
            is_cat[j] = True
            out[:, j] = _codes(both)
        else:
            values = both.to_numpy(dtype=np.float64, na_value=np.nan, copy=True)
            values[~np.isfinite(values)] = np.nan
            out[:, j] = values
    return out, is_cat


def _codes(column: pd.Series) -> FloatArray:
    """Codes by descending frequency; beyond MAX_CODES - 1 categories the rest share one code."""
    counts = column.value_counts(dropna=True)
    rank = {value: min(i, MAX_CODES - 1) for i, value in enumerate(counts.index)}
    codes = column.map(rank).to_numpy(dtype=np.float64, na_value=np.nan)
    return np.asarray(codes, dtype=np.float64)


def _classifier(is_cat: npt.NDArray[np.bool_], seed: int) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(
        max_iter=MAX_ITER,
        early_stopping=True,  # without drift it stops after a few trees: fast and unfitted
        validation_fraction=0.2,
        n_iter_no_change=5,
        categorical_features=is_cat if is_cat.any() else None,
        random_state=seed,
    )


def _importances(
    fitted: list[tuple[Any, npt.NDArray[np.intp], float]],
    x: FloatArray,
    y: npt.NDArray[np.bool_],
    columns: list[str],
    rng: np.random.Generator,
) -> tuple[tuple[str, float], ...]:
    """Held-out AUC lost when one column is shuffled, averaged over the folds."""
    lost = np.zeros(len(columns))
    for model, test, auc in fitted:
        held = x[test]
        for j in range(len(columns)):
            shuffled = held.copy()
            shuffled[:, j] = rng.permutation(shuffled[:, j])
            lost[j] += auc - mann_whitney_auc(model.predict_proba(shuffled)[:, 1], y[test])[0]
    lost /= len(fitted)
    order = np.argsort(-lost, kind="stable")
    return tuple((columns[j], float(lost[j])) for j in order)
