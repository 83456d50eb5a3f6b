"""Training entrypoints that fail, for the daemon tests (``tests/test_daemon.py``).

Each runs inside driftd's real training child (``training.entrypoint =
"tests.helpers_daemon:NAME"``), appends one line ``NAME PID [WORKER_PID ...]`` to the file named
by ``$DRIFTD_TEST_PIDS`` (the daemon passes its environment on to the child), and then fails in
its own way. The test reads the pids back to prove that none of those processes outlived the
training.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

PIDS_ENV = "DRIFTD_TEST_PIDS"

_SLEEP = "import time\nwhile True: time.sleep(1)"
_DEAF = "import signal\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n" + _SLEEP


def _record(name: str, pids: list[int]) -> None:
    with Path(os.environ[PIDS_ENV]).open("a", encoding="utf-8") as fh:
        fh.write(f"{name} {' '.join(map(str, pids))}\n")


def _sleep_forever() -> None:
    while True:
        time.sleep(1)


def _workers() -> list[int]:
    """Two command workers (one deaf to SIGTERM) and two multiprocessing workers, all asleep."""
    procs = [
        subprocess.Popen([sys.executable, "-c", _SLEEP]),
        subprocess.Popen([sys.executable, "-c", _DEAF]),
    ]
    pool = [multiprocessing.Process(target=_sleep_forever) for _ in range(2)]
    for p in pool:
        p.start()
    time.sleep(0.3)  # let the deaf worker install its handler
    return [p.pid for p in procs] + [p.pid for p in pool if p.pid is not None]


def fail_fast(frame: Any, features: list[str], target: str) -> Any:
    _record("fail_fast", [os.getpid()])
    raise ValueError("no usable feature in this frame")


def crash(frame: Any, features: list[str], target: str) -> Any:
    _record("crash", [os.getpid()])
    os.kill(os.getpid(), signal.SIGKILL)


def hang(frame: Any, features: list[str], target: str) -> Any:
    _record("hang", [os.getpid()])
    _sleep_forever()


def workers_then_hang(frame: Any, features: list[str], target: str) -> Any:
    _record("workers_then_hang", [os.getpid(), *_workers()])
    _sleep_forever()


def workers_then_crash(frame: Any, features: list[str], target: str) -> Any:
    _record("workers_then_crash", [os.getpid(), *_workers()])
    raise RuntimeError("the worker pool lost a worker")


def eat_memory(frame: Any, features: list[str], target: str) -> Any:
    import numpy as np

    _record("eat_memory", [os.getpid()])
    hoard = []
    for _ in range(64):  # up to 4 GiB, touched so that it is really allocated
        hoard.append(np.ones(64 * 1024 * 1024 // 8))
    return hoard
