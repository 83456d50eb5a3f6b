"""``training.executor = "dask"`` (issue 14.5) on a real distributed.LocalCluster with process
workers: the same child, spec and seed as a local training (identical predictions), the artifact
shipped back and hash-checked by the daemon; a job past its timeout is cancelled and fails; a
worker killed mid-training has the job rerun, and the candidate is still checked and usable."""

from __future__ import annotations

import os
import signal
import socket
import textwrap
import time
from collections.abc import Iterator
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

distributed = pytest.importorskip("distributed")

from driftd import trainer  # noqa: E402
from driftd.config import TrainingConfig  # noqa: E402
from driftd.errors import TrainingError  # noqa: E402
from driftd.trainer.artifacts import sha256_file  # noqa: E402

FITS = '''
import os, time
from pathlib import Path

def fit(frame, features, target):
    from sklearn.linear_model import LogisticRegression
    return LogisticRegression(max_iter=200).fit(frame[features], frame[target])

def slow_once(frame, features, target):
    """The first attempt says which worker runs it, then waits to be killed."""
    marker = Path(os.environ["DRIFTD_TEST_MARKER"])
    attempts = marker.read_text().split() if marker.exists() else []
    marker.write_text(" ".join([*attempts, str(os.getppid())]))
    if not attempts:
        time.sleep(120)
    return fit(frame, features, target)

def hang(frame, features, target):
    time.sleep(120)
'''


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One process worker (behind a nanny, which restarts it when killed), with the test's
    entrypoint module on its PYTHONPATH."""
    site = tmp_path_factory.mktemp("site")
    (site / "dask_fits.py").write_text(textwrap.dedent(FITS), encoding="utf-8")
    marker = tmp_path_factory.mktemp("marker") / "attempts"
    saved = {k: os.environ.get(k) for k in ("PYTHONPATH", "DRIFTD_TEST_MARKER")}
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(site), str(Path(__file__).parents[1]), saved["PYTHONPATH"]) if p
    )
    os.environ["DRIFTD_TEST_MARKER"] = str(marker)
    try:
        with distributed.LocalCluster(
            n_workers=1, processes=True, threads_per_worker=1, dashboard_address=None
        ) as local:
            yield local
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 3))
    frame = pd.DataFrame(x, columns=["a", "b", "c"])
    frame["y"] = (x[:, 0] + 0.5 * rng.normal(size=400) > 0).astype(int)
    return frame


def _train(cfg: TrainingConfig, tmp: Path, scheduler: str, name: str) -> Any:
    """Through the trainer as the cycle calls it: with the cluster runner for the dask
    executor (cycle/training._remote), the local child otherwise."""
    from driftd.dask.training import run_remote

    remote = partial(run_remote, scheduler=scheduler) if cfg.executor == "dask" else None
    return trainer.train(
        cfg,
        _frame(),
        features=["a", "b", "c"],
        categorical=[],
        target="y",
        out_dir=tmp / name,
        log_dir=tmp / "logs",
        remote=remote,
    )


@pytest.mark.slow  # two training children importing scikit-learn on a busy machine
def test_same_spec_and_seed_as_a_local_child(cluster: Any, tmp_path: Path) -> None:
    """A cluster-trained estimator gives the local child's predictions; its artifact is in the
    daemon's version directory with the sha256 the daemon checked, and the log tells where it
    ran."""
    cfg = TrainingConfig(
        estimator="sklearn.ensemble.RandomForestClassifier",
        params={"n_estimators": 20},
        seed=7,
        executor="dask",
    )
    remote = _train(cfg, tmp_path, cluster.scheduler_address, "remote")
    local = _train(TrainingConfig(**{**_fields(cfg), "executor": "process"}), tmp_path, "", "l")
    assert Path(remote.artifact_path).parent == tmp_path / "remote"
    assert sha256_file(Path(remote.artifact_path)) == remote.artifact_sha256
    assert remote.seed == local.seed == 7 and remote.data_sha256 == local.data_sha256
    x = _frame()[["a", "b", "c"]]
    ours = trainer.load_model(Path(remote.artifact_path), remote.artifact_sha256).predict_proba(x)
    theirs = trainer.load_model(Path(local.artifact_path), local.artifact_sha256).predict_proba(x)
    np.testing.assert_array_equal(ours, theirs)
    assert "on dask worker pid" in Path(remote.log_path).read_text()


def _fields(cfg: TrainingConfig) -> dict[str, Any]:
    return {name: getattr(cfg, name) for name in cfg.__slots__}


def test_past_its_timeout_the_job_is_cancelled_and_fails(cluster: Any, tmp_path: Path) -> None:
    """A fit that never ends: TrainingError naming the timeout within the timeout and a few
    seconds, and no artifact left in the version directory."""
    cfg = TrainingConfig(entrypoint="dask_fits:hang", timeout=timedelta(seconds=2), executor="dask")
    started = time.monotonic()
    with pytest.raises(TrainingError, match="timed out after 2s"):
        _train(cfg, tmp_path, cluster.scheduler_address, "hung")
    assert time.monotonic() - started < 20
    assert not [p for p in (tmp_path / "hung").iterdir() if not p.name.startswith(".")]


def test_unreachable_cluster_is_a_one_line_training_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No cluster configured, or nobody at the address: a one-line TrainingError saying so
    (the cycle records the training failed and the champion stays)."""
    from driftd.dask import engine

    cfg = TrainingConfig(executor="dask")
    with pytest.raises(TrainingError, match="needs a cluster"):
        _train(cfg, tmp_path, "threads", "local")
    monkeypatch.setattr(engine, "CONNECT_TIMEOUT", "1s")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{s.getsockname()[1]}"
    with pytest.raises(TrainingError, match=f"{address}: cannot reach the cluster") as caught:
        _train(cfg, tmp_path, address, "nowhere")
    assert "\n" not in str(caught.value)


@pytest.mark.slow  # two training children importing scikit-learn on a busy machine
def test_worker_killed_mid_training_reruns_the_job(cluster: Any, tmp_path: Path) -> None:
    """SIGKILL to the worker while it trains: the nanny restarts it, the scheduler reruns the
    job from the same spec, and the candidate comes back hash-checked and loadable."""
    marker = Path(os.environ["DRIFTD_TEST_MARKER"])
    marker.unlink(missing_ok=True)
    cfg = TrainingConfig(
        entrypoint="dask_fits:slow_once", timeout=timedelta(seconds=90), executor="dask"
    )
    import threading

    def kill_when_started() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not marker.exists():
            time.sleep(0.1)
        os.kill(int(marker.read_text().split()[0]), signal.SIGKILL)

    killer = threading.Thread(target=kill_when_started)
    killer.start()
    trained = _train(cfg, tmp_path, cluster.scheduler_address, "killed")
    killer.join()
    attempts = marker.read_text().split()
    assert len(attempts) == 2 and attempts[0] != attempts[1]  # rerun on the restarted worker
    assert sha256_file(Path(trained.artifact_path)) == trained.artifact_sha256
    model = trainer.load_model(Path(trained.artifact_path), trained.artifact_sha256)
    assert model.predict(_frame()[["a", "b", "c"]]).shape == (400,)


def test_a_cycle_trains_its_first_model_on_the_cluster(cluster: Any, tmp_path: Path) -> None:
    """data.engine and training.executor = "dask": the first cycle counts the partitioned live
    window, trains on the cluster's worker, and the daemon registers the version whose
    artifact (written by the daemon) matches the recorded sha256."""
    from datetime import UTC, datetime

    from driftd import config, cycle
    from driftd.registry.store import Registry

    now = datetime(2026, 3, 1, tzinfo=UTC)
    rng = np.random.default_rng(3)
    frame = _frame()
    frame["ts"] = pd.date_range(end=now, periods=len(frame), freq="10min")
    live = tmp_path / "live"
    live.mkdir()
    for i, chunk in enumerate(np.array_split(frame.index.to_numpy(), 4)):
        part = frame.loc[chunk].assign(a=lambda f: f["a"] + rng.normal(0, 0.01, len(f)))
        part.to_parquet(live / f"part-{i}.parquet", index=False)
    frame.to_parquet(tmp_path / "reference.parquet", index=False)
    raw = {
        "registry": "registry.db",
        "dask": {"scheduler": cluster.scheduler_address},
        "models": [
            {
                "name": "m",
                "every": "1d",
                "data": {
                    "reference": str(tmp_path / "reference.parquet"),
                    "live": str(live),
                    "timestamp": "ts",
                    "target": "y",
                    "window": "1d",
                    "engine": "dask",
                },
                "drift": {"prediction_drift": False, "baseline": "fixed"},
                "training": {"executor": "dask", "window": "7d"},
                "promotion": {"min_holdout": 20},
            }
        ],
    }
    cfg = config.parse(raw, base=tmp_path)
    with Registry.open(cfg.registry) as registry:
        result = cycle.run_cycle(cfg, cfg.models[0], registry, now)
    assert result.version_id is not None, result.error
    import sqlite3

    with sqlite3.connect(cfg.registry) as db:
        path, sha = db.execute(
            "SELECT artifact_path, artifact_sha256 FROM versions WHERE id = ?", (result.version_id,)
        ).fetchone()
    assert sha256_file(Path(path)) == sha
    assert "on dask worker pid" in Path(next((cfg.artifacts / "m" / "logs").iterdir())).read_text()
