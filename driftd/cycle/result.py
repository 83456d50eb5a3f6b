"""What a cycle returns, and the summary of it stored on its ``runs`` row."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from driftd.domain import Decision, DriftReport, Evaluation, FeatureState


@dataclass(frozen=True, slots=True)
class CycleResult:
    run_id: int
    model: str
    status: str  # ok | drift | failed | interrupted
    report: DriftReport | None = None
    retrain_reason: str = ""
    version_id: str | None = None
    evaluation: Evaluation | None = None
    decision: Decision | None = None
    error: str | None = None


def summary(result: CycleResult) -> dict[str, Any]:
    """The JSON summary of a finished cycle, as the ``runs`` row keeps it."""
    out: dict[str, Any] = {"retrain_reason": result.retrain_reason}
    if result.report is not None:
        out["drifted"] = list(result.report.drifted)
        out["drifted_share"] = result.report.drifted_share
        out["reason"] = result.report.reason
        extra = [f.feature for f in result.report.extra if f.state is FeatureState.DRIFT]
        if extra:
            out["extra_drifted"] = extra
    if result.decision is not None:
        out["decision"] = str(result.decision.action)
        out["decision_reason"] = result.decision.reason
        out["version_id"] = result.version_id
    return out
