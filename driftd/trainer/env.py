"""The training child's environment, and the versions recorded with every trained model."""

from __future__ import annotations

import os
import platform
from pathlib import Path

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
