"""The reference summary the Dask path counts against: every numeric feature in buckets.

The reference is summarised in memory (it is read once per reference, and cached): what must
not be held in memory is the live window. The in-memory path buckets only columns of at least
``BINNED_MIN_ROWS`` values and sorts smaller ones; here every numeric column is bucketed, so
any live window can be counted partition by partition. A small reference loses nothing: a bucket
holding more than ``TOLERANCE`` of it is kept exactly, which for fewer than 2,000 rows is every
bucket with a value in it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import pandas as pd

from driftd import detect, stats
from driftd.config import DriftConfig
from driftd.detect.summary import numeric_values
from driftd.domain import FeatureKind
from driftd.errors import DataError


def require_binnable(cfg: DriftConfig, where: str) -> None:
    """DataError unless ``cfg``'s numeric test and effect run on bucket counts."""
    if not detect.binnable(cfg):
        raise DataError(
            f"{where}: the dask engine counts numeric columns in buckets, which needs "
            'drift.numeric_test = "ks", drift.numeric_effect one of wasserstein, psi, '
            f"jensen_shannon and a numeric threshold (got {cfg.numeric_test}, "
            f"{cfg.numeric_effect}, {cfg.numeric_threshold})"
        )


def summarize(
    frame: pd.DataFrame,
    kinds: Mapping[str, FeatureKind],
    fingerprint: str | None = None,
    *,
    ordered: bool = False,
) -> detect.ReferenceSummary:
    """:func:`driftd.detect.summarize` with every numeric column bucketed; DataError naming a
    column whose finite values have no spread to divide (a constant column)."""
    summary = detect.summarize(frame, kinds, fingerprint, binned=True, ordered=ordered)
    columns = dict(summary.columns)
    for name, column in summary.columns.items():
        if column.kind is not FeatureKind.NUMERIC or column.binned is not None:
            continue
        bins = stats.BinnedReference.build(numeric_values(frame[name], name))
        if bins is None:
            raise DataError(
                f"reference column {name!r} has no spread (constant or no finite value): "
                "the dask engine cannot bucket it; leave it out of data.features"
            )
        columns[name] = replace(column, numeric=None, binned=bins)
    return replace(summary, columns=columns)
