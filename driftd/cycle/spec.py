"""The spec stored with a version: how it was trained, and what `driftd reproduce` needs."""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from driftd.config import ModelConfig
from driftd.cycle.data import DATA_FILE, Split
from driftd.domain import TrainedModel
from driftd.fingerprint import frame_sha256


def spec(
    model: ModelConfig,
    trigger: str,
    now: datetime,
    split: Split,
    *,
    trained: TrainedModel | None = None,
    refit_of: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The version's ``spec`` JSON: the training settings, the data snapshot and its lineage.

    For a refitted artifact (``refit_of``: the evaluated candidate's id, artifact sha256 and
    rows) the data snapshot is ``split.train`` plus ``split.holdout``, and the holdout is marked
    ``trained_on``: its rows are no longer evidence about this artifact.
    """
    t = model.training
    rows = len(split.both) if refit_of is not None and split.both is not None else len(split.train)
    out = {
        "trigger": trigger,
        "now": now.isoformat(),
        "estimator": t.estimator,
        "params": dict(t.params),
        "window": t.window.total_seconds(),
        "seed": t.seed,
        "target": model.data.target,
        "categorical": list(model.data.categorical),
        "data_file": DATA_FILE,
        "rows": rows,
        "pid": os.getpid(),
        "split": split.mode,
        **_lineage(model, split, trained, trained_on=refit_of is not None),
    }
    if split.note:
        out["split_note"] = split.note
    if refit_of is not None:
        out["refit_of"] = dict(refit_of)
    return out


def _lineage(
    model: ModelConfig, split: Split, trained: TrainedModel | None, *, trained_on: bool
) -> dict[str, Any]:
    """What `driftd reproduce` needs beyond the data snapshot: the way of training, the code's
    hash, and the holdout's window, source and fingerprint (to rebuild the same rows)."""
    t, data = model.training, model.data
    source = data.labelled or data.live
    holdout = split.holdout
    columns = [*(trained.features if trained else ()), data.target]
    return {
        "way": t.way,
        "entrypoint": t.entrypoint,
        "command": list(t.command) if t.command is not None else None,
        "timestamp": data.timestamp,
        "scorer": model.promotion.scorer,
        "code": trained.code if trained else None,
        "holdout": {
            "source": {"path": source.path, "query": source.query},
            "start": split.holdout_start.isoformat(),
            "end": split.holdout_end.isoformat(),
            "rows": 0 if holdout is None else len(holdout),
            "sha256": None if holdout is None or not trained else frame_sha256(holdout, columns),
            "trained_on": trained_on,
        },
    }
