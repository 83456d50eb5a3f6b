"""Champion versus candidate on identical holdout rows, with paired confidence intervals.

Public API: :func:`compare` (the full table for policy), :func:`score` (plain metrics for a
single model), :func:`check_scorer` (config validation). scikit-learn is imported lazily.
"""

from __future__ import annotations

from driftd.evaluate.compare import compare, day_times
from driftd.evaluate.scoring import BUILTIN, check_scorer, score

__all__ = ["BUILTIN", "check_scorer", "compare", "day_times", "score"]
