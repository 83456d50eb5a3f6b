"""The two-sided Kolmogorov-Smirnov distribution's survival function: scipy's ``kstwo.sf``, with
its slowest branch computed another way.

For n > 140 and 2.2 <= n d^2 < 370 scipy evaluates 2 x smirnov(n, d), the exact one-sided
Birnbaum-Tingey sum, one term at a time: 0.15 s at n = 100,000 and 0.8 s at n = 500,000 for each
moderately drifted feature of a large window. The same sum taken in log space with numpy agrees
with scipy to about 1e-10 (relative) and is 10 to 15 times faster; elsewhere scipy is quick and
is used as it is.

>>> round(ks_sf(0.01, 100_000), 10) == round(float(stats.kstwo.sf(0.01, 100_000)), 10)
True
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special, stats

FAST_MIN_N = 2_000  # below this scipy's own loop takes under a millisecond or two
TERMS = 1 << 18  # terms summed per step, to bound memory for very large n


def ks_sf(d: float, n: int) -> float:
    """P(D_n >= d) for the two-sided one-sample KS statistic with ``n`` observations."""
    if n >= FAST_MIN_N and 0.0 < d < 0.5 and 1.0 < n * d < n - 1 and 2.2 <= n * d * d < 370.0:
        return min(1.0, 2.0 * smirnov_sf(n, d))
    return float(np.clip(stats.kstwo.sf(d, n), 0.0, 1.0))


def smirnov_sf(n: int, d: float) -> float:
    """P(D+_n >= d) = d sum_{j=0}^{floor(n(1-d))} C(n, j) (1 - d - j/n)^(n-j) (d + j/n)^(j-1),
    every term in log space (they span hundreds of orders of magnitude)."""
    last = math.floor(n * (1.0 - d))
    top = float(special.gammaln(n + 1))
    peak, total = -math.inf, 0.0
    for start in range(0, last + 1, TERMS):
        j = np.arange(start, min(last + 1, start + TERMS), dtype=np.float64)
        with np.errstate(divide="ignore"):  # the last term may be 0^(n-j): log 0 = -inf
            log_terms = (
                top
                - special.gammaln(j + 1)
                - special.gammaln(n - j + 1)
                + (n - j) * np.log1p(-d - j / n)
                + (j - 1) * np.log(d + j / n)
            )
        high = float(log_terms.max())
        if high > peak:  # rescale what was summed so far to the new largest term
            total *= math.exp(peak - high)
            peak = high
        total += float(np.exp(log_terms - peak).sum())
    return d * math.exp(peak) * total


def two_sample_equal_p(d: float, n: int) -> tuple[float, float] | None:
    """scipy ``ks_2samp``'s exact two-sided p-value for two samples of ``n`` values each, and
    the statistic as it reports it (rounded to a multiple of 1/n); None where scipy would fall
    back to its asymptotic p-value.

    The same alternating sum as scipy's ``_compute_prob_outside_square`` (Horner form), with
    each term's product of ``h`` ratios taken by numpy instead of a Python loop over about
    ``n`` factors: 0.08 ms instead of 3 to 10 ms at n = 10,000; agrees to 4e-15.

    >>> from scipy.stats import ks_2samp
    >>> r = ks_2samp([0.1, 0.5, 0.9, 1.3, 2.0], [0.4, 1.1, 1.7, 2.5, 3.1])
    >>> d, p = two_sample_equal_p(r.statistic, 5)
    >>> bool(d == r.statistic), bool(abs(p - r.pvalue) < 1e-15)
    (True, True)
    """
    h = int(np.round(d * n))
    if h == 0:
        return 0.0, 1.0
    k = np.arange(n // h + 1, dtype=np.float64)[:, None]
    j = np.arange(h, dtype=np.float64)[None, :]
    with np.errstate(under="ignore"):
        terms = np.prod((n - k * h - j) / (n + k * h + j + 1), axis=1)
    nonzero = np.flatnonzero(terms != 0.0)
    last = int(nonzero[-1]) + 1 if nonzero.size else 1
    p = 0.0
    for term in terms[:last][::-1].tolist():  # Horner: p = A0 (1 - A1 (1 - A2 (...)))
        p = term * (1.0 - p)
    p *= 2.0
    if not 0.0 <= p <= 1.0:
        return None
    return h / n, p
