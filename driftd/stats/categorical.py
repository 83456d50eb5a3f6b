"""Two-sample statistics for categorical features, on aligned count vectors.

Both arguments count the same categories in the same order: ``reference[i]`` and ``live[i]`` are
how often category ``i`` occurs in each sample. Categories seen in only one sample carry a zero on
the other side; categories absent from both are ignored.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy import special
from scipy import stats as sps

from driftd.domain import StatResult
from driftd.errors import StatsError
from driftd.stats import chernoff

IntArray = npt.NDArray[np.int64]

PSI_EPSILON = 1e-4  # share floor in PSI, so that an empty category gives a finite value
PERMUTATIONS = 2_000  # Monte Carlo tables for sparse chi-square tables, at most
STOP_HITS = 20  # stop simulating once this many tables are at least as extreme
SCREEN_P = 0.01  # try the Chernoff bound when the chi-square approximation's p is below this
# Sparse tables with rows this large and this balanced get the saddlepoint p-value instead of
# the Monte Carlo one (in the measured grid it was within 3 % of 40,000 random tables, worst 10 %;
# with 200 rows against 20,000 it was not, see the README)
SADDLE_MIN_ROW = 500
SADDLE_MAX_RATIO = 10
_CELLS_PER_CHUNK = 2_000_000
_COUNT_METHOD_MAX = 20_000_000


def counts_pair(reference: npt.ArrayLike, live: npt.ArrayLike) -> tuple[IntArray, IntArray]:
    """Validated count vectors with the categories absent from both samples removed."""
    out = []
    for which, values in (("reference", reference), ("live", live)):
        try:
            arr = np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise StatsError(f"{which} counts are not numbers: {exc}") from None
        if arr.ndim != 1:
            raise StatsError(f"{which} counts must be one-dimensional (got shape {arr.shape})")
        if not np.isfinite(arr).all() or (arr < 0).any() or (arr != np.round(arr)).any():
            raise StatsError(f"{which} counts must be finite non-negative integers")
        out.append(arr.astype(np.int64))
    ref, cur = out
    if ref.size != cur.size:
        raise StatsError(f"count vectors differ in length ({ref.size} vs {cur.size})")
    if ref.sum() == 0 or cur.sum() == 0:
        raise StatsError("a count vector is empty (all zero)")
    seen = (ref + cur) > 0
    return ref[seen], cur[seen]


def _shares(
    reference: npt.ArrayLike, live: npt.ArrayLike
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    ref, cur = counts_pair(reference, live)
    return ref / ref.sum(), cur / cur.sum()


def _pearson(table: npt.NDArray[np.float64], expected: npt.NDArray[np.float64]) -> float:
    return float(np.sum((table - expected) ** 2 / expected))


def _sparse(expected: npt.NDArray[np.float64]) -> bool:
    """Cochran's rule: the chi-square approximation needs every expected count >= 1 and at
    most a fifth of them below 5."""
    return bool((expected < 1).any() or (expected < 5).mean() > 0.2)


def chi2(reference: npt.ArrayLike, live: npt.ArrayLike, *, seed: int = 0) -> StatResult:
    """Two-sample chi-square test of homogeneity on the 2 x K table (reference row, live row).

    This is scipy's ``chi2_contingency`` (Yates' correction for a 2 x 2 table), not a
    goodness-of-fit test against the reference shares. When the table is too sparse for the
    chi-square approximation (Cochran's rule), the statistic is Pearson's uncorrected and the
    p-value that of the exact conditional test: a rigorous Chernoff upper bound on it
    (:mod:`driftd.stats.chernoff`) when that bound is already below ``1 / 2001``, else up to
    2 000 random tables with the same margins (a seeded Monte Carlo test that stops early once
    20 tables are as extreme; otherwise ``(1 + hits) / 2001``), or, for tables whose rows are
    large and balanced enough (:func:`_saddle_regime`), the saddlepoint approximation to the
    same exact tail (:func:`driftd.stats.chernoff.saddlepoint_p`).

    >>> r = chi2([500, 300, 200], [400, 350, 250])
    >>> round(r.statistic, 2), f"{r.p_value:.1e}"
    (20.51, '3.5e-05')
    """
    ref, cur = counts_pair(reference, live)
    if ref.size < 2:
        return StatResult(0.0, 1.0)  # one category in both samples: nothing can differ
    table = np.vstack((ref, cur)).astype(np.float64)
    cols = table.sum(axis=0)
    rows = table.sum(axis=1)
    expected = np.outer(rows, cols) / rows.sum()
    if not _sparse(expected):
        return _asymptotic(table, expected)
    observed = _pearson(table, expected)
    return StatResult(observed, _sparse_p(ref, cur, observed, seed))


def _asymptotic(table: npt.NDArray[np.float64], expected: npt.NDArray[np.float64]) -> StatResult:
    """scipy's ``chi2_contingency`` on a 2 x K table, operation for operation (Yates' correction
    when K = 2, the same expected counts and sum, ``chi2.sf`` as the ufunc it calls): bit-equal
    results without its validation and distribution-object layers, which cost 0.5-1 ms a call,
    a sizeable share of a 1,000-row check."""
    dof = table.shape[1] - 1
    if dof == 1:
        diff = expected - table
        table = table + np.minimum(0.5, np.abs(diff)) * np.sign(diff)
    statistic = float(((table - expected) ** 2 / expected).sum())
    return StatResult(statistic, float(special.chdtrc(dof, statistic)))


def _sparse_p(ref: IntArray, cur: IntArray, pearson: float, seed: int) -> float:
    """The Chernoff bound when it is below the Monte Carlo floor ``1 / (1 + PERMUTATIONS)``,
    else the saddlepoint p-value in its measured regime, else the Monte Carlo p-value.

    Far in the tail (drifted data) every one of the 2,000 tables would be drawn only to report
    that floor; the bound costs about as much as 20 tables and is smaller, so it is both cheaper
    and more informative. It is tried only when the chi-square approximation puts the table in
    the tail (``p < SCREEN_P``), so an undrifted table pays nothing for it. A bound is a valid
    p-value (P(bound <= a) <= a under no drift); the combined rule can exceed the Monte Carlo
    test's size by at most 0.63 x P(bound <= floor) <= 0.0003, and in the calibration grid it
    did not move any cell (README, "Speed at every size").
    """
    floor = 1.0 / (1 + PERMUTATIONS)
    if float(special.chdtrc(ref.size - 1, pearson)) < SCREEN_P:
        colors = ref + cur
        row = ref if ref.sum() <= cur.sum() else cur
        observed = float((row.astype(np.float64) ** 2) @ (1.0 / colors)) * (1 - 1e-9)
        log_bound = chernoff.log_p_bound(colors, int(row.sum()), observed)
        if log_bound <= math.log(floor):
            return math.exp(log_bound)
    if _saddle_regime(ref, cur):
        colors = ref + cur
        row = ref if ref.sum() <= cur.sum() else cur
        observed = float((row.astype(np.float64) ** 2) @ (1.0 / colors)) * (1 - 1e-9)
        approx = chernoff.saddlepoint_p(colors, int(row.sum()), observed)
        if approx is not None:
            return approx
    return _monte_carlo_p(ref, cur, seed)


def _saddle_regime(ref: IntArray, cur: IntArray) -> bool:
    """Whether the table is where the saddlepoint p-value was measured to be accurate: at least
    SADDLE_MIN_ROW rows on the smaller side, at most SADDLE_MAX_RATIO times as many on the
    other, and small enough for the bound's arrays (README, "Speed at every size")."""
    small, big = sorted((int(ref.sum()), int(cur.sum())))
    return (
        small >= SADDLE_MIN_ROW
        and big <= SADDLE_MAX_RATIO * small
        and small + big <= chernoff.MAX_CELLS
    )


def _monte_carlo_p(ref: IntArray, cur: IntArray, seed: int) -> float:
    """P-value of Pearson's statistic over random 2 x K tables with the observed margins.

    With the margins fixed, Pearson's statistic is an increasing affine function of
    ``sum_j d_j**2 / c_j`` (d: one row, c: column totals), so only that sum is simulated.
    Sequential stopping (Besag & Clifford 1991): once ``STOP_HITS`` simulated tables are at
    least as extreme, p = hits / tables drawn (still a valid p-value); otherwise, after
    ``PERMUTATIONS`` tables, p = (1 + hits) / (1 + PERMUTATIONS).
    """
    rng = np.random.default_rng(seed)
    colors = ref + cur
    row = ref if ref.sum() <= cur.sum() else cur  # simulate the smaller row: cheaper draws
    nsample = int(row.sum())
    inverse = 1.0 / colors
    observed = float((row.astype(np.float64) ** 2) @ inverse) * (1 - 1e-9)  # ties count
    # "count" draws in O(nsample) per table but holds every pooled observation in memory.
    small = colors.sum() <= _COUNT_METHOD_MAX and nsample <= 20 * colors.size
    method: Literal["count", "marginals"] = "count" if small else "marginals"
    hits, done = 0, 0
    while done < PERMUTATIONS:
        # Batches a quarter of what is drawn so far: tables past the stopping point are wasted,
        # and doubling wasted up to as many as were needed (a third of the time at p ~ 0.04).
        batch = max(50, done // 4)
        size = min(batch, PERMUTATIONS - done, max(1, _CELLS_PER_CHUNK // colors.size))
        drawn = rng.multivariate_hypergeometric(colors, nsample, size=size, method=method)
        extreme = (drawn.astype(np.float64) ** 2) @ inverse >= observed
        running = hits + np.cumsum(extreme)
        if running[-1] >= STOP_HITS:
            stop = int(np.argmax(running >= STOP_HITS))
            return STOP_HITS / (done + stop + 1)
        hits, done = int(running[-1]), done + size
    return (1 + hits) / (1 + PERMUTATIONS)


def fisher(reference: npt.ArrayLike, live: npt.ArrayLike) -> StatResult:
    """Fisher's exact test for a binary feature (scipy ``fisher_exact``, two-sided).

    The statistic is the difference in the share of the second category (its absolute value),
    not the odds ratio, which is infinite whenever a cell is empty.

    >>> r = fisher([8, 2], [1, 9])
    >>> round(r.statistic, 2), round(r.p_value, 4)
    (0.7, 0.0055)
    """
    ref, cur = counts_pair(reference, live)
    if ref.size > 2:
        raise StatsError(f"fisher needs a binary feature (got {ref.size} categories)")
    if ref.size < 2:
        return StatResult(0.0, 1.0)
    res = sps.fisher_exact([[int(ref[0]), int(ref[1])], [int(cur[0]), int(cur[1])]])
    share_ref = ref[1] / ref.sum()
    share_live = cur[1] / cur.sum()
    return StatResult(float(abs(share_live - share_ref)), float(res.pvalue))


def jensen_shannon(reference: npt.ArrayLike, live: npt.ArrayLike) -> StatResult:
    """Jensen-Shannon distance, base 2: 0 for identical shares, 1 for disjoint categories.

    Equals ``scipy.spatial.distance.jensenshannon(p, q, base=2)``. One per cent of live rows in
    a brand-new category gives about 0.07.

    >>> round(jensen_shannon([50, 50], [60, 40]).statistic, 4)
    0.0854
    """
    p, q = _shares(reference, live)
    m = (p + q) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        kl_p = np.where(p > 0, p * np.log2(p / m), 0.0).sum()
        kl_q = np.where(q > 0, q * np.log2(q / m), 0.0).sum()
    return StatResult(min(1.0, math.sqrt(max(0.0, (kl_p + kl_q) / 2))))


def psi(reference: npt.ArrayLike, live: npt.ArrayLike) -> StatResult:
    """Population stability index: sum of (live - ref) * ln(live / ref) over category shares.

    Shares are floored at 1e-4. Rule of thumb: < 0.1 stable, 0.1-0.25 moderate, > 0.25 large.

    >>> round(psi([50, 50], [60, 40]).statistic, 4)
    0.0405
    """
    p, q = _shares(reference, live)
    p = np.maximum(p, PSI_EPSILON)
    q = np.maximum(q, PSI_EPSILON)
    return StatResult(float(np.sum((q - p) * np.log(q / p))))


def tvd(reference: npt.ArrayLike, live: npt.ArrayLike) -> StatResult:
    """Total variation distance: the share of probability mass that moved, in [0, 1].

    >>> round(tvd([50, 50], [60, 40]).statistic, 6)
    0.1
    """
    p, q = _shares(reference, live)
    return StatResult(float(min(1.0, 0.5 * np.abs(p - q).sum())))


def linf(reference: npt.ArrayLike, live: npt.ArrayLike) -> StatResult:
    """L-infinity distance: the largest change in any one category's share, in [0, 1].

    >>> round(linf([50, 30, 20], [40, 30, 30]).statistic, 6)
    0.1
    """
    p, q = _shares(reference, live)
    return StatResult(float(np.abs(p - q).max()))
