"""The parent side of training: start the child, enforce the wall clock, kill its whole group.

The child runs in its own session (``start_new_session=True``), so its process group holds it,
its joblib/loky workers and any command it runs. On timeout the group gets SIGTERM, then SIGKILL
after :data:`KILL_GRACE_S`. The child is waited for with ``WNOWAIT``: it stays a zombie until the
group has been swept, so its pid (the group id) cannot be reused by an unrelated process while
driftd still signals that group. After every exit, even a clean one, stragglers are killed.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from driftd import schema
from driftd.config import TrainingConfig
from driftd.domain import TrainedModel
from driftd.durations import format_duration
from driftd.errors import DataError, DriftdError, TrainingError
from driftd.permissions import Access, secure
from driftd.trainer.artifacts import SKOPS_NAME, sha256_file, untrusted_types
from driftd.trainer.env import child_environment, environment
from driftd.trainer.groups import (
    exited,
    group_alive,
    group_members,
    kill_group,
    signal_group,
    wait_group_gone,
)
from driftd.trainer.inputs import refuse_infinities

if TYPE_CHECKING:
    import pandas as pd

KILL_GRACE_S = 2.0

_lock = threading.Lock()
_active: dict[int, subprocess.Popen[bytes]] = {}
_stopped: set[int] = set()


# Runs the training child somewhere else: (spec, work dir, log path, config) -> (exit code,
# why it was killed), leaving result.json in the work dir as the local child does.
Remote = Callable[[dict[str, Any], Path, Path, TrainingConfig], tuple[int, str]]


def train(
    cfg: TrainingConfig,
    frame: pd.DataFrame,
    *,
    features: Sequence[str],
    categorical: Sequence[str],
    target: str,
    out_dir: Path,
    log_dir: Path,
    timestamp: str | None = None,
    access: Access | None = None,
    remote: Remote | None = None,
) -> TrainedModel:
    """Fit a candidate in a child process and write ``out_dir/model.skops``.

    Raises TrainingError with a one-line reason when the child times out, crashes, fails or
    returns something unusable; the child's full output is in the log file in ``log_dir``.
    ``timestamp`` (optional) names a column whose range is recorded as time_min/time_max.
    ``access`` (the config's ``group``) sets the modes and group of what is written: the child
    runs under the matching umask, and the parent fixes the log and the artifact.
    ``remote`` runs the child elsewhere (``training.executor = "dask"``: the cycle passes
    :func:`driftd.dask.training.run_remote`); without it the child runs here, as ``driftd
    reproduce`` does whatever the executor.
    """
    from driftd.fingerprint import frame_sha256

    features = list(features)
    columns = [*features, target]
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise TrainingError(f"training frame lacks column(s) {', '.join(map(repr, missing))}")
    if len(frame) == 0:
        raise TrainingError("training frame has no rows")
    if frame[target].isna().any():
        count = int(frame[target].isna().sum())
        raise TrainingError(f"training frame: target column {target!r} has {count} missing values")
    try:
        # The drift check's rule (driftd.schema): what it compares as categories is encoded.
        categorical = schema.infer(frame[features], categorical).categorical
    except DataError as exc:
        raise TrainingError(f"training frame: {exc}") from None
    if cfg.way == "estimator":  # sklearn's own refusal of infinity names no column
        refuse_infinities(frame, [c for c in features if c not in set(categorical)], target)
    out_dir = Path(out_dir)
    log_dir = Path(log_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        log_dir.mkdir(parents=True, exist_ok=True)
        # Beside the artifact, not in /tmp (often a RAM-backed tmpfs); a crash leaves a `.tmp-`
        # directory that sweep_temp_files removes.
        work = Path(tempfile.mkdtemp(prefix=".tmp-train-", dir=out_dir))
    except OSError as exc:
        raise TrainingError(f"{out_dir}: cannot create: {exc.strerror or exc}") from None
    started = time.monotonic()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    log_path = log_dir / f"train-{stamp}-{out_dir.name}.log"
    try:
        train_file = work / "train.parquet"
        try:
            frame[columns].to_parquet(train_file, index=False)
        except Exception as exc:  # pyarrow raises its own types for unconvertible columns
            raise TrainingError(f"cannot write the training frame as Parquet: {exc}") from None
        spec = {
            "way": cfg.way,
            "estimator": cfg.estimator,
            "params": dict(cfg.params),
            "entrypoint": cfg.entrypoint,
            "command": list(cfg.command or ()),
            "seed": cfg.seed,
            "features": features,
            "categorical": list(categorical),
            "target": target,
            "train": str(train_file.resolve()),
            "out_dir": str(out_dir.resolve()),
            "result": str((work / "result.json").resolve()),
            "allow_pickle": cfg.allow_pickle and cfg.way != "command",
            "trusted_types": list(cfg.trusted_types),
            "memory_mb": cfg.memory_mb,
            "cpu_seconds": cfg.cpu_seconds,
            "parent_pid": os.getpid(),
            "umask": access.umask if access is not None else None,
        }
        spec_file = work / "spec.json"
        spec_file.write_text(json.dumps(spec, allow_nan=False), encoding="utf-8")
        try:
            if remote is not None:  # the same child on a cluster worker
                rc, why = remote(spec, work, log_path, cfg)
            else:
                rc, why = _run_child(spec_file, log_path, cfg)
        except OSError as exc:  # the log or work directory is unwritable
            raise TrainingError(f"{exc.filename or log_path}: {exc.strerror or exc}") from None
        result = _read_result(work / "result.json")
        if access is not None:
            _secure(log_path, access)
        artifact, sha, size = _check_outcome(
            cfg, rc=rc, why=why, result=result, out_dir=out_dir, log_path=log_path
        )
        if access is not None:
            _secure(artifact, access)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return TrainedModel(
        artifact_path=str(artifact),
        artifact_sha256=sha,
        artifact_size=size,
        estimator=_describe_way(cfg),
        params=dict(cfg.params),
        data_sha256=frame_sha256(frame, columns=columns),
        n_rows=len(frame),
        time_min=_time_bound(frame, timestamp, "min"),
        time_max=_time_bound(frame, timestamp, "max"),
        seed=cfg.seed,
        duration_s=round(time.monotonic() - started, 3),
        log_path=str(log_path),
        features=tuple(features),
        environment=environment(),
        code=_code(result),
    )


def terminate_all(grace: float = KILL_GRACE_S) -> int:
    """Kill every running training group (daemon shutdown); return how many were running.

    Each :func:`train` waiting on one of them raises TrainingError("training stopped ...").
    """
    with _lock:
        pgids = list(_active)
        _stopped.update(pgids)
    for pgid in pgids:
        signal_group(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(group_alive(p) for p in pgids):
        time.sleep(0.05)
    for pgid in pgids:
        signal_group(pgid, signal.SIGKILL)
    return len(pgids)


def _run_child(spec_file: Path, log_path: Path, cfg: TrainingConfig) -> tuple[int, str]:
    """Run the child to completion or to its timeout; return (exit code, why it was killed)."""
    timeout = cfg.timeout.total_seconds()
    # -P (safe path): `-m` would put the working directory first on sys.path, so a `driftd/`
    # folder there would be imported instead of this driftd. PYTHONPATH still applies (a
    # source checkout, an entrypoint's package); -I would drop it too.
    argv = [sys.executable, "-P", "-m", "driftd.trainer.child", str(spec_file)]
    with log_path.open("ab") as log:
        header = f"--- driftd training {datetime.now(UTC).isoformat(timespec='seconds')} "
        log.write(f"{header}way={cfg.way} timeout={format_duration(cfg.timeout)}\n".encode())
        log.flush()
        try:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=child_environment(memory_capped=bool(cfg.memory_mb)),
                start_new_session=True,
            )
        except OSError as exc:
            raise TrainingError(f"cannot start the training child: {exc.strerror}") from None
        pgid = proc.pid  # a session leader's pid is its group id
        with _lock:
            _active[pgid] = proc
        why = ""
        try:
            deadline = time.monotonic() + timeout
            delay = 0.01
            while not exited(proc.pid):
                left = deadline - time.monotonic()
                if left <= 0:
                    why = f"timed out after {format_duration(cfg.timeout)}"
                    kill_group(pgid, KILL_GRACE_S)
                    break
                time.sleep(min(delay, left))
                delay = min(delay * 2, 0.2)
            # The leader is an unreaped zombie here, so `pgid` is still ours: sweep stragglers.
            signal_group(pgid, signal.SIGKILL)
            rc = proc.wait()
            wait_group_gone(pgid, 1.0)
        finally:
            with _lock:
                _active.pop(pgid, None)
                if pgid in _stopped:
                    _stopped.discard(pgid)
                    why = why or "stopped: driftd is shutting down"
        log.write(f"--- exit code {rc}{'; ' + why if why else ''}\n".encode())
    return rc, why


def _check_outcome(
    cfg: TrainingConfig,
    *,
    rc: int,
    why: str,
    result: dict[str, Any] | None,
    out_dir: Path,
    log_path: Path,
) -> tuple[Path, str, int]:
    if why:
        raise TrainingError(f"training {why}; process group killed")
    if result is not None and result.get("ok") is False:
        error = str(result.get("error") or "unknown error")
        if cfg.memory_mb and error.startswith("MemoryError"):
            error += f" (training.memory_mb = {cfg.memory_mb} reached)"
        raise TrainingError(f"training failed: {error}")
    if rc != 0:
        raise TrainingError(f"training crashed: {describe_exit(rc, cfg)}{_last_line(log_path)}")
    if result is None or not isinstance(result.get("artifact"), str):
        raise TrainingError("training returned garbage: no valid result file from the child")
    artifact = out_dir / result["artifact"]
    if artifact.name not in (SKOPS_NAME, "model.pkl") or not artifact.is_file():
        raise TrainingError(f"training returned garbage: artifact {artifact} is missing")
    sha = sha256_file(artifact)
    if sha != result.get("sha256"):
        raise TrainingError(f"training returned garbage: {artifact} does not match its sha256")
    if artifact.name == SKOPS_NAME:
        try:
            bad = untrusted_types(artifact.read_bytes(), cfg.trusted_types)
        except ValueError as exc:
            artifact.unlink(missing_ok=True)  # never to be loaded: do not leave it lying around
            raise TrainingError(f"training returned garbage: {artifact.name} is {exc}") from None
        if bad:
            raise TrainingError(
                f"training wrote untrusted types {', '.join(bad)}; add them to "
                "training.trusted_types if you trust the code that trains"
            )
    return artifact, sha, artifact.stat().st_size


def describe_exit(rc: int, cfg: TrainingConfig | None = None) -> str:
    """An exit status for humans.

    >>> describe_exit(-9)
    'exit code -9 (killed: SIGKILL, out of memory?)'
    >>> describe_exit(3)
    'exit code 3'
    """
    if rc >= 0:
        hint = ""
        if rc == 1 and cfg is not None and cfg.memory_mb:
            hint = f" (training.memory_mb = {cfg.memory_mb} may be too low for numpy/OpenBLAS)"
        return f"exit code {rc}{hint}"
    try:
        name = signal.Signals(-rc).name
    except ValueError:
        name = f"signal {-rc}"
    hints = {
        "SIGKILL": "out of memory?",
        "SIGXCPU": "training.cpu_seconds exceeded",
        "SIGSEGV": "crash in native code",
        "SIGABRT": "aborted in native code",
    }
    hint = hints.get(name, "")
    if name == "SIGXCPU" and cfg is not None and cfg.cpu_seconds:
        hint = f"training.cpu_seconds = {cfg.cpu_seconds} exceeded"
    return f"exit code {rc} (killed: {name}{', ' + hint if hint else ''})"


def _describe_way(cfg: TrainingConfig) -> str:
    if cfg.way == "entrypoint":
        return f"entrypoint:{cfg.entrypoint}"
    if cfg.way == "command":
        import shlex

        return f"command:{shlex.join(cfg.command or ())}"
    return cfg.estimator


def _time_bound(frame: pd.DataFrame, column: str | None, which: str) -> str | None:
    """The earliest or latest time in ``column``, ISO-8601 in UTC (``+00:00``).

    A column not parsed yet (the reference as read from CSV) is parsed as sources does: text
    as ISO-8601 (naive is UTC), numbers as epoch seconds. Unparseable values are ignored.
    """
    import pandas as pd

    if column is None or column not in frame.columns:
        return None
    values = frame[column]
    dtype = values.dtype
    if isinstance(dtype, pd.DatetimeTZDtype):
        values = values.dt.tz_convert("UTC")
    elif pd.api.types.is_datetime64_dtype(dtype):
        values = values.dt.tz_localize("UTC")
    elif pd.api.types.is_bool_dtype(dtype):
        return None
    elif pd.api.types.is_numeric_dtype(dtype):
        values = pd.to_datetime(values, unit="s", utc=True, errors="coerce")
    else:
        values = pd.to_datetime(values, utc=True, errors="coerce", format="ISO8601")
    values = values.dropna()
    if len(values) == 0:
        return None
    value = values.min() if which == "min" else values.max()
    return str(value.tz_convert("UTC").isoformat())


def _code(result: dict[str, Any] | None) -> dict[str, Any] | None:
    code = (result or {}).get("code")
    return code if isinstance(code, dict) else None


def _secure(path: Path, access: Access) -> None:
    try:
        secure(path, access)
    except DriftdError as exc:
        raise TrainingError(str(exc)) from None


def _read_result(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _last_line(log_path: Path) -> str:
    """``; last log line: ...`` for a crash without a Python exception (native abort, rlimit)."""
    try:
        with log_path.open("rb") as fh:
            fh.seek(max(0, fh.seek(0, os.SEEK_END) - 4096))
            lines = [ln.strip() for ln in fh.read().decode(errors="replace").splitlines()]
    except OSError:
        return ""
    ours = ("--- ", "driftd training child ")  # our own header lines say nothing of the crash
    lines = [ln for ln in lines if ln and not ln.startswith(ours)]
    return f"; last log line: {lines[-1][:200]}" if lines else ""


__all__ = [
    "KILL_GRACE_S",
    "describe_exit",
    "environment",
    "group_members",
    "terminate_all",
    "train",
]
