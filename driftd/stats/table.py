"""The table of two-sample tests. A new test is one function and one row of ``_ROWS``.

A row says which feature kinds the test accepts, whether drift is decided on its p-value
(``decide="p_value"``: a significance test, drift when ``p <= threshold``) or on its statistic
(``decide="statistic"``: an effect size, drift when ``statistic >= threshold``), the default
threshold, whether swapping the samples leaves the result unchanged, and the statistic's unit and
range. Contract tests in ``tests/test_stats_contract.py`` run over every row.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from driftd.domain import FeatureKind, StatResult
from driftd.errors import StatsError
from driftd.stats import categorical, numeric

NUM, CAT = FeatureKind.NUMERIC, FeatureKind.CATEGORICAL
P_VALUE, STATISTIC = "p_value", "statistic"
ROLES = ("test", "effect")
INF = float("inf")


@dataclass(frozen=True, slots=True)
class StatTest:
    """One row of the table; ``implementations`` maps a feature kind to its function."""

    name: str
    implementations: Mapping[FeatureKind, Callable[..., StatResult]]
    decide: str
    threshold: float
    symmetric: frozenset[FeatureKind]
    unit: str
    low: float
    high: float
    summary: str
    binary_only: bool = False  # categorical input must have at most two categories
    randomized: bool = False  # the function takes a ``seed`` keyword (Monte Carlo p-values)

    @property
    def kinds(self) -> tuple[FeatureKind, ...]:
        return tuple(self.implementations)

    def run(self, kind: FeatureKind, reference: Any, live: Any, seed: int = 0) -> StatResult:
        """Apply the test to one feature of ``kind``; StatsError if it does not apply."""
        fn = self.implementations.get(kind)
        if fn is None:
            raise StatsError(f"{self.name} does not apply to {kind} features")
        return fn(reference, live, seed=seed) if self.randomized else fn(reference, live)

    def drifted(self, result: StatResult, threshold: float | None = None) -> bool:
        """Whether ``result`` crosses ``threshold`` (default: the row's)."""
        limit = self.threshold if threshold is None else threshold
        if self.decide == P_VALUE:
            return result.p_value is not None and result.p_value <= limit
        return result.statistic >= limit


def _row(
    name: str,
    impl: dict[FeatureKind, Callable[..., StatResult]],
    decide: str,
    threshold: float,
    symmetric: tuple[FeatureKind, ...],
    unit: str,
    bounds: tuple[float, float],
    summary: str,
    **flags: bool,
) -> StatTest:
    return StatTest(
        name,
        MappingProxyType(impl),
        decide,
        threshold,
        frozenset(symmetric),
        unit,
        bounds[0],
        bounds[1],
        summary,
        **flags,
    )


_ROWS = (
    _row(
        "ks",
        {NUM: numeric.ks},
        P_VALUE,
        0.05,
        (NUM,),
        "largest CDF gap (share of rows)",
        (0.0, 1.0),
        "two-sample Kolmogorov-Smirnov test",
    ),
    _row(
        "anderson_darling",
        {NUM: numeric.anderson_darling},
        P_VALUE,
        0.05,
        (NUM,),
        "normalised A2 (about 0 without drift)",
        (-INF, INF),
        "k-sample Anderson-Darling test",
    ),
    _row(
        "cramer_von_mises",
        {NUM: numeric.cramer_von_mises},
        P_VALUE,
        0.05,
        (NUM,),
        "T statistic",
        (0.0, INF),
        "two-sample Cramer-von Mises test",
    ),
    _row(
        "chi2",
        {CAT: categorical.chi2},
        P_VALUE,
        0.05,
        (CAT,),
        "Pearson chi-square",
        (0.0, INF),
        "two-sample chi-square test of homogeneity",
        randomized=True,
    ),
    _row(
        "fisher",
        {CAT: categorical.fisher},
        P_VALUE,
        0.05,
        (CAT,),
        "change in the share of the second category",
        (0.0, 1.0),
        "Fisher's exact test (binary features)",
        binary_only=True,
    ),
    _row(
        "wasserstein",
        {NUM: numeric.wasserstein},
        STATISTIC,
        0.05,
        (),
        "reference SDs moved",
        (0.0, INF),
        "Wasserstein-1 distance divided by the reference standard deviation",
    ),
    _row(
        "psi",
        {NUM: numeric.psi_numeric, CAT: categorical.psi},
        STATISTIC,
        0.2,
        (CAT,),
        "PSI (natural log)",
        (0.0, INF),
        "population stability index",
    ),
    _row(
        "jensen_shannon",
        {NUM: numeric.jensen_shannon_numeric, CAT: categorical.jensen_shannon},
        STATISTIC,
        0.05,
        (CAT,),
        "JS distance, base 2",
        (0.0, 1.0),
        "Jensen-Shannon distance",
    ),
    _row(
        "tvd",
        {CAT: categorical.tvd},
        STATISTIC,
        0.05,
        (CAT,),
        "share of rows moved",
        (0.0, 1.0),
        "total variation distance",
    ),
    _row(
        "linf",
        {CAT: categorical.linf},
        STATISTIC,
        0.05,
        (CAT,),
        "largest change of one category's share",
        (0.0, 1.0),
        "L-infinity distance",
    ),
)

TESTS: Mapping[str, StatTest] = MappingProxyType({row.name: row for row in _ROWS})


def get(name: str) -> StatTest:
    """The row called ``name``; StatsError naming the known ones otherwise."""
    try:
        return TESTS[name]
    except KeyError:
        raise StatsError(f"unknown test {name!r} (known: {', '.join(TESTS)})") from None


def names(kind: FeatureKind, role: str = "test") -> tuple[str, ...]:
    """Names usable for ``kind`` as a significance ``test`` or as an ``effect`` size."""
    decide = P_VALUE if role == "test" else STATISTIC
    return tuple(t.name for t in _ROWS if kind in t.implementations and t.decide == decide)


def test_problem(name: str, kind: FeatureKind | str, role: str = "test") -> str | None:
    """Why ``name`` cannot serve as the ``role`` ("test" or "effect") for ``kind``, or None.

    >>> test_problem("ks", "numeric") is None
    True
    >>> test_problem("kss", "numeric")
    "unknown test 'kss' for numeric features (known: ks, anderson_darling, cramer_von_mises)"
    >>> test_problem("ks", "numeric", role="effect")
    'ks is a significance test, not an effect size (known: wasserstein, psi, jensen_shannon)'
    """
    if role not in ROLES:
        raise StatsError(f"unknown role {role!r} (known: {', '.join(ROLES)})")
    kind = FeatureKind(kind)
    known = ", ".join(names(kind, role))
    row = TESTS.get(name)
    if row is None:
        return f"unknown test {name!r} for {kind} features (known: {known})"
    if kind not in row.implementations:
        return f"{name} does not apply to {kind} features (known: {known})"
    if role == "test" and row.decide != P_VALUE:
        return f"{name} is an effect size without a p-value, not a test (known: {known})"
    if role == "effect" and row.decide != STATISTIC:
        return f"{name} is a significance test, not an effect size (known: {known})"
    return None
