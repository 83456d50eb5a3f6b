"""``training.executor = "dask"``: the training child run on a cluster worker.

The daemon builds the same spec as for a local child (estimator or entrypoint or command,
params, seed, features, trusted types, limits) and submits it with the training frame's
Parquet bytes. The worker writes both to a private temporary directory, runs the very same
``python -m driftd.trainer.child`` in its own session under the same wall-clock timeout (the
group is killed past it), and returns the exit code, the child's result, its log and the
artifact's bytes. The daemon writes the artifact into the version directory itself (temp file,
fsync, rename), then :mod:`driftd.trainer.process` checks its sha256 against the one the worker
computed and its skops types, exactly as for a local child, before anything is registered: the
registry and the artifact store are written by the daemon alone, so neither needs to be shared
with the workers (driftd itself, and an entrypoint's package, must be installed on them).

Past ``training.timeout`` (plus a grace for the transfer) the future is cancelled and the
training recorded failed. A worker lost mid-training is the scheduler's to handle: it reruns the
job elsewhere up to ``distributed.scheduler.allowed-failures`` times, then the training fails
with ``KilledWorker``; a rerun starts from the same spec and seed.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import IO, Any

from driftd.config import TrainingConfig
from driftd.durations import format_duration
from driftd.errors import DriftdError, TrainingError
from driftd.trainer.artifacts import write_atomic
from driftd.trainer.env import child_environment

TRANSFER_GRACE_S = 30.0  # beyond training.timeout: shipping the frame and the artifact back
KILL_GRACE_S = 2.0


def run_remote(
    spec: dict[str, Any], work: Path, log_path: Path, cfg: TrainingConfig, *, scheduler: str
) -> tuple[int, str]:
    """Run ``spec`` on the cluster at ``scheduler``; like the local child's runner it returns
    (exit code, why it was killed) and leaves ``result.json`` in ``work`` and the artifact in
    ``spec["out_dir"]``. TrainingError when the cluster is unreachable or loses the job."""
    from driftd.dask.engine import connect

    if "://" not in scheduler:
        raise TrainingError(
            'training.executor = "dask" needs a cluster: set dask.scheduler to '
            f'"tcp://host:port" (got {scheduler!r})'
        )
    payload = Path(spec["train"]).read_bytes()
    timeout = cfg.timeout.total_seconds()
    try:
        with connect(scheduler) as client:
            future = client.submit(
                train_on_worker, spec, payload, timeout, pure=False, key=_key(spec)
            )
            try:
                outcome: dict[str, Any] = future.result(timeout=timeout + TRANSFER_GRACE_S)
            except (TimeoutError, concurrent.futures.TimeoutError):
                future.cancel()
                return -int(signal.SIGKILL), (
                    f"timed out after {format_duration(cfg.timeout)} on the dask cluster "
                    "(job cancelled)"
                )
    except DriftdError as exc:
        raise TrainingError(str(exc)) from None
    except Exception as exc:  # KilledWorker, a lost connection: one line, recorded as failed
        text = " ".join(str(exc).split())[:300]
        raise TrainingError(
            f"training on the dask cluster failed: {type(exc).__name__}: {text}"
        ) from None
    with log_path.open("ab") as log:
        log.write(outcome["log"])
    if outcome["result"] is not None:
        (work / "result.json").write_text(json.dumps(outcome["result"]), encoding="utf-8")
    name, data = outcome["artifact_name"], outcome["artifact"]
    if isinstance(name, str) and isinstance(data, bytes) and name == os.path.basename(name):
        write_atomic(Path(spec["out_dir"]) / name, lambda fh: _write(fh, data))
    return int(outcome["rc"]), str(outcome["why"])


def _write(fh: IO[bytes], data: bytes) -> None:
    fh.write(data)


def _key(spec: dict[str, Any]) -> str:
    return f"driftd-train-{Path(spec['out_dir']).name}"


def train_on_worker(spec: dict[str, Any], payload: bytes, timeout: float) -> dict[str, Any]:
    """On the worker: the child run on a private copy of the spec; what the daemon needs back.

    Runs in the worker process, which is the child's parent: the child dies with it (PDEATHSIG),
    so a killed worker leaves no fit behind."""
    work = Path(tempfile.mkdtemp(prefix="driftd-train-"))
    try:
        out_dir = work / "out"
        out_dir.mkdir()
        (work / "train.parquet").write_bytes(payload)
        local = {
            **spec,
            "train": str(work / "train.parquet"),
            "out_dir": str(out_dir),
            "result": str(work / "result.json"),
            "parent_pid": os.getpid(),
        }
        (work / "spec.json").write_text(json.dumps(local), encoding="utf-8")
        log_file = work / "train.log"
        rc, why = _run(work / "spec.json", log_file, timeout, bool(spec.get("memory_mb")))
        result = _json(work / "result.json")
        name = result.get("artifact") if isinstance(result, dict) else None
        artifact = out_dir / name if isinstance(name, str) else None
        data = artifact.read_bytes() if artifact is not None and artifact.is_file() else None
        return {
            "rc": rc,
            "why": why,
            "result": result,
            "artifact_name": name,
            "artifact": data,
            "log": log_file.read_bytes() if log_file.exists() else b"",
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _run(spec_file: Path, log_file: Path, timeout: float, memory_capped: bool) -> tuple[int, str]:
    argv = [sys.executable, "-P", "-m", "driftd.trainer.child", str(spec_file)]
    with log_file.open("ab") as log:
        log.write(f"--- driftd training on dask worker pid {os.getpid()}\n".encode())
        log.flush()
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=child_environment(memory_capped=bool(memory_capped)),
            start_new_session=True,
        )
        why = ""
        try:
            rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            spent = format_duration(timedelta(seconds=timeout))
            why = f"timed out after {spent} on dask worker pid {os.getpid()}"
            _kill(proc)
            rc = proc.wait()
        log.write(f"--- exit code {rc}{'; ' + why if why else ''}\n".encode())
    return rc, why


def _kill(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the child's group, SIGKILL after KILL_GRACE_S."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + KILL_GRACE_S
        while time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)


def _json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
