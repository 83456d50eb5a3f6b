"""Champion versus candidate on identical holdout rows: one MetricComparison per metric.

For each scikit-learn metric (oriented by its scorer so that higher is better):

- both models' outputs are computed once; a paired bootstrap of ``candidate - champion`` over
  ``cfg.bootstrap`` resamples of row indices (seeded) gives a two-sided percentile interval at
  ``cfg.confidence``; with the holdout's ``timestamps`` the resamples draw whole days
  (:func:`driftd.evaluate.bootstrap.day_blocks`), because rows of one day share their errors;
- the primary metric passes when the interval's lower bound exceeds ``min_improvement``
  (superiority); a guardrail passes when the lower bound is at least ``-margin``
  (non-inferiority);
- the p-value tests "no difference": McNemar's exact test for ``accuracy``, DeLong's test for
  binary ``roc_auc``, otherwise the bootstrap's own two-sided p-value. It is reported, never used
  for the decision, which rests on the interval alone.

``latency_ms_per_1k`` and ``model_size_bytes`` are measured, not resampled: the candidate passes
when its value is at most the champion's times ``1 + margin`` (the margin is a relative
fraction), and the row's interval is the point difference.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import numpy as np

from driftd.config import PromotionConfig
from driftd.domain import Evaluation, MetricComparison
from driftd.errors import EvaluationError, StatsError
from driftd.evaluate.bootstrap import (
    Blocks,
    bootstrap_p_value,
    day_blocks,
    differences_by_call,
    differences_by_chunk,
    few_blocks_scale,
    percentile_interval,
)
from driftd.evaluate.fast import fast_metric
from driftd.evaluate.scoring import (
    LATENCY,
    SIZE,
    CachedModel,
    check_holdout,
    full_score,
    get_scorer,
    pickled_size,
    resample_value,
)
from driftd.stats.paired import delong, mcnemar

if TYPE_CHECKING:
    import pandas as pd

MIN_VALID_SHARE = 0.9  # fewer scorable resamples than this: the interval would be biased
LATENCY_REPEATS = 3


def day_times(frame: Any, column: str | None) -> np.ndarray | None:
    """``frame[column]`` as naive UTC ``datetime64[ns]``, what :func:`compare` takes as
    ``timestamps`` to resample whole days; None (resample rows) without that column.
    Unparseable values become NaT, which :func:`~driftd.evaluate.bootstrap.day_blocks` turns
    into a row bootstrap."""
    if column is None or column not in frame.columns:
        return None
    import pandas as pd

    times = pd.to_datetime(frame[column], utc=True, errors="coerce")
    naive: np.ndarray = times.dt.tz_localize(None).to_numpy(dtype="datetime64[ns]")
    return naive


def compare(
    champion: Any,
    candidate: Any,
    x: pd.DataFrame,
    y: Any,
    cfg: PromotionConfig,
    *,
    seed: int = 0,
    champion_size: int | None = None,
    candidate_size: int | None = None,
    timestamps: np.ndarray | None = None,
) -> Evaluation:
    """Score both models on the same rows and compare them metric by metric.

    ``n_holdout < cfg.min_holdout`` is left to policy; EvaluationError is raised only when a
    metric cannot be computed at all (a model fails to predict, one class only for roc_auc).
    Model sizes default to each model's pickled size in memory when not both given.
    ``timestamps`` (one per holdout row) make the bootstrap resample days instead of rows.
    """
    y = check_holdout(x, y)
    blocks = day_blocks(timestamps)
    champ = CachedModel(champion, x, "champion")
    cand = CachedModel(candidate, x, "candidate")
    wanted = [(cfg.scorer, "primary", cfg.min_improvement)]
    wanted += [(name, "guardrail", margin) for name, margin in cfg.guardrails.items()]
    rows: list[MetricComparison] = []
    for name, role, margin in wanted:
        if name == LATENCY:
            a, c = _latencies(champion, candidate, x)
            rows.append(_point_row(name, role, margin, a, c))
        elif name == SIZE:
            if champion_size is None or candidate_size is None:
                champion_size, candidate_size = pickled_size(champion), pickled_size(candidate)
            rows.append(_point_row(name, role, margin, float(champion_size), float(candidate_size)))
        else:
            rows.append(
                _metric_row(
                    name,
                    role,
                    margin,
                    champ=champ,
                    cand=cand,
                    y=y,
                    cfg=cfg,
                    seed=seed,
                    blocks=blocks,
                )
            )
    return Evaluation(
        n_holdout=len(y),
        confidence=cfg.confidence,
        comparisons=tuple(rows),
        candidate_metrics={r.metric: r.candidate for r in rows},
        champion_metrics={r.metric: r.champion for r in rows},
    )


def _metric_row(
    name: str,
    role: str,
    margin: float,
    *,
    champ: CachedModel,
    cand: CachedModel,
    y: np.ndarray,
    cfg: PromotionConfig,
    seed: int,
    blocks: Blocks | None,
) -> MetricComparison:
    scorer = get_scorer(name)
    a = full_score(name, scorer, champ, y)
    c = full_score(name, scorer, cand, y)
    fast_a, fast_c = fast_metric(name, champ, y), fast_metric(name, cand, y)
    everything = np.arange(len(y))[None, :]
    if (
        fast_a is not None
        and fast_c is not None
        and _same(float(fast_a(everything)[0]), a)
        and _same(float(fast_c(everything)[0]), c)
    ):
        diffs = differences_by_chunk(fast_a, fast_c, len(y), cfg.bootstrap, seed, blocks)
    else:

        def both(rows: np.ndarray) -> tuple[float, float]:
            return resample_value(scorer, champ, rows, y), resample_value(scorer, cand, rows, y)

        diffs = differences_by_call(both, len(y), cfg.bootstrap, seed, blocks)
    if blocks is not None:  # the percentile interval of few days is too narrow: widen it
        diffs = (c - a) + (diffs - (c - a)) * few_blocks_scale(len(blocks), cfg.confidence)
    p_value: float | None = bootstrap_p_value(diffs)
    method = "paired_bootstrap" if blocks is None else "paired_day_bootstrap"
    if name == "accuracy":
        hit_a = champ.outputs("predict") == y
        hit_c = cand.outputs("predict") == y
        p_value = mcnemar(int(np.sum(hit_a & ~hit_c)), int(np.sum(~hit_a & hit_c)))
        method += "+mcnemar"
    elif name == "roc_auc":
        p = _delong_p(champ, cand, y, a, c)
        if p is not None:
            p_value, method = p, method + "+delong"
    valid = int(np.sum(np.isfinite(diffs)))
    if valid < MIN_VALID_SHARE * cfg.bootstrap:
        raise EvaluationError(
            f"{name}: only {valid} of {cfg.bootstrap} bootstrap resamples could be scored "
            f"(a class too rare in {len(y)} holdout rows?)"
        )
    low, high = percentile_interval(diffs, cfg.confidence)
    passed = low > margin if role == "primary" else low >= -margin
    return MetricComparison(
        metric=name,
        role=role,
        champion=a,
        candidate=c,
        difference=c - a,
        ci_low=low,
        ci_high=high,
        p_value=p_value,
        margin=margin,
        passed=bool(passed),
        method=method,
    )


def _same(fast: float, scorer: float) -> bool:
    return abs(fast - scorer) <= 1e-9 * max(1.0, abs(scorer))


def _delong_p(
    champ: CachedModel, cand: CachedModel, y: np.ndarray, auc_a: float, auc_c: float
) -> float | None:
    """DeLong's p-value when it applies (binary labels) and reproduces both scorer AUCs."""
    classes = np.unique(y)
    if len(classes) != 2:
        return None
    try:
        result = delong(y == classes[1], _binary_score(champ), _binary_score(cand))
    except (StatsError, EvaluationError, IndexError, ValueError):
        return None
    if abs(result.auc_a - auc_a) > 1e-9 or abs(result.auc_b - auc_c) > 1e-9:
        return None  # the scorer used other outputs than we assumed: do not mix the two
    return result.p_value


def _binary_score(cached: CachedModel) -> np.ndarray:
    # The roc_auc scorer's own order: decision_function first, then predict_proba's last column.
    if cached.has("decision_function"):
        out = cached.outputs("decision_function")
        if out.ndim == 1:
            return out
    return cached.outputs("predict_proba")[:, -1]


def _latencies(champion: Any, candidate: Any, x: pd.DataFrame) -> tuple[float, float]:
    """Best-of-N ms per 1000 rows for ``predict``, interleaved so that load affects both alike."""
    best = {"champion": float("inf"), "candidate": float("inf")}
    for _ in range(LATENCY_REPEATS):
        for who, model in (("champion", champion), ("candidate", candidate)):
            started = time.perf_counter()
            try:
                model.predict(x)
            except Exception as exc:
                raise EvaluationError(
                    f"the {who} failed in predict on the holdout: {type(exc).__name__}: {exc}"
                ) from None
            best[who] = min(best[who], time.perf_counter() - started)
    per_1k = 1e6 / max(len(x), 1)
    return best["champion"] * per_1k, best["candidate"] * per_1k


def _point_row(
    name: str, role: str, margin: float, champion: float, candidate: float
) -> MetricComparison:
    """Lower is better: the candidate may be at most ``margin`` (a fraction) above the champion."""
    difference = champion - candidate  # positive = the candidate is faster / smaller
    return MetricComparison(
        metric=name,
        role=role,
        champion=champion,
        candidate=candidate,
        difference=difference,
        ci_low=difference,
        ci_high=difference,
        p_value=None,
        margin=margin,
        passed=bool(candidate <= champion * (1.0 + margin)),
        method="point_relative",
    )
