"""One monitoring cycle for one model: check, maybe retrain, evaluate, decide, record.

The check is the per-feature report plus the extra checks of :mod:`driftd.extras` (prediction
drift, multivariate, realised performance), for which this package supplies the frames and the
champion loader; :func:`driftd.policy.should_retrain` then weighs every trigger.

This is the only package that knows the whole flow. Each step is a call into a layer below with
dataclasses in and out; every outcome, including failures, ends as a finished ``runs`` row.
The reference a model is checked against is the data its champion was trained on (stored beside
the artifact as ``data.parquet``); before any champion exists it is ``data.reference``.

Modules: :mod:`.run` records a cycle and never raises, :mod:`.flow` is the cycle's steps,
:mod:`.data` loads the reference, training and holdout frames, :mod:`.checks` feeds the extra
checks, :mod:`.training` trains and evaluates a candidate, :mod:`.spec` writes what
`driftd reproduce` needs, :mod:`.cache` keeps reference summaries, :mod:`.result` is the outcome.
"""

from __future__ import annotations

from driftd.cycle.cache import SummaryCache
from driftd.cycle.data import DATA_FILE, HOLDOUT_FILE
from driftd.cycle.result import CycleResult
from driftd.cycle.run import run_cycle

__all__ = ["DATA_FILE", "HOLDOUT_FILE", "CycleResult", "SummaryCache", "run_cycle"]
