"""The training child's environment, and the versions recorded with every trained model."""

from __future__ import annotations

import hashlib
import os
import platform
from pathlib import Path
from typing import Any

from driftd import __version__

THREADS = "1"  # BLAS/OpenMP threads per training child: the daemon shares a small machine
_STRIPPED_ENV = ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")
_THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def environment() -> dict[str, str]:
    """Versions that decide whether an artifact loads and predicts the same elsewhere.

    >>> sorted(environment())
    ['driftd', 'numpy', 'pandas', 'python', 'scipy', 'sklearn', 'skops']
    """
    from importlib import metadata

    out = {"python": platform.python_version(), "driftd": __version__}
    for key, dist in (
        ("numpy", "numpy"),
        ("scipy", "scipy"),
        ("pandas", "pandas"),
        ("sklearn", "scikit-learn"),
        ("skops", "skops"),
    ):
        try:
            out[key] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[key] = "not installed"
    return out


def child_environment(memory_capped: bool = False) -> dict[str, str]:
    """The parent's environment without systemd's notify/watchdog variables, BLAS threads capped.

    >>> env = child_environment()
    >>> "NOTIFY_SOCKET" in env, env["OMP_NUM_THREADS"]
    (False, '1')
    """
    env = {k: v for k, v in os.environ.items() if k not in _STRIPPED_ENV}
    env.update(dict.fromkeys(_THREAD_ENV, THREADS))
    env["PYTHONUNBUFFERED"] = "1"  # keep stdout and stderr interleaved in order in the log
    if memory_capped:
        # Under RLIMIT_AS, reserved-but-unused address space counts: glibc's per-thread arenas
        # and pyarrow's jemalloc pool cost ~200 MiB of it here before any data is touched.
        env.setdefault("MALLOC_ARENA_MAX", "2")
        env.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
    # From a source checkout (tests, `python -m driftd`), the child must import this same driftd.
    root = Path(__file__).resolve().parents[2]
    if root.name not in ("site-packages", "dist-packages"):
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(root), env.get("PYTHONPATH")) if p)
    return env


CODE_HASH_LIMIT = 64 * 1024 * 1024  # larger files named in a command are listed, not hashed


def code_record(way: str, files: list[str]) -> dict[str, Any] | None:
    """The user's training code as recorded with a version: each file's path and sha256.

    ``sha256`` at the top is the main file's: the entrypoint's module, or for a command the
    first script named after the program (else the program itself). None when there is no file
    (the estimator way runs only driftd's and scikit-learn's code, pinned by their versions).

    >>> import sys
    >>> record = code_record("command", [sys.executable])
    >>> record["way"], len(record["sha256"])
    ('command', 64)
    """
    entries = [_file_entry(path) for path in dict.fromkeys(files)]
    if not entries:
        return None
    main = entries[1] if way == "command" and len(entries) > 1 else entries[0]
    return {"way": way, "sha256": main["sha256"], "path": main["path"], "files": entries}


def command_files(argv: list[str]) -> list[str]:
    """Files a training command runs: the program (found on PATH) and existing file arguments.

    ``{train}`` and ``{model}`` are driftd's own files and are skipped.

    >>> import sys
    >>> found = command_files([sys.executable, "-c", "pass", "{train}"])
    >>> found == [os.path.realpath(sys.executable)]
    True
    """
    import shutil

    out: list[str] = []
    program = shutil.which(argv[0]) if argv else None
    if program:
        out.append(os.path.realpath(program))
    for arg in argv[1:]:
        if "{train}" in arg or "{model}" in arg:
            continue
        if os.path.isfile(arg):
            out.append(os.path.realpath(arg))
    return out


def _file_entry(path: str) -> dict[str, Any]:
    real = os.path.realpath(path)
    try:
        size = os.path.getsize(real)
        if size > CODE_HASH_LIMIT:
            return {"path": real, "size": size, "sha256": None}
        digest = hashlib.sha256()
        with open(real, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    except OSError as exc:
        return {"path": real, "size": None, "sha256": None, "error": exc.strerror or str(exc)}
    return {"path": real, "size": size, "sha256": digest.hexdigest()}
