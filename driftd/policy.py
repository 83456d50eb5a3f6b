"""Pure decisions: should we retrain now, and should a candidate replace the champion.

Nothing here reads a clock, a file or a database; the cycle passes in what happened, so every
rule is testable with plain values and every decision comes with a one-line reason.

Retrain triggers, in priority order (the first that fires names the retrain; the others that
also fired are listed after it in the reason):

1. ``no_champion``: there is nothing to serve yet; after a failed first training the
   cool-down and the daily cap apply, so a broken training does not retry every cycle.
2. ``performance``: the champion's metric on labelled live rows fell more than
   ``Performance.max_drop`` below its recorded holdout value: ``policy.performance_drop``, or
   the larger normal window-to-window movement of that metric where the cycle could learn it
   (:func:`driftd.cycle.checks.realised_spread`). Fires on one measurement: it is the harm
   itself, not a symptom, and ``min_holdout`` rows bound its noise.
3. ``estimated_performance``: the champion's estimated primary metric on the live window
   (accuracy by CBPE, MAE by DLE, :mod:`driftd.estimate`; no labels needed) is worse than its
   realised holdout value by more than ``policy.estimated_drop`` (accuracy: absolute drop; MAE:
   relative rise), and the estimate's 95 % band excludes the holdout value. One measurement,
   like ``performance``: the band already carries the window's noise.
4. ``drift``: the dataset verdict breached in K of the last N checks.
5. ``prediction_drift``: the champion's outputs drifted in K of the last N checks.
6. ``multivariate``: the reference-vs-live classifier breached in K of the last N checks.
7. ``max_age``: the champion is older than ``policy.max_age``.

Triggers 2-7 then pass the cool-down and the daily cap.

>>> should_retrain(History(breaches=(True, True, False)), PolicyInputs.quiet(k=2, n=3)).retrain
True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from driftd.config import PolicyConfig, PromotionConfig
from driftd.domain import Action, Decision, Evaluation, FeatureState, RetrainDecision


@dataclass(frozen=True, slots=True)
class Performance:
    """The champion's primary metric on labelled live rows, next to its recorded holdout value.

    ``current`` is None when it could not be measured: too few labelled rows (``n_rows <
    min_rows``) or a ``problem`` (say, one class only in the window). Metrics are scikit-learn
    scorer values, so higher is better and ``drop = baseline - current``.

    >>> p = Performance("roc_auc", max_drop=0.05, min_rows=200, n_rows=1234,
    ...                 baseline=0.81, current=0.72)
    >>> p.breached, p.reason
    (True, 'roc_auc 0.81 -> 0.72 on 1,234 labelled rows (drop 0.09 > 0.05)')
    >>> Performance("roc_auc", 0.05, 200, n_rows=12, baseline=0.81).reason
    'insufficient labels: 12 labelled rows < min_holdout 200'
    """

    metric: str
    max_drop: float
    min_rows: int
    n_rows: int
    baseline: float | None = None
    current: float | None = None
    problem: str = ""

    @property
    def drop(self) -> float | None:
        if self.baseline is None or self.current is None:
            return None
        return self.baseline - self.current

    @property
    def state(self) -> FeatureState:
        if self.n_rows < self.min_rows:
            return FeatureState.INSUFFICIENT
        drop = self.drop
        if drop is None:
            return FeatureState.INVALID
        return FeatureState.DRIFT if drop > self.max_drop else FeatureState.OK

    @property
    def breached(self) -> bool:
        return self.state is FeatureState.DRIFT

    @property
    def reason(self) -> str:
        if self.n_rows < self.min_rows:
            return (
                f"insufficient labels: {self.n_rows:,} labelled rows < min_holdout {self.min_rows}"
            )
        if self.problem:
            return f"{self.metric} not measured: {self.problem}"
        if self.baseline is None:
            return f"the champion has no recorded holdout {self.metric}: nothing to compare with"
        if self.current is None or self.drop is None:
            return f"{self.metric} not measured"
        sign = ">" if self.breached else "≤"
        return (
            f"{self.metric} {self.baseline:.3g} -> {self.current:.3g} on {self.n_rows:,} "
            f"labelled rows (drop {self.drop:.3g} {sign} {self.max_drop:.3g})"
        )


@dataclass(frozen=True, slots=True)
class EstimatedPerformance:
    """The champion's primary metric estimated on the unlabelled live window, with its band.

    ``relative`` is True for error metrics (lower is better): the change is then the relative
    rise over the holdout value, else the absolute drop. It breaches when the change exceeds
    ``max_drop`` *and* the band excludes the holdout value; ``max_drop`` None: reported only.

    >>> e = EstimatedPerformance("accuracy", 0.84, 0.82, 0.86, 0.91, 1500, max_drop=0.05)
    >>> e.breached, e.reason.partition("(95% ")[2]
    (True, 'band 0.82..0.86) on 1,500 unlabelled rows (drop 0.07 > 0.05)')
    >>> EstimatedPerformance("mae", 3.3, 2.9, 3.7, 3.0, 800, 0.2, relative=True).reason
    'estimated mae 3 -> 3.3 (95% band 2.9..3.7) on 800 unlabelled rows (rise 10% ≤ 20%)'
    """

    metric: str
    value: float
    low: float
    high: float
    reference: float  # the champion's realised value on its holdout
    n_rows: int
    max_drop: float | None = None
    relative: bool = False

    @property
    def change(self) -> float:
        if not self.relative:
            return self.reference - self.value
        if self.reference <= 0:
            return 0.0 if self.value <= 0 else float("inf")
        return (self.value - self.reference) / self.reference

    @property
    def breached(self) -> bool:
        if self.max_drop is None or not self.change > self.max_drop:
            return False
        return self.low > self.reference if self.relative else self.high < self.reference

    @property
    def reason(self) -> str:
        said = (
            f"estimated {self.metric} {self.reference:.4g} -> {self.value:.4g} "
            f"(95% band {self.low:.4g}..{self.high:.4g}) on {self.n_rows:,} unlabelled rows"
        )
        if self.max_drop is None:
            return said
        word = "rise" if self.relative else "drop"
        change = f"{self.change:.0%}" if self.relative else f"{self.change:.3g}"
        limit = f"{self.max_drop:.0%}" if self.relative else f"{self.max_drop:g}"
        if self.breached:
            return f"{said} ({word} {change} > {limit})"
        if self.change > self.max_drop:
            return f"{said} ({word} {change} > {limit}, but the band reaches the holdout value)"
        return f"{said} ({word} {change} ≤ {limit})"


@dataclass(frozen=True, slots=True)
class History:
    """What the registry and the current check know that the retrain rule needs.

    Each ``*breaches`` tuple is newest first and includes the check just made; an empty tuple
    means the signal is not monitored (it is then left out of the reason).
    """

    breaches: tuple[bool, ...] = ()  # dataset drift verdicts
    has_champion: bool = True
    champion_since: datetime | None = None
    retrain_times: tuple[datetime, ...] = ()  # trainings started in the last day, any outcome
    prediction_breaches: tuple[bool, ...] = ()
    multivariate_breaches: tuple[bool, ...] = ()
    performance: Performance | None = None  # None: policy.performance_drop is off
    estimated: EstimatedPerformance | None = None  # None: no estimate this check
    unpaid: int = 0  # evaluated candidates in a row, newest first, that lost on evidence
    last_training: datetime | None = None  # logical time of the newest of them


@dataclass(frozen=True, slots=True)
class PolicyInputs:
    k: int
    n: int
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    now: datetime | None = None
    window: timedelta | None = None  # the live window: the unit of the back-off

    @classmethod
    def quiet(cls, k: int = 2, n: int = 3) -> PolicyInputs:
        """Hysteresis only: no cool-down, no cap, no age limit (for examples and tests)."""
        return cls(k, n, PolicyConfig(cooldown=timedelta(0), max_retrains_per_day=10**6))


# The K-of-N signals: trigger name, History field, the words used in reasons.
_HYSTERESIS = (
    ("drift", "breaches", "drift"),
    ("prediction_drift", "prediction_breaches", "prediction drift"),
    ("multivariate", "multivariate_breaches", "multivariate drift"),
)


def should_retrain(history: History, inputs: PolicyInputs) -> RetrainDecision:
    """The first trigger that fires, in the module's priority order, then cool-down and cap.

    >>> inputs = PolicyInputs.quiet(k=2, n=3)
    >>> should_retrain(History(breaches=(True, False, False)), inputs).reason
    'drift in 1 of the last 3 checks (needs 2)'
    >>> should_retrain(History(has_champion=False), inputs).trigger
    'no_champion'
    >>> d = should_retrain(History(breaches=(True, True), prediction_breaches=(True, True)), inputs)
    >>> d.trigger, d.reason
    ('drift', 'drift in 2 of the last 2 checks (>= 2) (also prediction_drift)')
    """
    if not history.has_champion:
        # Any training in the history failed (else there would be a champion): the cool-down
        # and the cap keep a broken first training from retrying every cycle.
        reason = "no champion yet: training the first model"
        blocked = _rate_limit(history.retrain_times, inputs.policy, inputs.now)
        if blocked:
            return RetrainDecision(False, f"{reason}, but {blocked}", "no_champion")
        return RetrainDecision(True, reason, "no_champion")
    fired: list[tuple[str, str]] = []
    perf = history.performance
    if perf is not None and perf.breached:
        fired.append(("performance", perf.reason))
    estimated = history.estimated
    if estimated is not None and estimated.breached:
        fired.append(("estimated_performance", estimated.reason))
    counts: list[str] = []
    for trigger, attr, words in _HYSTERESIS:
        recent: tuple[bool, ...] = getattr(history, attr)[: inputs.n]
        if attr != "breaches" and not recent:
            continue  # not monitored
        hits = sum(recent)
        counts.append(
            f"{words} in {hits} of "
            + (f"{len(recent)}" if counts else f"the last {len(recent)} checks")
        )
        if hits >= inputs.k:
            fired.append(
                (trigger, f"{words} in {hits} of the last {len(recent)} checks (>= {inputs.k})")
            )
    policy = inputs.policy
    if policy.max_age is not None and history.champion_since and inputs.now:
        age = inputs.now - history.champion_since
        if age >= policy.max_age:
            fired.append(
                ("max_age", f"champion is {_days(age)} old (max_age {_days(policy.max_age)})")
            )
    if not fired:
        reason = f"{', '.join(counts)} (needs {inputs.k})"
        if perf is not None:
            reason += f"; {perf.reason}"
        if estimated is not None and estimated.max_drop is not None:
            reason += f"; {estimated.reason}"
        return RetrainDecision(False, reason)
    trigger, reason = fired[0]
    if len(fired) > 1:
        reason += f" (also {', '.join(t for t, _ in fired[1:])})"
    blocked = _rate_limit(history.retrain_times, policy, inputs.now)
    if blocked is None and trigger != "max_age":
        blocked = _backoff(history, inputs)
    if blocked:
        return RetrainDecision(False, f"{reason}, but {blocked}", trigger)
    return RetrainDecision(True, reason, trigger)


BACKOFF_CAP = 32  # windows: the longest wait, so that a changed situation is retried


def _backoff(history: History, inputs: PolicyInputs) -> str | None:
    """Why retraining waits: after ``unpaid`` candidates in a row that lost on evidence, the
    next one waits 2**unpaid live windows after the last (at most ``BACKOFF_CAP``). Retraining
    that keeps losing on evidence does not pay; a promotion resets the count.

    >>> from dataclasses import replace
    >>> from datetime import UTC
    >>> t = datetime(2026, 1, 10, tzinfo=UTC)
    >>> h = History(unpaid=2, last_training=t)
    >>> i = PolicyInputs(2, 3, now=t + timedelta(days=3), window=timedelta(days=1))
    >>> _backoff(h, i)
    'backing off: the last 2 trainings promoted nothing; next retrain from 2026-01-14T00:00Z'
    >>> _backoff(h, replace(i, now=t + timedelta(days=4))) is None
    True
    """
    if not inputs.policy.backoff or history.unpaid < 1 or inputs.window is None:
        return None
    if history.last_training is None or inputs.now is None:
        return None
    wait = inputs.window * min(2**history.unpaid, BACKOFF_CAP)
    ready = history.last_training + wait
    if inputs.now >= ready:
        return None
    plural = "s" if history.unpaid > 1 else ""
    return (
        f"backing off: the last {history.unpaid} training{plural} promoted nothing; "
        f"next retrain from {ready:%Y-%m-%dT%H:%MZ}"
    )


def _rate_limit(
    times: Sequence[datetime], policy: PolicyConfig, now: datetime | None
) -> str | None:
    if now is None or not times:
        return None
    last = max(times)
    if now - last < policy.cooldown:
        wait = policy.cooldown - (now - last)
        return f"cooling down after the last retrain ({_minutes(wait)} left)"
    day = [t for t in times if now - t < timedelta(days=1)]
    if len(day) >= policy.max_retrains_per_day:
        return (
            f"retrain cap reached ({len(day)} in the last 24h, max {policy.max_retrains_per_day})"
        )
    return None


def decide_promotion(evaluation: Evaluation | None, cfg: PromotionConfig) -> Decision:
    """Promote only when the primary metric's interval clears the margin and no guardrail fails.

    ``evaluation`` is None when there is no champion yet: the first model is promoted as the
    bootstrap decision.
    """
    if evaluation is None:
        return Decision(Action.BOOTSTRAP, "first model for this name: promoted as the bootstrap")
    primary = evaluation.primary
    if evaluation.n_holdout < cfg.min_holdout or primary is None:
        return Decision(
            Action.INCONCLUSIVE,
            f"holdout has {evaluation.n_holdout} rows, below min_holdout {cfg.min_holdout}: "
            "keeping the champion",
        )
    pct = round(evaluation.confidence * 100)
    interval = (
        f"{primary.metric} {primary.champion:.4f} -> {primary.candidate:.4f}, "
        f"diff {primary.difference:+.4f} ({pct}% CI {primary.ci_low:+.4f}..{primary.ci_high:+.4f})"
    )
    failed = [c for c in evaluation.comparisons if c.role == "guardrail" and not c.passed]
    if not primary.passed:
        return Decision(
            Action.REJECT,
            f"{interval}: lower bound not above min_improvement {cfg.min_improvement:g}",
        )
    if failed:
        names = ", ".join(f"{c.metric} ({c.difference:+.4g}, margin {c.margin:g})" for c in failed)
        return Decision(Action.REJECT, f"{interval}, but guardrail failed: {names}")
    if cfg.mode == "dry-run":
        return Decision(Action.WOULD_PROMOTE, f"dry-run: would promote; {interval}")
    if cfg.mode == "manual":
        return Decision(Action.AWAITING_APPROVAL, f"awaiting approval; {interval}")
    return Decision(Action.PROMOTE, f"{interval} > {cfg.min_improvement:g}")


def _days(delta: timedelta) -> str:
    days = delta.total_seconds() / 86400
    return f"{days:.1f}d"


def _minutes(delta: timedelta) -> str:
    return f"{max(0, int(delta.total_seconds() // 60))}m"
