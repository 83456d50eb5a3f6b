"""The checks of a cycle beyond per-feature drift: prediction drift, multivariate, performance.

Each one becomes :class:`~driftd.domain.FeatureDrift` rows for ``DriftReport.extra``, named
``scope:name`` so that the registry, ``driftd check`` and ``driftd status`` can tell them apart:

- ``prediction:p(class=1)`` ... one row per output column of the champion
  (:func:`driftd.evaluate.outputs.model_outputs`), each tested like a numeric feature with KS
  and the Wasserstein distance in reference SDs, Bonferroni-corrected across the output columns;
- ``multivariate:classifier``: the reference-vs-live classifier
  (:mod:`driftd.evaluate.separability`), drift when its p-value is at most ``alpha`` *and* its
  held-out AUC is at least ``multivariate_auc``;
- ``performance:<scorer>``: the champion's metric on labelled live rows against its recorded
  holdout value (:class:`driftd.policy.Performance`);
- ``estimated:<metric>``: the champion's performance on the live window estimated without
  labels (:mod:`driftd.estimate`: accuracy, ROC AUC, F1 for classifiers; MAE, RMSE for
  regressors), the primary metric first and the only one that can be ``drift``
  (:class:`driftd.policy.EstimatedPerformance`). The estimate is in ``effect``, the champion's
  realised holdout value in ``statistic``, the 95 % band in ``detail``.

A check that cannot run yields one ``invalid`` or ``insufficient_data`` row saying why; it never
fails the cycle. The cycle reads files and the registry; everything here gets frames and models.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from driftd import detect, estimate, evaluate, policy
from driftd.config import DriftConfig, ModelConfig
from driftd.domain import FeatureDrift, FeatureKind, FeatureState
from driftd.errors import DriftdError
from driftd.evaluate.outputs import model_outputs
from driftd.evaluate.separability import separability

if TYPE_CHECKING:
    import pandas as pd

PREDICTION = "prediction"
MULTIVARIATE = "multivariate"
PERFORMANCE = "performance"
ESTIMATED = "estimated"
SCOPES = (PREDICTION, MULTIVARIATE, PERFORMANCE, ESTIMATED)
_SHOWN = 3  # separating features named in a multivariate detail

SummaryGetter = Callable[[str, Callable[[], detect.ReferenceSummary]], detect.ReferenceSummary]
Fitted = estimate.PerformanceEstimator | FeatureDrift  # an estimator, or the row saying why not
EstimatorGetter = Callable[[str, Callable[[], Fitted]], Fitted]


@dataclass(frozen=True, slots=True)
class Inputs:
    """What the extra checks need, with the costly parts as callables run only when needed."""

    reference: pd.DataFrame  # feature columns of the reference
    live: pd.DataFrame  # feature columns of the live window
    champion: Callable[[], Any] | None  # loads the champion (sha256-checked); None: no champion
    champion_key: str  # the champion version and reference fingerprint, for the output cache
    prediction_reference: Callable[[], pd.DataFrame]  # rows whose outputs are the reference
    labelled: Callable[[], pd.DataFrame]  # the labelled rows of the performance window
    baseline: float | None  # the champion's recorded holdout value of promotion.scorer
    # Whose outputs on prediction_reference() are the reference; None: the champion's own.
    reference_model: Callable[[], Any] | None = None
    # The champion's promotion holdout with its labels (None inside: it has none); None: the
    # estimated performance is not wired in.
    holdout: Callable[[], pd.DataFrame | None] | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    rows: tuple[FeatureDrift, ...] = ()
    performance: policy.Performance | None = None  # None: the performance check is off
    estimated: policy.EstimatedPerformance | None = None  # None: nothing was estimated


def run(
    model: ModelConfig,
    inputs: Inputs,
    summaries: SummaryGetter,
    seed: int = 0,
    estimators: EstimatorGetter | None = None,
) -> Outcome:
    """Every enabled extra check: prediction drift, performance and its estimate need a champion.

    ``estimators(key, build)`` caches the fitted performance estimator per champion (the
    cycle's ``SummaryCache.other``); without it the estimator is fitted on every call.
    """
    drift, rows = model.drift, []
    champion = None
    wanted = drift.prediction_drift or model.policy.performance_drop or inputs.holdout
    if inputs.champion is not None and wanted:
        try:
            champion = inputs.champion()
        except DriftdError as exc:
            rows.append(unavailable(PREDICTION, "outputs", f"cannot load the champion: {exc}"))
    if champion is not None and drift.prediction_drift:
        rows += prediction_drift(
            champion,
            inputs.prediction_reference,
            inputs.live,
            drift,
            key=f"{PREDICTION}:{inputs.champion_key}",
            summaries=summaries,
            seed=seed,
            reference_model=inputs.reference_model,
        )
    if drift.multivariate:
        categorical = [c for c in model.data.categorical if c in inputs.reference.columns]
        rows.append(multivariate(inputs.reference, inputs.live, categorical, drift, seed))
    perf = None
    max_drop = model.policy.performance_drop
    if champion is not None and max_drop is not None:
        try:
            labelled = inputs.labelled()
        except DriftdError as exc:
            rows.append(unavailable(PERFORMANCE, model.promotion.scorer, str(exc)))
        else:
            perf, row = performance(
                champion,
                labelled,
                list(inputs.reference.columns),
                model.data.target,
                scorer=model.promotion.scorer,
                baseline=inputs.baseline,
                min_rows=model.promotion.min_holdout,
                max_drop=max_drop,
            )
            rows.append(row)
    estimated = None
    if champion is not None and inputs.holdout is not None:
        found, estimated = estimated_performance(
            model, inputs, champion, estimators or (lambda _, build: build())
        )
        rows += found
    return Outcome(tuple(rows), perf, estimated)


def scope(name: str) -> str:
    """``prediction`` for ``prediction:p(class=1)``; ``""`` for a plain feature name.

    >>> scope("prediction:p(class=1)"), scope("income")
    ('prediction', '')
    """
    head, sep, _ = name.partition(":")
    return head if sep and head in SCOPES else ""


def breached(rows: Sequence[FeatureDrift], which: str) -> bool:
    """Whether any row of scope ``which`` is in state ``drift``."""
    return any(scope(r.feature) == which and r.state is FeatureState.DRIFT for r in rows)


def prediction_config(cfg: DriftConfig) -> DriftConfig:
    """The feature settings with KS, Wasserstein and Bonferroni imposed for output columns.

    The Wasserstein threshold is ``numeric_threshold`` when the features use Wasserstein too
    (a number, or ``"auto"``), else the default 0.05 SD.

    >>> c = prediction_config(DriftConfig(numeric_effect="psi", numeric_threshold=0.2))
    >>> c.numeric_test, c.numeric_effect, c.numeric_threshold, c.correction
    ('ks', 'wasserstein', 0.05, 'bonferroni')
    """
    threshold = cfg.numeric_threshold
    if cfg.numeric_effect != "wasserstein":
        threshold = DriftConfig().numeric_threshold
    return replace(
        cfg,
        numeric_test="ks",
        numeric_effect="wasserstein",
        numeric_threshold=threshold,
        correction="bonferroni",
    )


def prediction_drift(
    model: Any,
    reference: Callable[[], pd.DataFrame],
    live: pd.DataFrame,
    cfg: DriftConfig,
    *,
    key: str,
    summaries: SummaryGetter,
    seed: int = 0,
    reference_model: Callable[[], Any] | None = None,
) -> tuple[FeatureDrift, ...]:
    """The champion's outputs on ``reference()`` (summarised once per ``key``) versus on ``live``.

    ``summaries(key, build)`` returns a cached summary or builds one (the cycle's SummaryCache),
    so ``reference`` is read and predicted only when the champion or the reference changes.
    ``reference_model`` (default: ``model``) scores the reference rows: a refitted champion
    trained on them, so the candidate evaluated there gives the out-of-sample outputs.
    """
    try:

        def build() -> detect.ReferenceSummary:
            scorer = reference_model() if reference_model is not None else model
            outputs = model_outputs(scorer, reference())
            kinds = dict.fromkeys(outputs.columns, FeatureKind.NUMERIC)
            return detect.summarize(outputs, kinds, key)

        summary = summaries(key, build)
        report = detect.detect(summary, model_outputs(model, live), prediction_config(cfg), seed)
    except DriftdError as exc:
        return (unavailable(PREDICTION, "outputs", str(exc)),)
    return tuple(replace(f, feature=f"{PREDICTION}:{f.feature}") for f in report.features)


def multivariate(
    reference: pd.DataFrame,
    live: pd.DataFrame,
    categorical: Sequence[str],
    cfg: DriftConfig,
    seed: int = 0,
) -> FeatureDrift:
    """The reference-vs-live classifier as one row: p-value, held-out AUC, separating features."""
    fewest = min(len(reference), len(live))
    if fewest < cfg.min_samples:
        side = "live" if len(live) <= len(reference) else "reference"
        why = f"{fewest} {side} rows < min_samples {cfg.min_samples}"
        return unavailable(MULTIVARIATE, "classifier", why, FeatureState.INSUFFICIENT)
    try:
        result = separability(
            reference,
            live,
            categorical,
            max_rows=cfg.multivariate_max_rows,
            seed=seed,
            explain_above=cfg.multivariate_auc,
        )
    except DriftdError as exc:
        return unavailable(MULTIVARIATE, "classifier", str(exc))
    significant = result.p_value <= cfg.alpha
    material = result.auc >= cfg.multivariate_auc
    size = f"AUC {result.auc:.3f} {'≥' if material else '<'} {cfg.multivariate_auc:g}"
    test = f"p={result.p_value:.2g} {'≤' if significant else '>'} {cfg.alpha:g}"
    notes = [f"{test} and {size}" if significant else f"not significant ({test}); {size}"]
    if result.importances:
        top = ", ".join(f"{name} ({lost:.3f})" for name, lost in result.importances[:_SHOWN])
        notes.append(f"separated most by {top}")
    return FeatureDrift(
        feature=f"{MULTIVARIATE}:classifier",
        kind=FeatureKind.NUMERIC,
        state=FeatureState.DRIFT if significant and material else FeatureState.OK,
        test="auc_mann_whitney",
        statistic=result.auc,
        p_value=result.p_value,
        p_adjusted=result.p_value,
        effect_name="auc",
        effect=result.auc,
        threshold=cfg.multivariate_auc,
        n_ref=result.n_ref,
        n_live=result.n_live,
        missing_ref=0.0,
        missing_live=0.0,
        detail="; ".join(notes),
    )


def performance(
    model: Any,
    labelled: pd.DataFrame,
    features: Sequence[str],
    target: str,
    *,
    scorer: str,
    baseline: float | None,
    min_rows: int,
    max_drop: float,
) -> tuple[policy.Performance, FeatureDrift]:
    """The champion's ``scorer`` on the labelled rows, for policy and as a report row."""
    perf = policy.Performance(scorer, max_drop, min_rows, len(labelled), baseline)
    if len(labelled) >= min_rows and baseline is not None:
        try:
            value = evaluate.score(model, labelled[list(features)], labelled[target], [scorer])
            perf = replace(perf, current=value[scorer])
        except DriftdError as exc:
            perf = replace(perf, problem=str(exc).splitlines()[0])
    row = FeatureDrift(
        feature=f"{PERFORMANCE}:{scorer}",
        kind=FeatureKind.NUMERIC,
        state=perf.state,
        test="realised",
        statistic=perf.current,
        p_value=None,
        p_adjusted=None,
        effect_name="drop",
        effect=perf.drop,
        threshold=max_drop,
        n_ref=0,
        n_live=len(labelled),
        missing_ref=0.0,
        missing_live=0.0,
        detail=perf.reason,
    )
    return perf, row


def estimated_performance(
    model: ModelConfig, inputs: Inputs, champion: Any, estimators: EstimatorGetter
) -> tuple[tuple[FeatureDrift, ...], policy.EstimatedPerformance | None]:
    """The champion's estimated metrics on the live window, primary first, for policy as well.

    The estimator is fitted once per champion on its holdout. A refitted champion trained on its
    holdout rows, where its scores are over-confident; the candidate evaluated there (same spec
    and seed, ``inputs.reference_model``) is estimated instead, as the stand-in whose drop
    tracks the champion's.
    """
    holdout, target = inputs.holdout, model.data.target
    assert holdout is not None
    least = model.promotion.min_holdout

    def build() -> Fitted:
        try:
            frame = holdout()
            if frame is None:
                why = "the champion has no holdout rows to calibrate on"
                return unavailable(ESTIMATED, "performance", why, FeatureState.INSUFFICIENT)
            frame = frame[frame[target].notna()] if target in frame.columns else frame[:0]
            if len(frame) < least:
                why = f"{len(frame):,} labelled holdout rows < promotion.min_holdout {least}"
                return unavailable(ESTIMATED, "performance", why, FeatureState.INSUFFICIENT)
            scored = inputs.reference_model() if inputs.reference_model else champion
            return estimate.fit_estimator(scored, frame[list(inputs.live.columns)], frame[target])
        except DriftdError as exc:
            return unavailable(ESTIMATED, "performance", f"cannot estimate: {exc}")

    fitted = estimators(f"{ESTIMATED}:{inputs.champion_key}", build)
    if isinstance(fitted, FeatureDrift):
        return (fitted,), None
    if len(inputs.live) < model.drift.min_samples:
        why = f"{len(inputs.live)} live rows < min_samples {model.drift.min_samples}"
        return (unavailable(ESTIMATED, "performance", why, FeatureState.INSUFFICIENT),), None
    try:
        found = estimate.estimate(fitted, inputs.live)
    except DriftdError as exc:
        return (unavailable(ESTIMATED, "performance", f"cannot estimate: {exc}"),), None
    e, limit = found[0], model.policy.estimated_drop
    verdict = policy.EstimatedPerformance(
        e.metric, e.value, e.low, e.high, e.reference_value, e.n_rows, limit, not e.higher_is_better
    )
    rows = [_estimate_row(f, fitted.n_holdout, verdict if f is e else None) for f in found]
    return tuple(rows), verdict


def _estimate_row(
    e: estimate.Estimate, n_holdout: int, verdict: policy.EstimatedPerformance | None
) -> FeatureDrift:
    detail = verdict.reason.removeprefix("estimated ") if verdict is not None else e.text()
    return FeatureDrift(
        feature=f"{ESTIMATED}:{e.metric}",
        kind=FeatureKind.NUMERIC,
        state=FeatureState.DRIFT if verdict is not None and verdict.breached else FeatureState.OK,
        test=e.method,
        statistic=e.reference_value,
        p_value=None,
        p_adjusted=None,
        effect_name=e.metric,
        effect=e.value,
        threshold=verdict.max_drop if verdict is not None else None,
        n_ref=n_holdout,
        n_live=e.n_rows,
        missing_ref=0.0,
        missing_live=0.0,
        detail=detail,
    )


def unavailable(
    which: str, name: str, why: str, state: FeatureState = FeatureState.INVALID
) -> FeatureDrift:
    """A row for a check that could not run: ``invalid`` (or ``insufficient_data``) and why.

    >>> unavailable("prediction", "outputs", "no predict method").state
    <FeatureState.INVALID: 'invalid'>
    """
    return FeatureDrift(
        feature=f"{which}:{name}",
        kind=FeatureKind.NUMERIC,
        state=state,
        test="",
        statistic=None,
        p_value=None,
        p_adjusted=None,
        effect_name="",
        effect=None,
        threshold=None,
        n_ref=0,
        n_live=0,
        missing_ref=0.0,
        missing_live=0.0,
        detail=(why.splitlines() or [""])[0],
    )
