"""Feature-by-feature drift detection and the dataset-level verdict (layer 2).

::

    kinds   = infer_kinds(reference, categorical=["plan"])
    summary = summarize(reference, kinds)          # once per reference; cache it
    report  = detect(summary, live_window, cfg)    # every cycle; costs O(live window)

Statistics come from :mod:`driftd.stats`; this package chooses them per feature (from the
config), treats missing values, corrects for testing many features, and writes the reasons.
"""

from __future__ import annotations

from driftd.detect.background import Background, learn, learn_seasonal
from driftd.detect.features import binnable
from driftd.detect.report import check_config, compare_frames, detect
from driftd.detect.summary import ColumnSummary, ReferenceSummary, infer_kinds, summarize
from driftd.detect.thresholds import window_bucket

__all__ = [
    "Background",
    "ColumnSummary",
    "ReferenceSummary",
    "binnable",
    "check_config",
    "compare_frames",
    "detect",
    "infer_kinds",
    "learn",
    "learn_seasonal",
    "summarize",
    "window_bucket",
]
