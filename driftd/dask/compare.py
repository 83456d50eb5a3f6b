"""``driftd drift REF LIVE --engine dask``: the ad-hoc comparison with a live side of any size.

The reference is read into memory (a file as ``driftd drift`` reads it; a directory or glob of
Parquet through dask) and summarised with every numeric column in buckets; the live side is
counted partition by partition on ``dask.scheduler`` (or ``--scheduler``) and never held whole.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import pandas as pd

from driftd import detect, sources
from driftd.config import DriftConfig, SourceConfig
from driftd.dask import engine, reference
from driftd.domain import DriftReport, FeatureKind
from driftd.errors import EXIT_DRIFT, EXIT_OK, DriftdError


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


def command(
    args: argparse.Namespace,
    cfg: DriftConfig,
    categorical: Sequence[str],
    skip: set[str],
    scheduler: str,
) -> int:
    """``cmd_drift``'s work on the dask engine; its exit code."""
    from driftd import cli

    if args.html:
        raise DriftdError("--html needs the live rows in memory: not with --engine dask")
    ref = read_reference(args.reference, scheduler)
    left_out = {} if args.config or args.model else cli._bookkeeping(ref, args.keep or ())
    features = [c for c in ref.columns if c not in skip and c not in left_out]
    sources.check_features(ref, features, categorical, f"reference {args.reference}")
    kinds = detect.infer_kinds(ref[features], categorical)
    report = compare(ref[features], args.live, kinds, cfg, scheduler)
    data = report.to_dict()
    data["left_out"] = left_out
    data["engine"] = "dask"
    cli._emit(args, data, cli._drift_text)
    return EXIT_DRIFT if report.drifted else EXIT_OK
