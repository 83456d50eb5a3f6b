"""Pure decisions: should we retrain now, and should a candidate replace the champion.

Nothing here reads a clock, a file or a database; the cycle passes in what happened, so every
rule is testable with plain values and every decision comes with a one-line reason.

>>> should_retrain(History(breaches=(True, True, False)), PolicyInputs.quiet(k=2, n=3)).retrain
True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from driftd.config import PolicyConfig, PromotionConfig
from driftd.domain import Action, Decision, Evaluation, RetrainDecision


@dataclass(frozen=True, slots=True)
class History:
    """What the registry knows that the retrain rule needs."""

    breaches: tuple[bool, ...] = ()  # newest first, including the check just made
    has_champion: bool = True
    champion_since: datetime | None = None
    retrain_times: tuple[datetime, ...] = ()  # trainings started in the last day, any outcome


@dataclass(frozen=True, slots=True)
class PolicyInputs:
    k: int
    n: int
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    now: datetime | None = None

    @classmethod
    def quiet(cls, k: int = 2, n: int = 3) -> PolicyInputs:
        """Hysteresis only: no cool-down, no cap, no age limit (for examples and tests)."""
        return cls(k, n, PolicyConfig(cooldown=timedelta(0), max_retrains_per_day=10**6))


def should_retrain(history: History, inputs: PolicyInputs) -> RetrainDecision:
    """K-of-N hysteresis, then cool-down and daily cap; a missing or too-old champion forces it.

    >>> inputs = PolicyInputs.quiet(k=2, n=3)
    >>> should_retrain(History(breaches=(True, False, False)), inputs).reason
    'drift in 1 of the last 3 checks (needs 2)'
    >>> should_retrain(History(has_champion=False), inputs).trigger
    'no_champion'
    """
    if not history.has_champion:
        return RetrainDecision(True, "no champion yet: training the first model", "no_champion")
    recent = history.breaches[: inputs.n]
    hits = sum(recent)
    trigger, reason = "", ""
    if hits >= inputs.k:
        trigger = "drift"
        reason = f"drift in {hits} of the last {len(recent)} checks (>= {inputs.k})"
    policy = inputs.policy
    if not trigger and policy.max_age is not None and history.champion_since and inputs.now:
        age = inputs.now - history.champion_since
        if age >= policy.max_age:
            trigger = "max_age"
            reason = f"champion is {_days(age)} old (max_age {_days(policy.max_age)})"
    if not trigger:
        return RetrainDecision(
            False, f"drift in {hits} of the last {len(recent)} checks (needs {inputs.k})"
        )
    blocked = _rate_limit(history.retrain_times, policy, inputs.now)
    if blocked:
        return RetrainDecision(False, f"{reason}, but {blocked}", trigger)
    return RetrainDecision(True, reason, trigger)


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
