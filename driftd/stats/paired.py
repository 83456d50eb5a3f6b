"""Paired tests for two models scored on the same rows: McNemar (accuracy), DeLong (ROC AUC).

Both are pure functions over numpy arrays. The evaluation layer uses their p-values next to a
paired bootstrap interval; neither decides a promotion on its own.

>>> round(mcnemar(3, 12), 4)
0.0352
>>> import numpy as np
>>> y = np.array([0, 0, 1, 1, 0, 1])
>>> r = delong(y, np.array([.1, .4, .35, .8, .2, .7]), np.array([.2, .3, .6, .9, .1, .8]))
>>> round(r.auc_a, 4), round(r.auc_b, 4)
(0.8889, 1.0)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

from driftd.errors import StatsError


def mcnemar(b: int, c: int) -> float:
    """Exact two-sided McNemar p-value from the discordant pairs.

    ``b`` = rows only the first model got right, ``c`` = rows only the second got right. Under
    the null each discordant row is a fair coin (Dietterich 1998), so the p-value is the
    two-sided binomial test of ``b`` successes in ``b + c`` trials at 1/2; 1.0 when no row is
    discordant.

    >>> mcnemar(0, 0)
    1.0
    >>> mcnemar(5, 5)
    1.0
    """
    if type(b) is bool or type(c) is bool or int(b) != b or int(c) != c or b < 0 or c < 0:
        raise StatsError(f"mcnemar: b and c must be counts >= 0 (got {b!r}, {c!r})")
    b, c = int(b), int(c)
    if b + c == 0:
        return 1.0
    return float(min(1.0, sps.binomtest(b, b + c, 0.5, alternative="two-sided").pvalue))


@dataclass(frozen=True, slots=True)
class DeLongResult:
    """Two correlated AUCs, their (co)variances, and the test of their difference (b - a)."""

    auc_a: float
    auc_b: float
    var_a: float
    var_b: float
    covariance: float
    z: float
    p_value: float

    @property
    def difference(self) -> float:
        return self.auc_b - self.auc_a

    @property
    def se(self) -> float:
        return math.sqrt(max(self.var_a + self.var_b - 2 * self.covariance, 0.0))


def delong_covariance(y_true: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """AUCs of k score rows and their k x k DeLong covariance, in O(k n log n).

    Sun & Xu (2014): the placement values come from midranks within the positives, within the
    negatives, and within both together, so no n_pos x n_neg comparison matrix is built.
    ``y_true`` is boolean or 0/1 (1 = positive); ``scores`` has shape (k, n), higher = positive.
    """
    y = _binary(y_true)
    scores = np.atleast_2d(np.asarray(scores, dtype=float))
    if scores.shape[1] != len(y):
        raise StatsError(f"delong: {scores.shape[1]} scores for {len(y)} labels")
    if not np.all(np.isfinite(scores)):
        raise StatsError("delong: scores must be finite")
    pos, neg = scores[:, y], scores[:, ~y]
    m, n = pos.shape[1], neg.shape[1]
    if m < 2 or n < 2:
        raise StatsError(f"delong: needs at least 2 positives and 2 negatives (got {m} and {n})")
    rank_pos = sps.rankdata(pos, axis=1)
    rank_neg = sps.rankdata(neg, axis=1)
    rank_all = sps.rankdata(np.concatenate([pos, neg], axis=1), axis=1)
    aucs = (rank_all[:, :m].sum(axis=1) / m - (m + 1) / 2) / n
    # V10: for each positive, the share of negatives it outranks (ties count 1/2); V01 likewise.
    v10 = (rank_all[:, :m] - rank_pos) / n
    v01 = 1.0 - (rank_all[:, m:] - rank_neg) / m
    s10 = np.atleast_2d(np.cov(v10))
    s01 = np.atleast_2d(np.cov(v01))
    return aucs, s10 / m + s01 / n


def delong(y_true: np.ndarray, scores_a: np.ndarray, scores_b: np.ndarray) -> DeLongResult:
    """DeLong's test of AUC(b) - AUC(a) for two scorers of the same rows (DeLong et al. 1988).

    The p-value is two-sided from the normal approximation; 1.0 when the two score vectors rank
    the rows identically (zero variance of the difference).
    """
    aucs, cov = delong_covariance(y_true, np.vstack([scores_a, scores_b]))
    var = cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]
    diff = float(aucs[1] - aucs[0])
    if var <= 1e-15:
        z, p = 0.0, 1.0
    else:
        z = diff / math.sqrt(var)
        p = float(min(1.0, 2 * sps.norm.sf(abs(z))))
    return DeLongResult(
        auc_a=float(aucs[0]),
        auc_b=float(aucs[1]),
        var_a=float(cov[0, 0]),
        var_b=float(cov[1, 1]),
        covariance=float(cov[0, 1]),
        z=float(z),
        p_value=p,
    )


def _binary(y_true: np.ndarray) -> np.ndarray:
    y = np.asarray(y_true)
    if y.ndim != 1:
        raise StatsError(f"delong: labels must be 1-D (got shape {y.shape})")
    if y.dtype == bool:
        return y
    values = set(np.unique(y).tolist())
    if not values <= {0, 1}:
        raise StatsError(f"delong: labels must be 0/1 or boolean (got {sorted(values)[:5]})")
    positive: np.ndarray = y == 1
    return positive


def t_over_z(q: float, dof: int) -> float:
    """Student's t quantile over the normal one at ``q``: how much wider an interval from
    ``dof + 1`` units must be than the normal approximation says.

    >>> round(t_over_z(0.975, 6), 3)
    1.248
    """
    return float(sps.t.ppf(q, dof) / sps.norm.ppf(q))
