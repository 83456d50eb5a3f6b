"""The frames a cycle works on: reference, labelled rows, training window and holdout."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from driftd import sources, trainer
from driftd.config import ModelConfig
from driftd.errors import DataError
from driftd.fingerprint import snapshot_sha256

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
    """The champion's training data when there is a champion, else ``data.reference``.

    ``sha256`` names the reference in the checks (K-of-N hysteresis counts only checks against
    the same one): the champion's recorded ``data_sha256``, or for ``data.reference`` the same
    fingerprint of its feature and target columns (:func:`snapshot_sha256`), so the checks made
    before the first model and after it count together when it trained on these very rows.
    """
    if champion is not None:
        path = Path(champion["artifact_path"]).parent / DATA_FILE
        source = sources.SourceConfig(str(path))
        frame = sources.read(source, label="champion reference")
        return Reference(frame, champion["data_sha256"], str(path))
    frame = sources.read(model.data.reference, label="reference")
    if len(frame) == 0:
        raise DataError(f"{model.data.reference.path}: reference has no rows")
    sha256 = snapshot_sha256(frame, features_of(model, frame), model.data.target)
    return Reference(frame, sha256, model.data.reference.path)


def features_of(model: ModelConfig, reference: pd.DataFrame) -> list[str]:
    """``data.features``, or every reference column but the timestamp and the target."""
    data = model.data
    if data.features is not None:
        sources.require_columns(reference, data.features, "reference")
        return list(data.features)
    skip = {data.timestamp, data.target}
    return [c for c in reference.columns if c not in skip]


@dataclass(frozen=True, slots=True)
class Split:
    """The rows a candidate is trained on and the holdout it is judged on, with its window.

    ``mode`` is ``standard`` (``training.window`` then ``promotion.holdout``, both ending
    ``label_delay`` before ``now``) or ``recent`` (after a collapse of realised performance:
    the labelled rows of the performance window only, the newest third held out; see
    :func:`recent_split`). ``note`` says why a recent split fell back to the standard one.
    """

    train: pd.DataFrame
    holdout: pd.DataFrame | None
    holdout_start: datetime
    holdout_end: datetime
    mode: str = "standard"
    note: str = ""
    # Training rows then holdout as one frame (what a refit trains on); None for the first model.
    both: pd.DataFrame | None = None


# After a collapse, the newest third of the performance window's labelled rows is the holdout:
# a third keeps 2/3 of the post-change rows for training (the candidate must learn the new
# labels) while a 30-day window at the synthetic label break's 100 rows a day still holds 1,000
# rows out, enough to separate a 0.1 ROC AUC gap with room to spare (tests/test_label_break.py).
RECENT_HOLDOUT_SHARE = 1 / 3


def training_data(
    model: ModelConfig,
    now: datetime,
    first: bool,
    reference: pd.DataFrame,
    *,
    recent: bool = False,
) -> Split:
    """Training window then holdout, both labelled; the holdout is the newest and never trained on.

    The first model is trained on the reference data; later ones on the live labels that arrived
    in ``training.window`` before the holdout window. Both windows end ``data.label_delay``
    before ``now``: the labels of newer rows have not arrived at ``now``, so the holdout window
    stays full, and a replay (``--now`` in the past, on data whose labels came later) uses only
    the labels it would have had. With ``recent`` (the retrain was triggered by a collapse of
    realised performance and ``promotion.recovery`` is on) the split is :func:`recent_split`
    when the performance window has enough labelled rows.
    """
    data = model.data
    labelled_src = data.labelled or data.live
    end = now - data.label_delay
    rows = labelled(model, None, end)
    note = ""
    if recent and not first:
        split = recent_split(model, rows, end)
        if isinstance(split, Split):
            return split
        note = split
    holdout_start = end - model.promotion.holdout
    holdout = sources.window(rows, data.timestamp, holdout_start, end)
    both = None
    if first:
        train = reference
    else:
        train_start = holdout_start - model.training.window
        train = sources.window(rows, data.timestamp, train_start, holdout_start)
        # Sliced from the same rows, not concatenated: one contiguous frame to fingerprint.
        both = sources.window(rows, data.timestamp, train_start, end)
    train = train[train[data.target].notna()] if data.target in train.columns else train
    if len(train) == 0:
        raise DataError(
            f"{labelled_src.path}: no labelled rows in the training window ending {holdout_start}"
        )
    return Split(train, holdout if len(holdout) else None, holdout_start, end, note=note, both=both)


def recent_split(model: ModelConfig, rows: pd.DataFrame, end: datetime) -> Split | str:
    """The split after a collapse of realised performance, or why there is none.

    The labelled rows of ``(end - data.window, end]`` are the ones on which the champion's
    metric collapsed: they come after the change. The candidate trains on the older two thirds
    and is judged on the newest third, so a candidate that has learnt the new labels can win
    on evidence at the first check that sees them, instead of ``promotion.holdout`` later
    (the standard split's training data ends a whole holdout before ``now``). Both parts need
    ``promotion.min_holdout`` rows; the holdout starts after the last training row, so rows
    with the same timestamp stay on one side.
    """
    data = model.data
    # `labelled` reads with the timestamp parsed and sorted, so position is time order.
    window = sources.window(rows, data.timestamp, end - data.window, end)
    n, need = len(window), model.promotion.min_holdout
    held = max(need, math.ceil(n * RECENT_HOLDOUT_SHARE))
    if n - held < need:
        return (
            f"recent split needs {2 * need} labelled rows in the performance window, "
            f"found {n}: standard split"
        )
    start = window[data.timestamp].iloc[n - held - 1].to_pydatetime()
    train = sources.window(window, data.timestamp, None, start)
    holdout = sources.window(window, data.timestamp, start, end)
    if len(holdout) < need:
        return f"recent holdout has {len(holdout)} rows after ties, < {need}: standard split"
    return Split(train, holdout, start, end, mode="recent", both=window)


def labelled(model: ModelConfig, start: datetime | None, end: datetime) -> pd.DataFrame:
    """The rows of ``data.labelled`` (default ``data.live``) in (start, end] that have a label."""
    data = model.data
    source = data.labelled or data.live
    if data.engine == "dask":  # a partitioned source: only the window comes into memory
        from driftd.dask.engine import read_window

        frame = read_window(source.path, data.timestamp, start, end, "labelled data")
    else:
        frame = sources.read(source, timestamp=data.timestamp, label="labelled data", keep=True)
    sources.require_columns(frame, [data.target], f"labelled data {source.path}")
    frame = sources.window(frame, data.timestamp, start, end)
    return frame[frame[data.target].notna()]


def champion_holdout(champion: dict[str, Any], columns: list[str]) -> pd.DataFrame | None:
    """The holdout the champion was promoted on (``holdout.parquet`` beside its artifact),
    checked for ``columns``; None when the version has none."""
    path = Path(champion["artifact_path"]).parent / HOLDOUT_FILE
    if not path.exists():
        return None
    frame = sources.read(sources.SourceConfig(str(path)), label="champion holdout")
    sources.require_columns(frame, columns, str(path))
    return frame


def load_champion(model: ModelConfig, champion: dict[str, Any]) -> Any:
    """The champion's fitted model, sha256-checked, with the model's trusted-type rules."""
    return trainer.load_model(
        Path(champion["artifact_path"]),
        champion["artifact_sha256"],
        trusted=model.training.trusted_types,
        allow_pickle=model.training.allow_pickle,
    )
