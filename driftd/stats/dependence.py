"""How much autocorrelation shrinks a sample: the integrated autocorrelation time.

Rows of a live window arrive in time order, one per hour or day, and neighbouring rows are alike
(weather, demand, sensor readings). A two-sample test that assumes independent rows then sees
``n`` rows where the information is that of ``n / tau`` independent ones, and its p-values are
far too small: under an AR(1) process with rho = 0.9, KS at alpha = 0.05 rejected about 60 % of
equal-distribution windows in our calibration run (``bench/calibration.py --dependence``).

``tau = 1 + 2 * sum_k rho_k`` is estimated from the sample autocorrelations with Geyer's
initial positive sequence (Geyer 1992): pairs ``rho_2m + rho_2m+1`` are summed while positive,
which stops the sum where noise starts and needs no tuning. Ranks are used instead of raw values
so that one outlier cannot dominate, and because the rank-based tests (KS) see only the order.
The estimate is at least 1: a negatively autocorrelated series is not given more weight than
an independent one.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> integrated_time(rng.normal(size=5000))   # independent rows
1.0
>>> x = np.zeros(5000)
>>> for i in range(1, 5000):
...     x[i] = 0.9 * x[i - 1] + rng.normal()
>>> 10 < integrated_time(x) < 25   # (1 + 0.9) / (1 - 0.9) = 19 for the values themselves
True
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import special

from driftd.stats import kolmogorov

MAX_ROWS = 8_192  # a contiguous block this long estimates tau well up to about tau = 50
MIN_ROWS = 20  # fewer rows: no estimate (tau = 1)
DIRECT_LAGS = 16  # lags taken as dot products before switching to one FFT for all of them
# Independent rows give estimates up to about 1 + 8 / sqrt(n) (the 90th-95th percentile at
# n = 200, 2,000 and 20,000 in 300 draws each); below that, tau is taken as 1 so that
# independent data loses no power to estimation noise.
NOISE = 8.0


def integrated_time(values: npt.ArrayLike, *, ranked: bool = True) -> float:
    """``tau`` of a series in time order (NaN-free); 1.0 for short or constant series.
    ``ranked=False`` skips the ranks, for a 0/1 indicator: its midranks are an increasing
    affine function of it, so the autocorrelations are the same."""
    x = np.asarray(values, dtype=np.float64).ravel()
    if x.size > MAX_ROWS:
        # The newest rows: the window's current behaviour, and a bounded cost at any size.
        x = x[-MAX_ROWS:]
    n = x.size
    if n < MIN_ROWS:
        return 1.0
    centred = _midranks(x) if ranked else x.copy()
    centred -= centred.mean()
    # einsum, not a BLAS dot: OpenBLAS threads spin after each call and burn a core.
    var = float(np.einsum("i,i->", centred, centred))
    if var <= 0.0:
        return 1.0
    total = -1.0  # tau = -rho_0 + 2 * sum of the positive pair sums (rho_0 = 1)
    lags = max(2, n // 4)
    # Independent rows stop the sum after a pair or two: a few dot products then cost far less
    # than the FFT of every lag, which is only taken once the sum runs past DIRECT_LAGS.
    # A list while lags are added two at a time (np.append copied the array each time).
    acf: list[float] | npt.NDArray[np.float64] = [1.0, _lag(centred, 1) / var]
    for m in range(lags // 2):
        if 2 * m + 1 >= len(acf):
            if 2 * m + 1 < DIRECT_LAGS and isinstance(acf, list):
                acf += (_lag(centred, 2 * m) / var, _lag(centred, 2 * m + 1) / var)
            else:
                acf = _autocorrelation(centred, var)
        pair = float(acf[2 * m] + acf[2 * m + 1])
        if pair <= 0.0:
            break
        total += 2.0 * pair
    if total <= 1.0 + NOISE / np.sqrt(n):
        return 1.0
    return float(min(total, n))


def _midranks(x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Ranks with ties sharing their mean rank: a tie broken by position would turn an integer
    or binary column into a fake trend. One argsort and a scatter (np.unique's inverse and
    counts took twice as long at 1,000 rows)."""
    order = np.argsort(x)
    ranked = x[order]
    new = np.empty(x.size, dtype=np.bool_)
    new[:1] = True
    np.not_equal(ranked[1:], ranked[:-1], out=new[1:])
    out = np.empty(x.size, dtype=np.float64)
    starts = np.flatnonzero(new)
    if starts.size == x.size:  # no ties
        out[order] = np.arange(1.0, x.size + 1.0)
        return out
    counts = np.diff(np.append(starts, x.size))
    mid = np.cumsum(counts).astype(np.float64) - (counts - 1) / 2.0
    out[order] = np.repeat(mid, counts)
    return out


def indicator_time(codes: npt.ArrayLike, top: int = 3) -> float:
    """``tau`` of a categorical series: the largest over its ``top`` most frequent categories'
    indicator series (each category's share is what a chi-square test compares).

    >>> indicator_time(np.tile([0, 1], 500)) == 1.0   # alternating: negative autocorrelation
    True
    >>> indicator_time(np.repeat([0, 1, 2], 400)) > 50  # long runs of one category
    True
    """
    c = np.asarray(codes).ravel()
    if c.size > MAX_ROWS:
        c = c[-MAX_ROWS:]
    if c.size < MIN_ROWS:
        return 1.0
    values, counts = np.unique(c, return_counts=True)
    if values.size < 2:
        return 1.0
    chosen = values[np.argsort(counts)[::-1][:top]]
    return max(integrated_time((c == v).astype(np.float64), ranked=False) for v in chosen)


def _lag(centred: npt.NDArray[np.float64], k: int) -> float:
    """The lag-``k`` autocovariance sum, ``sum_i x_i x_(i+k)``, as the FFT computes it."""
    return float(np.einsum("i,i->", centred[: centred.size - k], centred[k:]))


def _autocorrelation(centred: npt.NDArray[np.float64], var: float) -> npt.NDArray[np.float64]:
    """Sample autocorrelations at lags 0 .. n/4 by FFT (the standard biased estimator)."""
    n = centred.size
    size = 1 << (2 * n - 1).bit_length()
    spectrum = np.fft.rfft(centred, size)
    acov = np.fft.irfft(spectrum * np.conj(spectrum), size)[: max(2, n // 4)]
    return np.asarray(acov / var, dtype=np.float64)


def design_effect(n_ref: int, n_live: int, tau_ref: float, tau_live: float) -> float:
    """How much autocorrelation inflates the variance of a difference between the two samples'
    shares: ``(tau_ref / n_ref + tau_live / n_live) / (1 / n_ref + 1 / n_live)``; 1 when both
    are independent.

    >>> design_effect(1000, 1000, 1.0, 3.0)
    2.0
    """
    if n_ref <= 0 or n_live <= 0:
        return 1.0
    iid = 1.0 / n_ref + 1.0 / n_live
    return (max(tau_ref, 1.0) / n_ref + max(tau_live, 1.0) / n_live) / iid


def deflated_ks_p(d: float, n_ref: int, n_live: int, deff: float) -> float:
    """The KS p-value at the effective size ``n*m/(n+m) / deff`` (``kstwo`` at that size, as
    scipy's ``ks_2samp`` does for large samples).

    >>> deflated_ks_p(0.05, 2000, 2000, 1.0) < deflated_ks_p(0.05, 2000, 2000, 4.0)
    True
    """
    en = n_ref * n_live / (n_ref + n_live) / max(deff, 1.0)
    return kolmogorov.ks_sf(d, max(1, round(en)))


def deflated_chi2_p(statistic: float, categories: int, deff: float) -> float:
    """The chi-square p-value of ``statistic / deff`` with ``categories - 1`` degrees of
    freedom: the Rao-Scott first-order correction for clustered (here: autocorrelated) rows.

    >>> round(deflated_chi2_p(20.0, 3, 1.0), 6), round(deflated_chi2_p(20.0, 3, 4.0), 4)
    (4.5e-05, 0.0821)
    """
    if categories < 2:
        return 1.0
    # scipy's chi2.sf is this ufunc behind a distribution object costing ~0.2 ms a call.
    return float(special.chdtrc(categories - 1, statistic / max(deff, 1.0)))
