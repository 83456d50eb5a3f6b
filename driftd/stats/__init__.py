"""Pure two-sample statistics over numpy arrays, and the table of available tests (layer 1).

scipy lives here and nowhere else in driftd. Numeric tests take raw values (or a prepared
:class:`NumericReference` / sorted :class:`Sample`, which is how detect makes them fast);
categorical tests take aligned count vectors. Every test returns a
:class:`~driftd.domain.StatResult` and is listed in :data:`TESTS`.

>>> import numpy as np
>>> rng = np.random.default_rng(1)
>>> ref, live = rng.normal(size=3000), rng.normal(0.3, 1, size=3000)
>>> TESTS["ks"].run(FeatureKind.NUMERIC, ref, live).p_value < 1e-10
True
>>> round(TESTS["wasserstein"].run(FeatureKind.NUMERIC, ref, live).statistic, 1)
0.3
"""

from __future__ import annotations

from driftd.domain import FeatureKind, StatResult
from driftd.stats import dependence
from driftd.stats._samples import (
    SKETCH_GRID,
    NumericReference,
    Sample,
    sorted_finite,
    split_finite,
)
from driftd.stats.binned import BinnedReference, BinnedSample
from driftd.stats.categorical import chi2, counts_pair, fisher, jensen_shannon, linf, psi, tvd
from driftd.stats.dependence import (
    deflated_chi2_p,
    deflated_ks_p,
    design_effect,
    indicator_time,
    integrated_time,
)
from driftd.stats.multiple import CORRECTIONS, adjust, harmonic_mean_p, two_proportion
from driftd.stats.numeric import (
    anderson_darling,
    cramer_von_mises,
    jensen_shannon_numeric,
    ks,
    psi_numeric,
    wasserstein,
)
from driftd.stats.table import P_VALUE, STATISTIC, TESTS, StatTest, get, names, test_problem

__all__ = [
    "CORRECTIONS",
    "P_VALUE",
    "SKETCH_GRID",
    "STATISTIC",
    "TESTS",
    "BinnedReference",
    "BinnedSample",
    "FeatureKind",
    "NumericReference",
    "Sample",
    "StatResult",
    "StatTest",
    "adjust",
    "anderson_darling",
    "chi2",
    "counts_pair",
    "cramer_von_mises",
    "deflated_chi2_p",
    "deflated_ks_p",
    "dependence",
    "design_effect",
    "fisher",
    "get",
    "harmonic_mean_p",
    "indicator_time",
    "integrated_time",
    "jensen_shannon",
    "jensen_shannon_numeric",
    "ks",
    "linf",
    "names",
    "psi",
    "psi_numeric",
    "sorted_finite",
    "split_finite",
    "test_problem",
    "tvd",
    "two_proportion",
    "wasserstein",
]
