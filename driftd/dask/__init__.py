"""Scale-out on Dask (the optional extra ``driftd[dask]``): the one home of ``import dask``.

Imported only when a model sets ``data.engine = "dask"`` or ``training.executor = "dask"``, or
``driftd drift --engine dask`` is asked for; nothing else in driftd imports it.

- :mod:`driftd.dask.engine`: reading partitioned Parquet (or CSV globs), the scheduler
  (``dask.scheduler``), and counting a live window partition by partition;
- :mod:`driftd.dask.counts`: the per-partition counts and their merge;
- :mod:`driftd.dask.cells`: live values of the reference's exact buckets, as counts per cell;
- :mod:`driftd.dask.reference`: the reference summary with every numeric column in buckets;
- :mod:`driftd.cycle.dask_check` (in the cycle package, which it belongs to) runs a daemon
  cycle's check on these;
- :mod:`driftd.dask.training`: a candidate trained on a cluster worker.
"""

from __future__ import annotations

from driftd.dask.engine import connect, count_window, read, read_frame
from driftd.dask.reference import require_binnable, summarize

__all__ = ["connect", "count_window", "read", "read_frame", "require_binnable", "summarize"]
