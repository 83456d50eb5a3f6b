"""The frames a cycle works on: reference, labelled rows, training window and holdout."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from driftd import sources
from driftd.config import ModelConfig
from driftd.errors import DataError
from driftd.fingerprint import frame_sha256

if TYPE_CHECKING:
    import pandas as pd

DATA_FILE = "data.parquet"
# The holdout a version was evaluated on: the champion's outputs on it are the reference for
# prediction drift. Its outputs on its own training data would not do: a flexible model (trees,
# boosting) is more confident on rows it was fitted to, which would read as drift every time.
HOLDOUT_FILE = "holdout.parquet"


@dataclass(frozen=True, slots=True)
class Reference:
    frame: pd.DataFrame
    sha256: str
    origin: str


def load_reference(model: ModelConfig, champion: dict[str, Any] | None) -> Reference:
    """The champion's training data when there is a champion, else ``data.reference``."""
    if champion is not None:
        path = Path(champion["artifact_path"]).parent / DATA_FILE
        source = sources.SourceConfig(str(path))
        frame = sources.read(source, label="champion reference")
        return Reference(frame, champion["data_sha256"], str(path))
    frame = sources.read(model.data.reference, label="reference")
    if len(frame) == 0:
        raise DataError(f"{model.data.reference.path}: reference has no rows")
    return Reference(frame, frame_sha256(frame), model.data.reference.path)


def features_of(model: ModelConfig, reference: pd.DataFrame) -> list[str]:
    """``data.features``, or every reference column but the timestamp and the target."""
    data = model.data
    if data.features is not None:
        sources.require_columns(reference, data.features, "reference")
        return list(data.features)
    skip = {data.timestamp, data.target}
    return [c for c in reference.columns if c not in skip]


def training_data(
    model: ModelConfig, now: datetime, first: bool, reference: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Training window then holdout, both labelled; the holdout is the newest and never trained on.

    The first model is trained on the reference data; later ones on the live labels that arrived
    in ``training.window`` before the holdout window. Both windows end ``data.label_delay``
    before ``now``: the labels of newer rows have not arrived at ``now``, so the holdout window
    stays full, and a replay (``--now`` in the past, on data whose labels came later) uses only
    the labels it would have had.
    """
    data = model.data
    labelled_src = data.labelled or data.live
    end = now - data.label_delay
    holdout_start = end - model.promotion.holdout
    rows = labelled(model, None, end)
    holdout = sources.window(rows, data.timestamp, holdout_start, end)
    if first:
        train = reference
    else:
        train = sources.window(
            rows, data.timestamp, holdout_start - model.training.window, holdout_start
        )
    train = train[train[data.target].notna()] if data.target in train.columns else train
    if len(train) == 0:
        raise DataError(
            f"{labelled_src.path}: no labelled rows in the training window ending {holdout_start}"
        )
    return train, (holdout if len(holdout) else None)


def labelled(model: ModelConfig, start: datetime | None, end: datetime) -> pd.DataFrame:
    """The rows of ``data.labelled`` (default ``data.live``) in (start, end] that have a label."""
    data = model.data
    source = data.labelled or data.live
    frame = sources.read(source, timestamp=data.timestamp, label="labelled data")
    sources.require_columns(frame, [data.target], f"labelled data {source.path}")
    frame = sources.window(frame, data.timestamp, start, end)
    return frame[frame[data.target].notna()]
