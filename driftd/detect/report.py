"""Per-feature states after the correction across features, and the dataset-level verdict."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from driftd import stats
from driftd.config import BASELINES, DECISIONS, TEST_KEYS, DriftConfig
from driftd.detect import verdict
from driftd.detect.background import Background
from driftd.detect.features import CountedWindow, Evaluation, binnable, evaluate
from driftd.detect.summary import ReferenceSummary, parallel_map, summarize
from driftd.detect.verdict import SHOWN
from driftd.domain import DriftReport, FeatureDrift, FeatureKind, FeatureState
from driftd.errors import ConfigError, DataError


def detect(
    summary: ReferenceSummary,
    live: pd.DataFrame | CountedWindow,
    cfg: DriftConfig,
    seed: int = 0,
    *,
    background: Background | None = None,
    weights: Mapping[str, float] | None = None,
    ordered: bool = True,
) -> DriftReport:
    """Compare a live window with a summarised reference, feature by feature, then decide.

    A feature drifts when its test is significant after the correction across features and its
    effect reaches the threshold, or when its missing-value rate changed significantly by at
    least ``missing_threshold``. The dataset verdict is :func:`driftd.detect.verdict.decide`.
    ``background`` raises each feature's threshold to the normal variation learnt from past
    windows; ``weights`` (the champion's importances) weigh the dataset decision; ``ordered``
    says the live rows are in time order (see :func:`driftd.detect.features.evaluate`). ``seed``
    drives the Monte Carlo p-values of sparse chi-square tables and, the first time a window
    size is seen, the ``"auto"`` threshold resampling.

    >>> import numpy as np, pandas as pd
    >>> from driftd.config import DriftConfig
    >>> rng = np.random.default_rng(0)
    >>> ref = pd.DataFrame({"x": rng.normal(size=5000), "y": rng.normal(size=5000)})
    >>> live = pd.DataFrame({"x": rng.normal(0.5, 1, size=2000), "y": rng.normal(size=2000)})
    >>> kinds = {"x": FeatureKind.NUMERIC, "y": FeatureKind.NUMERIC}
    >>> report = detect(summarize(ref, kinds), live, DriftConfig())
    >>> report.verdict, report.drifted
    (<Verdict.DRIFT: 'drift'>, ('x',))
    >>> report.reason
    'combined p=5.3e-54 ≤ 0.05, material and significant: x; 1/2 features drifted (x)'
    """
    check_config(cfg)
    absent = [name for name in summary.columns if name not in live.columns]
    if absent:
        raise DataError(f"live data lacks column(s) {', '.join(map(repr, absent))}")
    floors = background.thresholds if background is not None else {}
    jobs = [(column, live[name]) for name, column in summary.columns.items()]
    sorted_columns = sum(column.numeric is not None for column in summary.columns.values())
    evaluations = parallel_map(
        lambda job: evaluate(
            summary, job[0], job[1], cfg, seed, floors.get(job[0].name), ordered=ordered
        ),
        jobs,
        len(live) * sorted_columns,
    )
    features = _decide(evaluations, cfg)
    return _report(features, cfg, summary.n_rows, len(live), background, weights)


def compare_frames(
    reference: pd.DataFrame,
    live: pd.DataFrame,
    kinds: Mapping[str, FeatureKind],
    cfg: DriftConfig,
    seed: int = 0,
) -> DriftReport:
    """:func:`summarize` the reference, then :func:`detect` (for one-off comparisons, whose
    row order is not known to be time: rows count as independent)."""
    summary = summarize(reference, kinds, binned=binnable(cfg), ordered=False)
    return detect(summary, live, cfg, seed, ordered=False)


def check_config(cfg: DriftConfig) -> None:
    """ConfigError when a test or effect name in ``cfg`` is not in the table for its kind."""
    problems = []
    for key, kind, role in TEST_KEYS:
        problem = stats.test_problem(getattr(cfg, key), kind, role)
        if problem:
            problems.append(f"drift.{key}: {problem}")
    for key, options in (("decision", DECISIONS), ("baseline", BASELINES)):
        if getattr(cfg, key) not in options:
            problems.append(f"drift.{key}: must be one of {', '.join(options)}")
    if cfg.correction not in stats.CORRECTIONS:
        problems.append(f"drift.correction: must be one of {', '.join(stats.CORRECTIONS)}")
    for key, value in (
        ("numeric_threshold", cfg.numeric_threshold),
        ("categorical_threshold", cfg.categorical_threshold),
    ):
        if isinstance(value, str) and value != "auto":
            problems.append(f'drift.{key}: must be a number or "auto" (got {value!r})')
    if problems:
        raise ConfigError(problems)


def _decide(evaluations: Sequence[Evaluation], cfg: DriftConfig) -> list[FeatureDrift]:
    # One family for the correction: every distribution test and every missing-rate test.
    family: list[float] = []
    slots: list[tuple[int | None, int | None]] = []
    for e in evaluations:
        test_slot = missing_slot = None
        if e.result is not None and e.result.p_value is not None:
            test_slot = len(family)
            family.append(e.result.p_value)
        if e.missing is not None and e.missing.p_value is not None:
            missing_slot = len(family)
            family.append(e.missing.p_value)
        slots.append((test_slot, missing_slot))
    adjusted = stats.adjust(family, cfg.correction).tolist()
    out = []
    for e, (test_slot, missing_slot) in zip(evaluations, slots, strict=True):
        p_adj = adjusted[test_slot] if test_slot is not None else None
        miss_adj = adjusted[missing_slot] if missing_slot is not None else None
        out.append(_feature(e, p_adj, miss_adj, cfg))
    return out


def _feature(
    e: Evaluation, p_adj: float | None, miss_adj: float | None, cfg: DriftConfig
) -> FeatureDrift:
    notes: list[str] = []
    moved = abs(e.missing_live - e.missing_ref)
    missing_drift = (
        miss_adj is not None and miss_adj <= cfg.alpha and moved >= cfg.missing_threshold
    )
    if missing_drift:
        notes.append(
            f"missing rate {e.missing_ref:.1%} → {e.missing_live:.1%} (p_adj={miss_adj:.2g})"
        )
    if e.result is None:
        state = FeatureState.DRIFT if missing_drift else e.fallback
    else:
        assert e.effect is not None and e.threshold is not None
        significant = p_adj is not None and p_adj <= cfg.alpha
        material = e.effect >= e.threshold
        size = f"{e.effect_name} {e.effect:.3g} {'≥' if material else '<'} {e.threshold:.3g}"
        if significant and material:
            notes.insert(0, f"{e.test} p_adj={p_adj:.2g} ≤ {cfg.alpha:g} and {size}")
        elif significant:
            notes.insert(0, f"significant (p_adj={p_adj:.2g}) but {size}: not material")
        elif p_adj is not None:
            notes.insert(0, f"not significant ({e.test} p_adj={p_adj:.2g} > {cfg.alpha:g})")
        drifted = (significant and material) or missing_drift
        if not drifted and e.new_category_mass >= 1.0:
            # Every live value is new: a re-coding or a new source, never "ok".
            notes.insert(0, "every live value is new to the reference")
            drifted = True
        state = FeatureState.DRIFT if drifted else FeatureState.OK
    return FeatureDrift(
        feature=e.feature,
        kind=e.kind,
        state=state,
        test=e.test,
        statistic=e.result.statistic if e.result else None,
        p_value=e.result.p_value if e.result else None,
        p_adjusted=p_adj,
        effect_name=e.effect_name,
        effect=e.effect,
        threshold=e.threshold,
        n_ref=e.n_ref,
        n_live=e.n_live,
        missing_ref=e.missing_ref,
        missing_live=e.missing_live,
        missing_p=e.missing.p_value if e.missing else None,
        new_category_mass=e.new_category_mass,
        detail="; ".join((*notes, *e.notes)),
    )


def _report(
    features: list[FeatureDrift],
    cfg: DriftConfig,
    n_ref: int,
    n_live: int,
    background: Background | None,
    weights: Mapping[str, float] | None,
) -> DriftReport:
    features.sort(key=lambda f: (f.effect is None, -(f.effect or 0.0), f.feature))
    skipped = [f for f in features if f.state not in (FeatureState.OK, FeatureState.DRIFT)]
    tail = ""
    if skipped:
        listed = ", ".join(f"{f.feature}: {f.state}" for f in skipped[:SHOWN])
        more = ", …" if len(skipped) > SHOWN else ""
        tail = f"; {len(skipped)} not evaluated ({listed}{more})"
    baseline = background.note if background is not None else "fixed thresholds"
    if background is not None and not background.thresholds:
        tail += f"; {background.note}"  # the fallback to fixed thresholds must be visible
    decision = verdict.decide(features, cfg, weights if cfg.importance else None, tail)
    return DriftReport(
        verdict=decision.verdict,
        features=tuple(features),
        drifted_share=decision.share,
        share_threshold=cfg.share,
        correction=cfg.correction,
        alpha=cfg.alpha,
        n_ref=n_ref,
        n_live=n_live,
        reason=decision.reason,
        p_value=decision.p_value,
        baseline=baseline,
    )
