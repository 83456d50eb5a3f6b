"""Training entrypoints for tests: they fit, crash, hang, spawn workers, eat memory or CPU.

They run inside driftd's real training child (``training.entrypoint =
"tests.helpers_training:NAME"``). ``python -m tests.helpers_training TRAIN MODEL`` is a training
*command*: it reads the Parquet file and writes a skops file.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

PIDFILE_ENV = "DRIFTD_TEST_PIDFILE"


def fit_logistic(frame: pd.DataFrame, features: list[str], target: str) -> Any:
    from sklearn.linear_model import LogisticRegression

    numeric = [c for c in features if pd.api.types.is_numeric_dtype(frame[c])]
    model = LogisticRegression().fit(frame[numeric].fillna(0.0), frame[target])
    model.feature_names_in_ = np.asarray(numeric, dtype=object)
    return model


class MeanModel:
    """A custom (non-scikit-learn) model: skops can store it, but only as an untrusted type."""

    def __init__(self, mean: float) -> None:
        self.mean = mean

    def predict(self, x: pd.DataFrame) -> np.ndarray:
        return np.full(len(x), self.mean)


def fit_custom(frame: pd.DataFrame, features: list[str], target: str) -> MeanModel:
    return MeanModel(float(frame[target].mean()))


def raise_value_error(frame: pd.DataFrame, features: list[str], target: str) -> Any:
    raise ValueError(f"column {features[0]!r} is unusable\nsecond line")


def crash_sigkill(frame: pd.DataFrame, features: list[str], target: str) -> Any:
    os.kill(os.getpid(), signal.SIGKILL)


def exit_hard(frame: pd.DataFrame, features: list[str], target: str) -> Any:
    os._exit(3)


def return_garbage(frame: pd.DataFrame, features: list[str], target: str) -> Any:
    return "not a model"


def return_unfitted(frame: pd.DataFrame, features: list[str], target: str) -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression()


def eat_memory(frame: pd.DataFrame, features: list[str], target: str) -> Any:
    hoard = []
    for _ in range(64):  # up to 4 GiB, touched so that it is really allocated
        block = np.ones(64 * 1024 * 1024 // 8)
        hoard.append(block)
    return hoard


def burn_cpu(frame: pd.DataFrame, features: list[str], target: str) -> Any:
    x = 0
    while True:
        x += 1


def hang_with_workers(frame: pd.DataFrame, features: list[str], target: str) -> Any:
    """Start two workers, one deaf to SIGTERM, record every pid, then hang."""
    code = "import time\nwhile True: time.sleep(1)"
    deaf = "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n" + code
    workers = [
        subprocess.Popen([sys.executable, "-c", code]),
        subprocess.Popen([sys.executable, "-c", deaf]),
    ]
    time.sleep(0.3)  # let the deaf worker install its handler
    pids = [os.getpid()] + [w.pid for w in workers]
    Path(os.environ[PIDFILE_ENV]).write_text(" ".join(map(str, pids)))
    while True:
        time.sleep(1)


def report_environment(frame: pd.DataFrame, features: list[str], target: str) -> Any:
    """Write the child's environment to the pid file path, then fit normally."""
    keys = ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "OMP_NUM_THREADS")
    seen = {k: os.environ.get(k, "<unset>") for k in keys}
    seen["pgid_is_pid"] = str(os.getpgid(0) == os.getpid())
    Path(os.environ[PIDFILE_ENV]).write_text(repr(seen))
    return fit_logistic(frame, features, target)


def _command(train: str, model: str, mode: str = "ok") -> int:
    if mode == "fail":
        print("refusing to train", file=sys.stderr)
        return 4
    if mode == "nothing":
        return 0
    if mode == "pickle":
        import pickle

        Path(model).write_bytes(pickle.dumps({"not": "skops"}))
        return 0
    import skops.io

    frame = pd.read_parquet(train)
    target = frame.columns[-1]
    fitted = fit_logistic(frame, list(frame.columns[:-1]), target)
    skops.io.dump(fitted, model)
    return 0


if __name__ == "__main__":
    sys.exit(_command(*sys.argv[1:]))
