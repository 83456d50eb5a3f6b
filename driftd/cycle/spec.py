"""The spec stored with a version: how it was trained, and what `driftd reproduce` needs."""

from __future__ import annotations

import os
from datetime import datetime
from typing import TYPE_CHECKING, Any

from driftd.config import ModelConfig
from driftd.cycle.data import DATA_FILE
from driftd.domain import TrainedModel
from driftd.fingerprint import frame_sha256

if TYPE_CHECKING:
    import pandas as pd


def spec(
    model: ModelConfig,
    trigger: str,
    now: datetime,
    frame: pd.DataFrame,
    *,
    holdout: pd.DataFrame | None = None,
    trained: TrainedModel | None = None,
) -> dict[str, Any]:
    """The version's ``spec`` JSON: the training settings, the data snapshot and its lineage."""
    t = model.training
    return {
        "trigger": trigger,
        "now": now.isoformat(),
        "estimator": t.estimator,
        "params": dict(t.params),
        "window": t.window.total_seconds(),
        "seed": t.seed,
        "target": model.data.target,
        "categorical": list(model.data.categorical),
        "data_file": DATA_FILE,
        "rows": len(frame),
        "pid": os.getpid(),
        **_lineage(model, now, holdout, trained),
    }


def _lineage(
    model: ModelConfig, now: datetime, holdout: pd.DataFrame | None, trained: TrainedModel | None
) -> dict[str, Any]:
    """What `driftd reproduce` needs beyond the data snapshot: the way of training, the code's
    hash, and the holdout's window, source and fingerprint (to rebuild the same rows)."""
    t, data = model.training, model.data
    source = data.labelled or data.live
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
            "start": (now - data.label_delay - model.promotion.holdout).isoformat(),
            "end": (now - data.label_delay).isoformat(),
            "rows": 0 if holdout is None else len(holdout),
            "sha256": None if holdout is None or not trained else frame_sha256(holdout, columns),
        },
    }
