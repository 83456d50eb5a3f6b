"""Train candidates in an isolated child process; write and load artifacts safely.

Three ways to train, exactly one per model (``training.estimator`` is the default):

- ``estimator``: a dotted scikit-learn class, wrapped by :func:`build_estimator` in a Pipeline
  that imputes, one-hot encodes and scales;
- ``entrypoint``: ``"package.module:function"``, called with (frame, features, target) and
  returning a fitted estimator;
- ``command``: an argv run without a shell, with ``{train}`` (a Parquet file of the training
  frame) and ``{model}`` (where it must write a skops file).

Every way runs in a child process in its own session, with a wall-clock timeout that kills the
whole process group, optional RLIMIT_AS / RLIMIT_CPU caps, and its output in a log file. The
artifact is written to a temp file beside its final name, fsynced and renamed. Loading checks
the sha256 first and never executes the file (skops with an allow-list; pickle only by opt-in).

Public API: :func:`check_estimator`, :func:`build_estimator`, :func:`train`, :func:`load_model`,
:func:`environment`, :func:`sweep_temp_files`, :func:`terminate_all`, and for the start-up
sweep :func:`model_dirs`, :func:`list_version_dirs`, :func:`newest_mtime`, :func:`find_orphans`,
:func:`remove_dirs`. Heavy libraries
(pandas, scikit-learn, skops) are imported inside the functions that need them.
"""

from __future__ import annotations

from driftd.trainer.artifacts import TRUSTED_TYPES, load_model, sweep_temp_files
from driftd.trainer.estimator import build_estimator, check_estimator
from driftd.trainer.orphans import (
    VersionDir,
    find_orphans,
    list_version_dirs,
    model_dirs,
    newest_mtime,
    remove_dirs,
)
from driftd.trainer.process import Remote, environment, terminate_all, train

__all__ = [
    "TRUSTED_TYPES",
    "Remote",
    "VersionDir",
    "build_estimator",
    "check_estimator",
    "environment",
    "find_orphans",
    "list_version_dirs",
    "load_model",
    "model_dirs",
    "newest_mtime",
    "remove_dirs",
    "sweep_temp_files",
    "terminate_all",
    "train",
]
