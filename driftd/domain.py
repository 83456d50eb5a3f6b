"""Dataclasses shared by the layers. They carry data only: no I/O, no heavy imports."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class FeatureKind(enum.StrEnum):
    NUMERIC = "numeric"
    CATEGORICAL = "categorical"


class FeatureState(enum.StrEnum):
    """Outcome for one feature. ``insufficient_data`` and ``invalid`` are neither pass nor alarm."""

    OK = "ok"
    DRIFT = "drift"
    INSUFFICIENT = "insufficient_data"
    INVALID = "invalid"


class Verdict(enum.StrEnum):
    """Dataset-level outcome of one check.

    ``insufficient_data``: the live window's rows cover too little of its span to be judged
    (``data.min_coverage``); neither drift nor ok, and it does not retrain.
    """

    OK = "ok"
    DRIFT = "drift"
    INVALID = "invalid"
    INSUFFICIENT = "insufficient_data"


class Action(enum.StrEnum):
    """What a decision did to the champion pointer."""

    BOOTSTRAP = "bootstrap"  # the first model of a model name, promoted without comparison
    PROMOTE = "promote"
    REJECT = "reject"
    INCONCLUSIVE = "inconclusive"
    WOULD_PROMOTE = "would_promote"  # dry-run mode
    AWAITING_APPROVAL = "awaiting_approval"  # manual mode
    MANUAL_PROMOTE = "manual_promote"
    ROLLBACK = "rollback"
    GC = "gc"

    @property
    def moves_pointer(self) -> bool:
        return self in (Action.BOOTSTRAP, Action.PROMOTE, Action.MANUAL_PROMOTE, Action.ROLLBACK)


@dataclass(frozen=True, slots=True)
class StatResult:
    """Output of one two-sample test. ``p_value`` is None for distance-only tests."""

    statistic: float
    p_value: float | None = None


@dataclass(frozen=True, slots=True)
class FeatureDrift:
    """Everything known about one feature in one check."""

    feature: str
    kind: FeatureKind
    state: FeatureState
    test: str  # the significance test (ks, chi2, fisher, ...)
    statistic: float | None
    p_value: float | None
    p_adjusted: float | None
    effect_name: str  # the materiality measure (wasserstein_sd, jensen_shannon, psi, ...)
    effect: float | None
    threshold: float | None
    n_ref: int
    n_live: int
    missing_ref: float
    missing_live: float
    missing_p: float | None = None
    new_category_mass: float = 0.0
    detail: str = ""  # why a feature is invalid or insufficient, or what drove it

    def to_dict(self) -> dict[str, Any]:
        return {
            "feature": self.feature,
            "kind": str(self.kind),
            "state": str(self.state),
            "test": self.test,
            "statistic": self.statistic,
            "p_value": self.p_value,
            "p_adjusted": self.p_adjusted,
            "effect_name": self.effect_name,
            "effect": self.effect,
            "threshold": self.threshold,
            "n_ref": self.n_ref,
            "n_live": self.n_live,
            "missing_ref": self.missing_ref,
            "missing_live": self.missing_live,
            "missing_p": self.missing_p,
            "new_category_mass": self.new_category_mass,
            "detail": self.detail,
        }


@dataclass(frozen=True, slots=True)
class DriftReport:
    """Dataset-level verdict plus the per-feature results it rests on."""

    verdict: Verdict
    features: tuple[FeatureDrift, ...]
    drifted_share: float
    share_threshold: float
    correction: str
    alpha: float
    n_ref: int
    n_live: int
    extra: tuple[FeatureDrift, ...] = ()  # prediction drift, multivariate check
    reason: str = ""
    p_value: float | None = None  # the combined dataset p-value (decision = "combined")
    baseline: str = ""  # where the effect thresholds came from (fixed, or normal variation)

    @property
    def drifted(self) -> tuple[str, ...]:
        return tuple(f.feature for f in self.features if f.state is FeatureState.DRIFT)

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": str(self.verdict),
            "drifted_share": self.drifted_share,
            "share_threshold": self.share_threshold,
            "correction": self.correction,
            "alpha": self.alpha,
            "n_ref": self.n_ref,
            "n_live": self.n_live,
            "drifted": list(self.drifted),
            "reason": self.reason,
            "p_value": self.p_value,
            "baseline": self.baseline,
            "features": [f.to_dict() for f in self.features],
            "extra": [f.to_dict() for f in self.extra],
        }


@dataclass(frozen=True, slots=True)
class MetricComparison:
    """One row of the champion-vs-candidate table."""

    metric: str
    role: str  # "primary" or "guardrail"
    champion: float
    candidate: float
    difference: float  # candidate - champion, oriented so that positive is better
    ci_low: float
    ci_high: float
    p_value: float | None
    margin: float
    passed: bool
    method: str = "paired_bootstrap"

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "role": self.role,
            "champion": self.champion,
            "candidate": self.candidate,
            "difference": self.difference,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "p_value": self.p_value,
            "margin": self.margin,
            "passed": self.passed,
            "method": self.method,
        }


@dataclass(frozen=True, slots=True)
class Evaluation:
    """Champion and candidate scored on the same holdout rows."""

    n_holdout: int
    confidence: float
    comparisons: tuple[MetricComparison, ...]
    candidate_metrics: dict[str, float] = field(default_factory=dict)
    champion_metrics: dict[str, float] = field(default_factory=dict)

    @property
    def primary(self) -> MetricComparison | None:
        return next((c for c in self.comparisons if c.role == "primary"), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_holdout": self.n_holdout,
            "confidence": self.confidence,
            "comparisons": [c.to_dict() for c in self.comparisons],
            "candidate_metrics": self.candidate_metrics,
            "champion_metrics": self.champion_metrics,
        }


@dataclass(frozen=True, slots=True)
class Decision:
    """What policy decided about a candidate, with a one-line reason for humans."""

    action: Action
    reason: str


@dataclass(frozen=True, slots=True)
class RetrainDecision:
    retrain: bool
    reason: str
    trigger: str = ""  # drift, no_champion, max_age, performance, prediction_drift, ""


@dataclass(frozen=True, slots=True)
class TrainedModel:
    """A fitted candidate written to disk by the trainer."""

    artifact_path: str
    artifact_sha256: str
    artifact_size: int
    estimator: str
    params: dict[str, Any]
    data_sha256: str
    n_rows: int
    time_min: str | None
    time_max: str | None
    seed: int
    duration_s: float
    log_path: str | None
    features: tuple[str, ...]
    environment: dict[str, str]
    # The user's training code, hashed: entrypoint module file, or files named in the command.
    code: dict[str, Any] | None = None
