"""``driftd drift REF LIVE --engine dask``: the ad-hoc comparison with a live side of any size
(the command itself is ``driftd.cli``'s; this is its engine).

The reference is read into memory (a file as ``driftd drift`` reads it; a directory or glob of
Parquet through dask) and summarised with every numeric column in buckets; the live side is
counted partition by partition on ``dask.scheduler`` (or ``--scheduler``) and never held whole.
"""

from __future__ import annotations

import pandas as pd

from driftd import detect, sources
from driftd.config import DriftConfig, SourceConfig
from driftd.dask import engine, reference
from driftd.domain import DriftReport, FeatureKind


def read_reference(path: str, scheduler: str) -> pd.DataFrame:
    """A reference file as :func:`driftd.sources.read` reads it; a directory or a Parquet glob
    through dask (all of it in memory: the reference is summarised once)."""
    if engine.is_partitioned(path) or (any(c in path for c in "*?[") and path.endswith(".parquet")):
        return engine.read_frame(path, "reference", scheduler)
    return sources.read(SourceConfig(path), label="reference")


def compare(
    ref: pd.DataFrame,
    live: str,
    kinds: dict[str, FeatureKind],
    cfg: DriftConfig,
    scheduler: str,
    seed: int = 0,
) -> DriftReport:
    """:func:`driftd.detect.compare_frames` with the live side counted on dask (rows not known to
    be in time order: independent, as there)."""
    reference.require_binnable(cfg, "driftd drift --engine dask")
    summary = reference.summarize(ref, kinds, ordered=False)
    counted = engine.count_window(live, summary, scheduler=scheduler, label="live")
    return detect.detect(summary, counted, cfg, seed, ordered=False)
