"""Reading partitioned data with dask.dataframe, and running work on the configured scheduler.

``dask.scheduler`` is ``"threads"`` or ``"processes"`` (local; nothing to start) or the
``tcp://host:port`` of a running ``dask scheduler``, which this process joins as a client for
the length of one computation. A cluster that cannot be reached within ``CONNECT_TIMEOUT`` is
one DataError line naming the address: the cycle fails, nothing is written, and the next
scheduled cycle tries again.
"""

from __future__ import annotations

import glob
import itertools
import os
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import dask
import dask.dataframe as dd
import pandas as pd

from driftd import sources
from driftd.dask import counts
from driftd.detect import ReferenceSummary
from driftd.detect.features import CountedWindow
from driftd.errors import DataError, DriftdError
from driftd.sources import _time

CONNECT_TIMEOUT = "10s"  # a scheduler on the same network answers in milliseconds
CSV_BLOCK = "64MiB"  # a CSV partition: its parse holds a few times this in memory
# Strings as pandas object columns, as the in-memory reader gives them: categories then compare
# equal whichever engine read them.
_CONFIG = {"dataframe.convert-string": False}


def is_partitioned(path: str) -> bool:
    """Whether ``path`` names a directory (a partitioned dataset) rather than files."""
    return os.path.isdir(path)


def read(path: str, columns: Sequence[str] | None, label: str) -> dd.DataFrame:
    """The rows of a Parquet dataset (a directory, a file or a glob) or of CSV files (a file or
    a glob ending in ``.csv``), lazily; DataError naming ``path`` and any missing column."""
    where = f"{label} {path}"
    local = "://" not in path  # s3://, gs://, ... are dask's (fsspec's) to find
    if local and not os.path.exists(path) and not glob.glob(path):
        raise DataError(f"{where}: no such file or directory, and no files match the pattern")
    try:
        with dask.config.set(_CONFIG):
            if path.endswith(".csv"):
                frame = dd.read_csv(path, blocksize=CSV_BLOCK)
            else:
                frame = dd.read_parquet(path)
    except Exception as exc:  # the boundary: nothing foreign gets past a data read
        raise DataError(f"{where}: cannot read: {type(exc).__name__}: {exc}") from None
    if columns is None:
        return frame
    sources.require_columns(frame._meta, columns, where)
    return frame[list(columns)]


def read_frame(path: str, label: str, scheduler: str) -> pd.DataFrame:
    """All of a dataset in memory (a reference given as a directory or glob of Parquet)."""
    frame = read(path, None, label)
    with connect(scheduler) as how:
        out: pd.DataFrame = _compute(frame, how, f"{label} {path}")
    return out.reset_index(drop=True)


def read_window(
    path: str, timestamp: str, start: datetime | None, end: datetime, label: str
) -> pd.DataFrame:
    """The rows of ``path`` in ``(start, end]``, in time order, in memory (what training takes:
    its window, not the whole source); each partition is cut before the rows are gathered."""
    frame = read(path, None, label)
    sources.require_columns(frame._meta, [timestamp], f"{label} {path}")
    cut = dask.delayed(sources.window, pure=True)
    parts = [cut(part, timestamp, start, end) for part in frame.to_delayed()]
    gathered = dask.delayed(pd.concat)(parts, ignore_index=True)
    with connect("threads") as how:  # the rows come to this process: local threads suffice
        out: pd.DataFrame = _compute(gathered, how, f"{label} {path}")
    return _time.by_time(out, timestamp, f"{label} {path}")


@contextmanager
def connect(scheduler: str) -> Iterator[Any]:
    """What ``dask.compute(scheduler=...)`` takes: a local scheduler's name, or a client of the
    cluster at ``scheduler`` (closed on exit)."""
    if "://" not in scheduler:  # tcp://, and tls:// or inproc:// given to the API
        yield scheduler
        return
    import distributed

    try:
        client = distributed.Client(scheduler, timeout=CONNECT_TIMEOUT, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise DataError(
            f"dask.scheduler {scheduler}: cannot reach the cluster "
            f"({type(exc).__name__}: {' '.join(str(exc).split()) or 'no answer'})"
        ) from None
    try:
        yield client
    finally:
        client.close()


def _compute(work: Any, how: Any, where: str) -> Any:
    try:
        if isinstance(how, str):
            (out,) = dask.compute(work, scheduler=how)
        else:  # a distributed.Client
            out = how.compute(work, sync=True)
    except DriftdError:
        raise
    except Exception as exc:  # a worker lost, a connection closed, a file unreadable
        text = " ".join(str(exc).split())[:300]
        raise DataError(
            f"{where}: the dask computation failed: {type(exc).__name__}: {text}"
        ) from None
    return out


def count_window(
    path: str,
    summary: ReferenceSummary,
    *,
    scheduler: str = "threads",
    timestamp: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    label: str = "live window",
) -> CountedWindow:
    """The live rows of ``path`` (those in ``(start, end]`` by ``timestamp`` when ``end`` is
    given) counted against ``summary``, partition by partition; DataError when none is left."""
    plan = counts.plan(summary, timestamp, start, end)
    need = [*summary.columns, *([timestamp] if timestamp and end is not None else [])]
    frame = read(path, list(dict.fromkeys(need)), label)
    parts = frame.to_delayed()
    where = f"{label} {path}"
    with connect(scheduler) as how:
        if isinstance(how, str):
            merged = _stream_local(parts, plan, how, where)
        else:
            merged = _stream_cluster(parts, plan, how, where)
    if merged.n_rows == 0:
        held = (
            f"{merged.n_source} rows from {_show(merged.first)} to {_show(merged.last)}"
            if merged.n_source
            else "no rows"
        )
        bounds = f" ({_show(start)}, {_show(end)}]" if end is not None else ""
        raise DataError(f"{label}{bounds} of {path} has no rows (the source has {held})")
    return counts.window(merged, plan)


def _in_flight() -> int:
    """Partitions counted at once: one per core here (each holds a partition's rows)."""
    return max(2, os.cpu_count() or 1)


def _stream_local(parts: list[Any], plan: counts.Plan, how: str, where: str) -> counts.Partial:
    """Batches of partitions on the local scheduler, each batch merged into the running total
    before the next is read: at most ``_in_flight()`` partitions and partials are held at once,
    whatever the number of partitions."""
    shipped = dask.delayed(plan, name=f"driftd-plan-{uuid.uuid4().hex}")  # once per batch
    count = dask.delayed(counts.count, pure=True)
    width = _in_flight()
    total: counts.Partial | None = None
    for start in range(0, len(parts), width):
        batch = [count(part, shipped) for part in parts[start : start + width]]
        for partial in _compute(batch, how, where):
            total = partial if total is None else counts.merge(total, partial)
    assert total is not None  # a dataset has at least one partition
    return total


def _stream_cluster(parts: list[Any], plan: counts.Plan, client: Any, where: str) -> counts.Partial:
    """Partitions counted on the cluster, a bounded number at a time, each partial merged here
    as it arrives: this process holds the running total and the partials in transit."""
    import distributed

    try:
        return _stream_on(client, parts, plan, distributed.as_completed)
    except DriftdError:
        raise
    except Exception as exc:  # a worker lost, a connection closed, a file unreadable
        text = " ".join(str(exc).split())[:300]
        raise DataError(
            f"{where}: the dask computation failed: {type(exc).__name__}: {text}"
        ) from None


def _stream_on(
    client: Any, parts: list[Any], plan: counts.Plan, as_completed: Any
) -> counts.Partial:
    # Futures inside a graph look for "the current client": this one, not a global default.
    with client.as_current():
        shipped = client.scatter(plan, broadcast=False)  # sent once, used by every task
        count = dask.delayed(counts.count, pure=True)
        width = 2 * max(1, sum(client.nthreads().values()))
        pending = iter(parts)
        running = as_completed(
            [client.compute(count(part, shipped)) for part in itertools.islice(pending, width)]
        )
        total: counts.Partial | None = None
        for future in running:
            partial = future.result()
            total = partial if total is None else counts.merge(total, partial)
            future.release()
            for part in itertools.islice(pending, 1):
                running.add(client.compute(count(part, shipped)))
    assert total is not None
    return total


def _show(moment: datetime | None) -> str:
    return _time.show(moment)
