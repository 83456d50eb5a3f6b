"""Two-sample statistics for numeric features.

Each function takes the reference (raw values or a prepared :class:`NumericReference`) and the
live sample (raw values or a sorted :class:`Sample`) and returns a :class:`StatResult`. Raw inputs
must be finite and non-empty; detect drops missing and infinite values before calling.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import numpy.typing as npt
from scipy import stats as sps

from driftd.domain import StatResult
from driftd.errors import StatsError
from driftd.stats import binned, categorical, kolmogorov
from driftd.stats._samples import FloatArray, NumericReference, Sample, as_reference, as_sample
from driftd.stats.binned import BinnedReference, BinnedSample

RefLike = npt.ArrayLike | NumericReference | BinnedReference
LiveLike = npt.ArrayLike | Sample | BinnedSample

BINS = 10  # reference-decile bins for PSI and Jensen-Shannon on numeric features
KS_EXACT_MAX = 10_000  # scipy's ks_2samp uses its exact distribution up to this size
# ks_2samp without scipy's axis/NaN-policy wrapper, which cost as much as the exact p-value at
# 1,000 rows (about 1 ms a column); our inputs are finite 1-D arrays, which the wrapper passes
# through unchanged. tests/test_stats.py pins equality with the public function.
_KS_2SAMP = getattr(sps.ks_2samp, "__wrapped__", sps.ks_2samp)


def _prepare(reference: RefLike, live: LiveLike) -> tuple[NumericReference, Sample]:
    if isinstance(reference, BinnedReference) or isinstance(live, BinnedSample):
        raise StatsError("this test needs the exact reference, not a binned one")
    ref = as_reference(reference)
    return ref, as_sample(live, ref.mean)


def _binned(reference: RefLike, live: LiveLike) -> tuple[BinnedReference, BinnedSample] | None:
    """Both sides when detect passed a binned pair (large references), else None."""
    if isinstance(reference, BinnedReference) and isinstance(live, BinnedSample):
        return reference, live
    return None


def _ks_p_value(d: float, n_ref: int, n_live: int) -> float:
    m, n = sorted((float(n_ref), float(n_live)), reverse=True)
    return kolmogorov.ks_sf(d, round(m * n / (m + n)))


def ks_statistic(ref: NumericReference, live: Sample) -> float:
    """Largest gap between the two ECDFs. Exact for a lossless reference: both ECDFs are steps,
    so the supremum sits at a reference value or just below one."""
    right, left = live.grid_positions(ref.grid)
    gap_at = np.abs(ref.le / ref.n - live.count(right) / live.n)
    gap_below = np.abs(ref.lt / ref.n - live.count(left) / live.n)
    return float(max(gap_at.max(), gap_below.max()))


def ks(reference: RefLike, live: LiveLike) -> StatResult:
    """Two-sample Kolmogorov-Smirnov test: the largest vertical gap between the two ECDFs.

    The p-value is scipy's ``ks_2samp`` (method "auto"): exact when both samples have at most
    10 000 values, else the ``kstwo`` distribution at the effective size ``n*m/(n+m)``.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> r = ks(rng.normal(size=2000), rng.normal(0.5, 1, size=500))
    >>> round(r.statistic, 3), r.p_value < 1e-10
    (0.193, True)
    """
    pair = _binned(reference, live)
    if pair is not None:
        d = binned.ks_statistic(*pair)
        return StatResult(d, _ks_p_value(d, pair[0].n, pair[1].n))
    ref, sample = _prepare(reference, live)
    if ref.n == sample.n <= KS_EXACT_MAX and ref.lossless:
        # Equal sizes (a fixed-size window against as many reference rows): scipy's exact
        # p-value without its per-factor Python loop, on our exact statistic.
        exact = kolmogorov.two_sample_equal_p(ks_statistic(ref, sample), ref.n)
        if exact is not None:
            return StatResult(*exact)
    if max(ref.n, sample.n) <= KS_EXACT_MAX:
        with warnings.catch_warnings():
            # scipy falls back to its asymptotic p-value on some sizes and says so; so do we.
            warnings.simplefilter("ignore", RuntimeWarning)
            res = _KS_2SAMP(ref.expanded(), sample.expanded())
        return StatResult(float(res.statistic), float(res.pvalue))
    d = ks_statistic(ref, sample)
    return StatResult(d, _ks_p_value(d, ref.n, sample.n))


def wasserstein_raw(ref: NumericReference, live: Sample) -> float:
    """The area between the two ECDFs, in the feature's own units (scipy's W1)."""
    g, n, c = ref.grid, live.n, live.center
    right, left = live.grid_positions(g)
    le = live.count(right)
    t = a = b = f = None
    inside = np.zeros(0, dtype=np.int64)
    if g.size > 1:
        a, b, f = g[:-1], g[1:], ref.cell_mean
        # Within a cell the reference CDF is (close to) the constant f; split the cell at t,
        # where the live CDF reaches f, so that each part has one sign and an exact integral.
        if ref.lossless:
            need = (ref.le[:-1] * n + ref.n - 1) // ref.n
        else:
            need = np.ceil(f * n - 1e-9).astype(np.int64)
        t = np.clip(live.order_stat(np.clip(need, 1, n)), a, b)
        inside = np.flatnonzero((t > a) & (t < b))
    t_pos = np.searchsorted(live.values, t[inside], side="right") if t is not None else inside
    sums = live.prefix_sums(np.concatenate((right, left[:1], t_pos, [live.values.size])))
    s_le, s_below, s_t, total = np.split(sums, np.cumsum([g.size, 1, t_pos.size]))
    # Below the reference minimum F_ref = 0; above its maximum F_ref = 1.
    area = live.count(left[:1])[0] * (g[0] - c) - s_below[0]
    area += (total[0] - s_le[-1]) - (n - le[-1]) * (g[-1] - c)
    if t is not None and a is not None and b is not None and f is not None:
        la, sa, lb, sb = le[:-1], s_le[:-1], le[1:], s_le[1:]
        at_b = t >= b
        lt_, st = np.where(at_b, lb, la), np.where(at_b, sb, sa)
        lt_[inside], st[inside] = live.count(t_pos), s_t
        # n * integral of F_live over [x, y] = l_x (y - x) + (l_y - l_x)(y - c) - (s_y - s_x)
        int_at = la * (t - a) + (lt_ - la) * (t - c) - (st - sa)
        int_tb = lt_ * (b - t) + (lb - lt_) * (b - c) - (sb - st)
        area += np.abs(f * (t - a) * n - int_at).sum() + np.abs(int_tb - f * (b - t) * n).sum()
    return float(area) / n


def wasserstein(reference: RefLike, live: LiveLike) -> StatResult:
    """Wasserstein-1 distance in reference standard deviations: "how many SDs the data moved".

    A pure shift of the whole distribution by 0.3 SD gives 0.3. Computed like scipy's
    ``wasserstein_distance`` and divided by the reference SD (population SD); a constant
    reference is measured against the pooled SD of both samples instead.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(10, 2, size=5000)
    >>> round(wasserstein(x, x + 1.0).statistic, 2)  # x has SD 1.99
    0.5
    """
    pair = _binned(reference, live)
    if pair is not None:
        with np.errstate(over="ignore", invalid="ignore"):
            raw = binned.wasserstein_raw(*pair)
        sd = pair[0].sd
        return StatResult(raw / sd if math.isfinite(sd) and sd > 0 else math.nan)
    ref, sample = _prepare(reference, live)
    with np.errstate(over="ignore", invalid="ignore"):  # overflow comes out as NaN, not noise
        raw = wasserstein_raw(ref, sample)
    scale = ref.sd
    if not math.isfinite(scale):
        return StatResult(math.nan)
    if scale == 0.0:
        mean_l, var_l = sample.mean_var()
        total = ref.n + sample.n
        pooled_mean = (ref.n * ref.mean + sample.n * mean_l) / total
        scale = math.sqrt(
            (
                sample.n * (var_l + (mean_l - pooled_mean) ** 2)
                + ref.n * (ref.mean - pooled_mean) ** 2
            )
            / total
        )
    return StatResult(raw / scale if scale > 0 else 0.0)


def binned_counts(
    ref: NumericReference, live: Sample, bins: int = BINS
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Counts in reference-quantile bins (-inf, e1], (e1, e2], ..., (ek, inf)."""
    edges = ref.quantile_edges(bins)
    idx = np.searchsorted(ref.grid, edges)
    ref_le = np.concatenate(([0], ref.le[idx], [ref.n]))
    live_le = np.concatenate(([0], live.count_le(edges), [live.n]))
    return np.diff(ref_le), np.diff(live_le)


def psi_numeric(reference: RefLike, live: LiveLike) -> StatResult:
    """Population stability index on the reference's deciles (open-ended end bins).

    Shares are floored at 1e-4, so an empty bin gives a large but finite value.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> round(psi_numeric(rng.normal(size=5000), rng.normal(1, 1, size=5000)).statistic, 2)
    0.96
    """
    pair = _binned(reference, live)
    if pair is not None:
        return categorical.psi(*binned.decile_counts(*pair))
    ref, sample = _prepare(reference, live)
    return categorical.psi(*binned_counts(ref, sample))


def jensen_shannon_numeric(reference: RefLike, live: LiveLike) -> StatResult:
    """Jensen-Shannon distance (base 2, in [0, 1]) between the reference-decile histograms.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=5000)
    >>> round(jensen_shannon_numeric(x, rng.normal(1, 1, size=5000)).statistic, 2)
    0.4
    """
    pair = _binned(reference, live)
    if pair is not None:
        return categorical.jensen_shannon(*binned.decile_counts(*pair))
    ref, sample = _prepare(reference, live)
    return categorical.jensen_shannon(*binned_counts(ref, sample))


def _raw_pair(reference: RefLike, live: LiveLike) -> tuple[FloatArray, FloatArray]:
    ref, sample = _prepare(reference, live)
    return ref.expanded(), sample.expanded()


def anderson_darling(reference: RefLike, live: LiveLike) -> StatResult:
    """k-sample Anderson-Darling test (scipy ``anderson_ksamp``, midrank variant).

    The statistic is normalised (0 on average under no drift, can be negative). scipy
    interpolates the p-value from a table and clips it to [0.001, 0.25].

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> r = anderson_darling(rng.normal(size=300), rng.normal(1, 1, size=300))
    >>> r.p_value
    0.001
    """
    x, y = _raw_pair(reference, live)
    if x.size < 2 or y.size < 2:
        raise StatsError("anderson_darling needs at least 2 values in each sample")
    if x[0] == x[-1] == y[0] == y[-1]:
        return StatResult(0.0, 1.0)  # one value in both samples: scipy refuses, nothing differs
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the p-value clipping notice and a deprecation notice
        try:
            res = sps.anderson_ksamp([x, y])
        except (ValueError, IndexError, FloatingPointError) as exc:
            raise StatsError(f"anderson_darling: {exc}") from None
    return StatResult(float(res.statistic), float(res.pvalue))


def cramer_von_mises(reference: RefLike, live: LiveLike) -> StatResult:
    """Two-sample Cramer-von Mises test (scipy ``cramervonmises_2samp``, method "auto").

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> r = cramer_von_mises(rng.normal(size=300), rng.normal(1, 1, size=300))
    >>> r.p_value < 1e-6
    True
    """
    x, y = _raw_pair(reference, live)
    if x.size < 2 or y.size < 2:
        raise StatsError("cramer_von_mises needs at least 2 values in each sample")
    try:
        res = sps.cramervonmises_2samp(x, y)
    except (ValueError, FloatingPointError) as exc:
        raise StatsError(f"cramer_von_mises: {exc}") from None
    return StatResult(float(res.statistic), float(res.pvalue))
