"""The dataset verdict: one calibrated decision over every feature's evidence.

``decision = "combined"`` (the default) asks one question of the whole window: *did some feature
move materially, beyond chance?* Each evaluated feature contributes one p-value: its test's
p-value when its effect reaches its threshold (fixed, or learnt from normal variation), its
missing-rate test's when the rate moved at least ``missing_threshold``, and 1 otherwise (no
material change, no evidence). The weighted harmonic mean p-value of those
(:func:`driftd.stats.harmonic_mean_p`) is compared with ``alpha``. Replacing a p-value by 1
only makes the combined value larger, so the false-alarm rate stays at most ``alpha`` under any
mix of immaterial features; and because evidence adds up, thirteen features each moved a
little alarm together where no single one clears a Bonferroni bar.

Weights are the champion's permutation importances (``drift.importance``): a feature the model
ignores (less than ``min_importance`` of the total) is still tested and reported, but cannot
raise the dataset alarm by itself.

``decision = "share"`` keeps the older rule: drift when at least ``share`` of the evaluated
features drifted on their own (after the correction across features).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from driftd import stats
from driftd.config import DriftConfig
from driftd.domain import FeatureDrift, FeatureState, Verdict

SHOWN = 5  # feature names listed in a reason before "..."


@dataclass(frozen=True, slots=True)
class Decision:
    verdict: Verdict
    p_value: float | None  # the combined p-value; None under the share rule
    share: float
    reason: str


def evidence(f: FeatureDrift, cfg: DriftConfig) -> float:
    """One feature's p-value for the dataset decision; 1.0 when nothing moved materially.

    >>> from driftd.domain import FeatureKind
    >>> f = FeatureDrift("x", FeatureKind.NUMERIC, FeatureState.OK, "ks", 0.1, 0.004, 0.04,
    ...                  "wasserstein", 0.08, 0.05, 2000, 2000, 0.0, 0.0)
    >>> evidence(f, DriftConfig())
    0.004
    >>> from dataclasses import replace
    >>> evidence(replace(f, effect=0.01), DriftConfig())
    1.0
    """
    candidates = []
    if (
        f.p_value is not None
        and f.effect is not None
        and f.threshold is not None
        and f.effect >= f.threshold
    ):
        candidates.append(f.p_value)
    moved = abs(f.missing_live - f.missing_ref)
    if f.missing_p is not None and moved >= cfg.missing_threshold:
        candidates.append(f.missing_p)
    if not candidates:
        return 1.0
    # Two tests of one feature: Bonferroni within it keeps each feature one hypothesis.
    return min(1.0, min(candidates) * len(candidates))


def decide(
    features: Sequence[FeatureDrift],
    cfg: DriftConfig,
    weights: Mapping[str, float] | None = None,
    tail: str = "",
) -> Decision:
    """The verdict and its one-line reason; ``tail`` (features not evaluated) ends the reason."""
    evaluated = [f for f in features if f.state in (FeatureState.OK, FeatureState.DRIFT)]
    drifted = [f.feature for f in evaluated if f.state is FeatureState.DRIFT]
    if not evaluated:
        reason = f"no feature could be evaluated{tail}" if features else "no features to check"
        return Decision(Verdict.INVALID, None, 0.0, reason)
    share = len(drifted) / len(evaluated)
    counted = f"{len(drifted)}/{len(evaluated)} features drifted{_names(drifted)}"
    if cfg.decision == "share":
        breached = bool(drifted) and share >= cfg.share
        sign = "≥" if breached else "<"
        verdict = Verdict.DRIFT if breached else Verdict.OK
        return Decision(verdict, None, share, f"{counted} {sign} share {cfg.share:g}{tail}")
    w, ignored, note = _weights(evaluated, weights, cfg.min_importance)
    p_values = [evidence(f, cfg) for f in evaluated]
    p = stats.harmonic_mean_p(p_values, w)
    strong = [
        f.feature
        for f, q, wt in zip(evaluated, p_values, w, strict=True)
        if q <= cfg.alpha and wt > 0
    ]
    breached = p <= cfg.alpha
    verdict = Verdict.DRIFT if breached else Verdict.OK
    sign = "≤" if breached else ">"
    head = f"combined p={p:.2g} {sign} {cfg.alpha:g}"
    if strong:
        listed = ", ".join(strong[:SHOWN]) + (", …" if len(strong) > SHOWN else "")
        label = "material and significant" if breached else "material, not enough together"
        head += f", {label}: {listed}"
    elif breached:
        head += ", from several small material changes together"
    else:
        head += ", no material and significant change"
    quiet = [name for name in drifted if name in ignored]
    if quiet:
        note += f"; drifted but ignored by the champion: {', '.join(quiet[:SHOWN])}"
    return Decision(verdict, p, share, f"{head}; {counted}{note}{tail}")


def _weights(
    evaluated: Sequence[FeatureDrift], weights: Mapping[str, float] | None, floor: float
) -> tuple[list[float], set[str], str]:
    """Per-feature weights, the features counted as ignored, and a note for the reason."""
    if not weights:
        return [1.0] * len(evaluated), set(), ""
    raw = [max(0.0, float(weights.get(f.feature, 0.0))) for f in evaluated]
    total = sum(raw)
    if total <= 0.0:
        return [1.0] * len(evaluated), set(), "; champion importances all zero: equal weights"
    shares = [r / total for r in raw]
    ignored = {f.feature for f, s in zip(evaluated, shares, strict=True) if s < floor}
    if len(ignored) == len(evaluated):
        return [1.0] * len(evaluated), set(), ""
    kept = [s if s >= floor else 0.0 for s in shares]
    return kept, ignored, "; weighted by the champion's importance"


def _names(names: Sequence[str]) -> str:
    if not names:
        return ""
    more = ", …" if len(names) > SHOWN else ""
    return f" ({', '.join(names[:SHOWN])}{more})"
