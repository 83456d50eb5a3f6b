"""The retrain rule: its triggers, their priority, hysteresis, rate limits and one-line reasons."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from driftd.config import PolicyConfig
from driftd.domain import FeatureState
from driftd.policy import History, Performance, PolicyInputs, should_retrain

NOW = datetime(2026, 1, 10, tzinfo=UTC)
QUIET = PolicyInputs.quiet(k=2, n=3)


def _perf(current: float | None = 0.72, n_rows: int = 1234, problem: str = "") -> Performance:
    return Performance(
        "roc_auc", 0.05, 200, n_rows, baseline=0.81, current=current, problem=problem
    )


def test_performance_reason_matches_the_documented_format() -> None:
    """A drop beyond the limit: 'metric old -> new on N labelled rows (drop d > limit)'."""
    perf = _perf()
    assert perf.breached and perf.state is FeatureState.DRIFT
    assert perf.reason == "roc_auc 0.81 -> 0.72 on 1,234 labelled rows (drop 0.09 > 0.05)"


def test_performance_states_when_it_cannot_compare() -> None:
    """Too few labels, no recorded baseline, or an unmeasurable metric never breach."""
    few = _perf(current=None, n_rows=12)
    assert few.state is FeatureState.INSUFFICIENT and not few.breached
    assert few.reason == "insufficient labels: 12 labelled rows < min_holdout 200"
    no_base = Performance("roc_auc", 0.05, 200, n_rows=500)
    assert no_base.state is FeatureState.INVALID
    assert "no recorded holdout roc_auc" in no_base.reason
    broken = _perf(current=None, problem="one class only")
    assert broken.state is FeatureState.INVALID and "one class only" in broken.reason


def test_a_drop_within_the_limit_or_an_improvement_is_ok() -> None:
    """drop <= performance_drop is not a breach, and the reason says so."""
    assert _perf(current=0.78).state is FeatureState.OK
    assert "≤ 0.05" in _perf(current=0.78).reason
    assert not _perf(current=0.95).breached  # a negative drop


@pytest.mark.parametrize(
    ("history", "trigger"),
    [
        (History(breaches=(True, True)), "drift"),
        (History(prediction_breaches=(True, False, True)), "prediction_drift"),
        (History(multivariate_breaches=(True, True, True)), "multivariate"),
        (History(performance=_perf()), "performance"),
    ],
)
def test_each_trigger_fires_alone(history: History, trigger: str) -> None:
    """Every trigger retrains on its own, and names itself."""
    decision = should_retrain(history, QUIET)
    assert decision.retrain and decision.trigger == trigger


def test_priority_order_and_the_others_are_listed() -> None:
    """performance > drift > prediction_drift > multivariate > max_age; the rest in '(also ...)'."""
    cfg = PolicyConfig(cooldown=timedelta(0), max_retrains_per_day=99, max_age=timedelta(days=1))
    inputs = PolicyInputs(2, 3, cfg, NOW)
    every = History(
        breaches=(True, True),
        prediction_breaches=(True, True),
        multivariate_breaches=(True, True),
        performance=_perf(),
        champion_since=NOW - timedelta(days=2),
    )
    decision = should_retrain(every, inputs)
    assert decision.trigger == "performance"
    assert decision.reason.endswith("(also drift, prediction_drift, multivariate, max_age)")
    assert "\n" not in decision.reason
    fewer = History(prediction_breaches=(True, True), champion_since=NOW - timedelta(days=2))
    decision = should_retrain(fewer, inputs)
    assert decision.trigger == "prediction_drift"
    assert decision.reason == "prediction drift in 2 of the last 2 checks (>= 2) (also max_age)"


def test_hysteresis_applies_to_prediction_and_multivariate_drift() -> None:
    """One breach among the last N is not enough for any K-of-N signal; old breaches age out."""
    history = History(
        breaches=(False, False, False),
        prediction_breaches=(True, False, False, True),  # the fourth is outside N = 3
        multivariate_breaches=(False, True, False),
    )
    decision = should_retrain(history, QUIET)
    assert not decision.retrain
    assert decision.reason == (
        "drift in 0 of the last 3 checks, prediction drift in 1 of 3, "
        "multivariate drift in 1 of 3 (needs 2)"
    )


def test_quiet_reason_mentions_performance_when_monitored() -> None:
    """With the performance check on, the no-retrain reason ends with its measurement."""
    decision = should_retrain(History(breaches=(False,), performance=_perf(0.8)), QUIET)
    assert not decision.retrain
    assert decision.reason.endswith(
        "; roc_auc 0.81 -> 0.8 on 1,234 labelled rows (drop 0.01 ≤ 0.05)"
    )


def test_cooldown_and_cap_hold_back_every_trigger() -> None:
    """A performance drop waits for the cool-down like drift; so does a first training after
    a failed one (a broken training must not retry every cycle), but not the very first."""
    cfg = PolicyConfig(cooldown=timedelta(hours=6), max_retrains_per_day=4)
    inputs = PolicyInputs(2, 3, cfg, NOW)
    recent = (NOW - timedelta(hours=1),)
    decision = should_retrain(History(performance=_perf(), retrain_times=recent), inputs)
    assert not decision.retrain and decision.trigger == "performance"
    assert "cooling down after the last retrain (300m left)" in decision.reason
    capped = History(
        breaches=(True, True), retrain_times=tuple(NOW - timedelta(hours=h) for h in (7, 8, 9, 10))
    )
    assert "retrain cap reached (4 in the last 24h, max 4)" in should_retrain(capped, inputs).reason
    retry = should_retrain(History(has_champion=False, retrain_times=recent), inputs)
    assert not retry.retrain and retry.trigger == "no_champion"
    assert "cooling down after the last retrain (300m left)" in retry.reason
    assert should_retrain(History(has_champion=False), inputs).retrain


def test_backoff_waits_after_trainings_that_promoted_nothing() -> None:
    """Two unpaid trainings: a drift retrain waits 4 live windows after the last one, then
    fires; policy.backoff = false and a champion past max_age are not held back."""
    last = datetime(2026, 3, 1, tzinfo=UTC)
    history = History(breaches=(True, True), unpaid=2, last_training=last)
    quiet = PolicyConfig(cooldown=timedelta(0), max_retrains_per_day=100)
    window = timedelta(days=7)

    def decide(now: datetime, policy: PolicyConfig = quiet) -> tuple[bool, str]:
        d = should_retrain(history, PolicyInputs(2, 3, policy, now, window))
        return d.retrain, d.reason

    held, reason = decide(last + timedelta(days=27))
    assert not held and reason.endswith(
        "backing off: the last 2 trainings promoted nothing; next retrain from 2026-03-29T00:00Z"
    )
    assert decide(last + timedelta(days=28))[0]
    off = PolicyConfig(cooldown=timedelta(0), max_retrains_per_day=100, backoff=False)
    assert decide(last + timedelta(days=1), off)[0]
    aged = History(unpaid=5, last_training=last, champion_since=last - timedelta(days=90))
    policy = PolicyConfig(
        cooldown=timedelta(0), max_retrains_per_day=100, max_age=timedelta(days=30)
    )
    d = should_retrain(aged, PolicyInputs(2, 3, policy, last + timedelta(days=1), window))
    assert d.retrain and d.trigger == "max_age"
