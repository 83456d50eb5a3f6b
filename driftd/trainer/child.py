"""The training child: ``python -m driftd.trainer.child SPEC.json``.

It sets its own resource limits before importing numpy, fits the model the spec describes (an
estimator, an entrypoint, or a command it runs), writes the artifact crash-safely into the
destination directory, and reports in a small JSON result file. Any exception becomes
``{"ok": false, "error": "..."}`` plus the full traceback in the log (its stdout/stderr).

The limits are set here rather than in a ``preexec_fn``: the daemon is multi-threaded, and
Python documents ``preexec_fn`` as unsafe (able to deadlock) in a process with threads. The
effect is the same, since nothing big is allocated before this runs.
"""

from __future__ import annotations

import json
import os
import re
import resource
import shlex
import signal
import subprocess
import sys
import time
import traceback
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

from driftd.errors import TrainingError
from driftd.trainer.artifacts import (
    PICKLE_NAME,
    SKOPS_NAME,
    TEMP_PREFIX,
    finalize_atomic,
    sha256_file,
    untrusted_types,
    write_atomic,
)
from driftd.trainer.env import code_record, command_files


def main(argv: Sequence[str]) -> int:
    spec = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    if spec.get("umask") is not None:
        os.umask(int(spec["umask"]))  # what the child and its command write gets driftd's modes
    _apply_limits(spec.get("memory_mb"), spec.get("cpu_seconds"))
    _die_with_parent(int(spec["parent_pid"]))
    result_path = Path(spec["result"])
    print(f"driftd training child pid={os.getpid()} way={spec['way']}", flush=True)
    started = time.monotonic()
    try:
        result = _run(spec)
    except BaseException as exc:  # report everything, even SystemExit from user code
        traceback.print_exc()
        sys.stderr.flush()
        _write_json(result_path, {"ok": False, "error": one_line(exc)})
        return 1
    result["fit_seconds"] = round(time.monotonic() - started, 3)
    _write_json(result_path, {"ok": True, **result})
    print(f"wrote {result['artifact']} sha256={result['sha256']}", flush=True)
    return 0


def one_line(exc: BaseException) -> str:
    """``Type: first sentence of the message`` on one line (driftd's TrainingError: no type).

    The first sentence, not the first line: scikit-learn writes "Cannot use median strategy
    with non-numeric data:" on one line and the value that broke it on the next.

    >>> one_line(ValueError("Cannot use median strategy with non-numeric data:\\n"
    ...                     "could not convert string to float: 'basic'. More detail."))
    "ValueError: Cannot use median strategy with non-numeric data: could not convert string \
to float: 'basic'."
    """
    text = first_sentence(str(exc))
    if isinstance(exc, TrainingError):
        return text[:500]
    return f"{type(exc).__name__}: {text}"[:500] if text else type(exc).__name__


def first_sentence(message: str) -> str:
    """The message's first sentence on one line: a line that ends mid-sentence (in a colon or
    comma) continues on the next; the text stops at the end of the first sentence.

    >>> first_sentence("bad value:\\n  'x' in column 'plan'. More.\\nSecond line.")
    "bad value: 'x' in column 'plan'."
    >>> first_sentence("column 'age' is unusable\\nsecond line")
    "column 'age' is unusable"
    """
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    text = lines[0] if lines else ""
    for line in lines[1:]:
        if not text.endswith((":", ",", ";", "(")):
            break
        text = f"{text} {line}"
    return re.split(r"(?<=[.!?])\s+(?=[A-Z])", text, maxsplit=1)[0]


def _apply_limits(memory_mb: int | None, cpu_seconds: int | None) -> None:
    # RLIMIT_AS caps virtual memory, which OpenBLAS over-reserves: a poor cap (see docs), but
    # the only one a process can set on itself. systemd's MemoryMax= is the real one.
    if memory_mb:
        _set_limit(resource.RLIMIT_AS, memory_mb * 1024 * 1024, memory_mb * 1024 * 1024)
    if cpu_seconds:
        # SIGXCPU at the soft limit; the hard limit (SIGKILL) is a backstop if it is caught.
        _set_limit(resource.RLIMIT_CPU, cpu_seconds, cpu_seconds + 5)


def _set_limit(which: int, soft: int, hard: int) -> None:
    _, current_hard = resource.getrlimit(which)
    if current_hard != resource.RLIM_INFINITY:
        hard = min(hard, current_hard)
        soft = min(soft, hard)
    resource.setrlimit(which, (soft, hard))


def _die_with_parent(parent_pid: int) -> None:
    """Linux: be SIGKILLed if the daemon dies, so a hung fit cannot outlive its timeout keeper."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, int(signal.SIGKILL), 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)


def _die_with_parent_hook() -> Callable[[], None] | None:
    """A ``preexec_fn`` that gives a command the same PDEATHSIG (None where prctl is missing).

    libc is looked up here, before the fork, so the hook only makes two system calls.
    """
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def hook() -> None:
        prctl(1, int(signal.SIGKILL), 0, 0, 0)  # 1 = PR_SET_PDEATHSIG
        if os.getppid() != parent:  # this child died before prctl took effect
            os._exit(1)

    return hook


def _run(spec: dict[str, Any]) -> dict[str, Any]:
    out_dir = Path(spec["out_dir"])
    if spec["way"] == "command":
        code = code_record("command", command_files(list(spec["command"])))
        return {**_run_command(spec["command"], Path(spec["train"]), out_dir), "code": code}
    import pandas as pd

    frame = pd.read_parquet(spec["train"])
    features: list[str] = list(spec["features"])
    target: str = spec["target"]
    if spec["way"] == "estimator":
        from driftd.config import TrainingConfig
        from driftd.trainer.estimator import build_estimator

        cfg = TrainingConfig(estimator=spec["estimator"], params=spec["params"], seed=spec["seed"])
        model = build_estimator(cfg, features, spec["categorical"])
        model.fit(frame[features], frame[target])
    else:
        fit = _entrypoint(spec["entrypoint"])
        module_file = getattr(sys.modules.get(fit.__module__), "__file__", None)
        code = code_record("entrypoint", [module_file] if module_file else [])
        model = fit(frame, features, target)
        _check_fitted(model, spec["entrypoint"])
    trusted = list(spec["trusted_types"])
    saved = _save(model, out_dir, allow_pickle=bool(spec["allow_pickle"]), trusted=trusted)
    return saved if spec["way"] == "estimator" else {**saved, "code": code}


def _entrypoint(text: str) -> Any:
    import importlib

    module_name, _, function = text.partition(":")
    fn = getattr(importlib.import_module(module_name), function, None)
    if not callable(fn):
        raise TrainingError(f"training.entrypoint: {module_name} has no function {function}")
    return fn


def _check_fitted(model: Any, where: str) -> None:
    if not callable(getattr(model, "predict", None)):
        raise TrainingError(f"{where} returned {type(model).__name__}, not a fitted estimator")
    if hasattr(model, "get_params"):
        from sklearn.exceptions import NotFittedError
        from sklearn.utils.validation import check_is_fitted

        try:
            check_is_fitted(model)
        except NotFittedError:
            raise TrainingError(f"{where} returned an unfitted {type(model).__name__}") from None


def _save(
    model: Any, out_dir: Path, *, allow_pickle: bool, trusted: Sequence[str]
) -> dict[str, Any]:
    """skops, unless it cannot hold the model with trusted types and pickle is allowed."""
    import skops.io

    data: bytes | None = None
    try:
        data = skops.io.dumps(model)
        bad = untrusted_types(data, trusted)
        problem = f"untrusted types {', '.join(bad)}" if bad else ""
    except Exception as exc:
        if not allow_pickle:
            raise
        problem = one_line(exc)
    if data is not None and (not problem or not allow_pickle):
        # Untrusted types are written anyway: the parent refuses them with the names listed.
        skops_bytes = data

        def write_skops(fh: IO[bytes]) -> None:
            fh.write(skops_bytes)

        dest = out_dir / SKOPS_NAME
        write_atomic(dest, write_skops)
        fmt = "skops"
    else:
        import pickle

        print(f"skops cannot save this model safely ({problem}); pickling it", flush=True)

        def write_pickle(fh: IO[bytes]) -> None:
            pickle.dump(model, fh, protocol=pickle.HIGHEST_PROTOCOL)

        dest = out_dir / PICKLE_NAME
        write_atomic(dest, write_pickle)
        fmt = "pickle"
    return {
        "artifact": dest.name,
        "format": fmt,
        "sha256": sha256_file(dest),
        "size": dest.stat().st_size,
        "model_type": f"{type(model).__module__}.{type(model).__qualname__}",
    }


def _run_command(command: Sequence[str], train: Path, out_dir: Path) -> dict[str, Any]:
    tmp = out_dir / f"{TEMP_PREFIX}command-{uuid.uuid4().hex[:12]}.skops"
    argv = [a.replace("{train}", str(train)).replace("{model}", str(tmp)) for a in command]
    print(f"running: {shlex.join(argv)}", flush=True)
    try:
        try:
            # Same process group as this child, so the timeout's killpg reaches it too. The
            # command dies with this child: if the daemon is killed (and so this child, by its
            # PDEATHSIG), a command left running would write after the next start-up sweep.
            rc = subprocess.run(
                argv,
                stdin=subprocess.DEVNULL,
                check=False,
                preexec_fn=_die_with_parent_hook(),  # safe: this child runs no threads
            ).returncode
        except OSError as exc:
            raise TrainingError(f"command {argv[0]!r} could not start: {exc.strerror}") from None
        if rc < 0:
            raise TrainingError(f"command killed by {signal.Signals(-rc).name}")
        if rc != 0:
            raise TrainingError(f"command exited with code {rc} (see the training log)")
        if not tmp.is_file():
            raise TrainingError("command exited 0 but did not write the {model} file")
        # Whether it is a skops file, and a trusted one, the parent checks (without loading).
        dest = out_dir / SKOPS_NAME
        finalize_atomic(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return {
        "artifact": dest.name,
        "format": "skops",
        "sha256": sha256_file(dest),
        "size": dest.stat().st_size,
        "model_type": "command",
    }


def _write_json(path: Path, payload: dict[str, Any]) -> None:
    data = json.dumps(payload, allow_nan=False).encode()

    def write(fh: IO[bytes]) -> None:
        fh.write(data)

    write_atomic(path, write)


if __name__ == "__main__":
    code = main(sys.argv[1:])
    # The result file is written: leave now. A normal interpreter exit joins the trainer's
    # non-daemon multiprocessing workers (forever, if they hang) and runs its atexit hooks, so a
    # crash would be reported as a timeout; the parent kills the group's stragglers anyway.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
