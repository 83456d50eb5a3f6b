"""The dask engine (issue 14.4): a live window in Parquet partitions, counted per partition and
merged, gives the in-memory path's results (exact category and missing counts, KS within the
binned bound), through the library, `driftd drift --engine dask`, a daemon cycle and a real
distributed cluster reached by address; an unreachable cluster fails the cycle in one line."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")

from driftd import config, cycle, detect, stats  # noqa: E402
from driftd.config import DriftConfig  # noqa: E402
from driftd.dask import compare, engine  # noqa: E402
from driftd.domain import DriftReport, FeatureState  # noqa: E402
from driftd.errors import DataError  # noqa: E402
from driftd.registry.store import Registry  # noqa: E402

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def _frame(
    n: int, seed: int, shift: float = 0.0, start: datetime | None = None, inf: bool = True
) -> pd.DataFrame:
    """Numeric (normal, skewed, integer-valued, with NaN and inf), and categorical columns."""
    rng = np.random.default_rng(seed)
    odd = rng.normal(shift, 1.0, n)
    odd[rng.random(n) < 0.02] = np.nan
    odd[rng.random(n) < (0.001 if inf else 0.0)] = np.inf
    levels = ["a", "b", "c", "d"] if shift == 0 else ["a", "b", "c", "d", "new"]
    plan = rng.choice(levels, n).astype(object)
    plan[rng.random(n) < 0.01] = None
    frame = pd.DataFrame(
        {
            "x": rng.normal(shift, 1.0, n),
            "y": rng.lognormal(0.0, 1.0 + shift, n),
            "k": rng.poisson(3 + shift, n).astype(np.float64),
            "odd": odd,
            "plan": plan,
        }
    )
    if start is not None:
        frame.insert(0, "ts", start + (np.arange(n) + 1) * (NOW - start) / n)
    return frame


def _partitions(frame: pd.DataFrame, directory: Path, parts: int) -> Path:
    directory.mkdir(parents=True)
    for i, chunk in enumerate(np.array_split(np.arange(len(frame)), parts)):
        frame.iloc[chunk].to_parquet(directory / f"part-{i:03d}.parquet", index=False)
    return directory


def _same(memory: DriftReport, dask: DriftReport, tolerance: float) -> None:
    by_name = {f.feature: f for f in dask.features}
    assert memory.verdict == dask.verdict
    assert memory.n_live == dask.n_live
    for m in memory.features:
        d = by_name[m.feature]
        assert (m.feature, m.state, m.n_live, m.n_ref) == (d.feature, d.state, d.n_live, d.n_ref)
        assert m.missing_live == d.missing_live and m.missing_ref == d.missing_ref
        assert m.statistic is not None and d.statistic is not None
        if m.test == "ks":
            assert abs(m.statistic - d.statistic) <= tolerance
            assert m.effect is not None and d.effect is not None
            assert abs(m.effect - d.effect) <= 0.01
        else:  # category counts are exact: the same statistic and p-value
            assert m.statistic == pytest.approx(d.statistic, rel=1e-12)
            assert m.p_value == pytest.approx(d.p_value, rel=1e-9)
            assert m.new_category_mass == d.new_category_mass


@pytest.mark.parametrize("shift", [0.0, 0.3])
def test_partitions_merge_to_the_in_memory_result(tmp_path: Path, shift: float) -> None:
    """A 60,000-row window in 7 Parquet partitions against a 3,000-row reference: the dask
    engine's states, live counts and missing rates equal the in-memory path's, its KS
    statistics are within the binned TOLERANCE of the exact ones, and its chi-square is
    identical; with no drift both say ok, shifted both say drift."""
    reference = _frame(3_000, seed=1)
    live = _frame(60_000, seed=2, shift=shift)
    directory = _partitions(live, tmp_path / "live", 7)
    kinds = detect.infer_kinds(reference, ["plan"])
    cfg = DriftConfig()
    memory = detect.compare_frames(reference, live, kinds, cfg)
    counted = compare.compare(reference, str(directory), kinds, cfg, "threads")
    _same(memory, counted, stats.binned.TOLERANCE)
    assert memory.drifted == counted.drifted
    assert bool(counted.drifted) is (shift > 0)


def test_large_reference_gives_identical_numbers(tmp_path: Path) -> None:
    """With a reference of 120,000 rows both engines bucket it the same way, so the merged
    partition counts give exactly the in-memory statistics and p-values."""
    reference = _frame(120_000, seed=3)
    live = _frame(40_000, seed=4, shift=0.05)
    directory = _partitions(live, tmp_path / "live", 4)
    kinds = detect.infer_kinds(reference, ["plan"])
    memory = detect.compare_frames(reference, live, kinds, DriftConfig())
    counted = compare.compare(reference, str(directory), kinds, DriftConfig(), "threads")
    pairs = {f.feature: f for f in counted.features}
    for m in memory.features:
        assert (m.statistic, m.p_value, m.state) == (
            pairs[m.feature].statistic,
            pairs[m.feature].p_value,
            pairs[m.feature].state,
        )


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "driftd", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_drift_cli_engine_dask_matches_pandas(tmp_path: Path) -> None:
    """`driftd drift REF DIR --engine dask --json` on a partitioned live window gives the
    states and exit code (1: drift) of `driftd drift REF FILE` on the same rows in one file."""
    reference = _frame(3_000, seed=5)
    live = _frame(30_000, seed=6, shift=0.3)
    reference.to_parquet(tmp_path / "ref.parquet", index=False)
    live.to_parquet(tmp_path / "live.parquet", index=False)
    directory = _partitions(live, tmp_path / "live", 3)
    ref = str(tmp_path / "ref.parquet")
    on_pandas = _cli("drift", ref, str(tmp_path / "live.parquet"), "--json")
    on_dask = _cli("drift", ref, str(directory), "--engine", "dask", "--json")
    assert on_pandas.returncode == on_dask.returncode == 1, on_dask.stderr
    mine, theirs = json.loads(on_dask.stdout), json.loads(on_pandas.stdout)
    assert mine["engine"] == "dask"
    states = {f["feature"]: f["state"] for f in mine["features"]}
    assert states == {f["feature"]: f["state"] for f in theirs["features"]}
    assert states["x"] == "drift"


def test_drift_cli_unreachable_cluster_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`driftd drift ... --engine dask --scheduler tcp://...` with nobody listening there:
    exit 2 and one stderr line naming the address (in-process, with a 1 s connect timeout
    instead of 10 s)."""
    from driftd import cli

    monkeypatch.setattr(engine, "CONNECT_TIMEOUT", "1s")
    _frame(500, seed=7).to_parquet(tmp_path / "ref.parquet", index=False)
    _partitions(_frame(500, seed=8), tmp_path / "live", 2)
    address = f"tcp://127.0.0.1:{_free_port()}"
    argv = [str(tmp_path / "ref.parquet"), str(tmp_path / "live"), "--engine", "dask"]
    code = cli.main(["drift", *argv, "--scheduler", address])
    assert code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and address in lines[0] and "cannot reach the cluster" in lines[0]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_local_cluster_by_address_counts_the_same(tmp_path: Path) -> None:
    """The same window counted on a real distributed.LocalCluster reached by its tcp://
    address gives exactly the counts of the local threaded scheduler."""
    reference = _frame(3_000, seed=9)
    directory = _partitions(_frame(20_000, seed=10, shift=0.1), tmp_path / "live", 5)
    kinds = detect.infer_kinds(reference, ["plan"])
    with distributed.LocalCluster(
        n_workers=1, processes=False, threads_per_worker=2, dashboard_address=None
    ) as cluster:
        on_cluster = compare.compare(
            reference, str(directory), kinds, DriftConfig(), cluster.scheduler_address
        )
    local = compare.compare(reference, str(directory), kinds, DriftConfig(), "threads")
    assert [(f.feature, f.statistic, f.p_value) for f in on_cluster.features] == [
        (f.feature, f.statistic, f.p_value) for f in local.features
    ]


def test_bad_sources_are_one_line_errors(tmp_path: Path) -> None:
    """A missing dataset and a missing column are DataErrors naming the path and column."""
    reference = _frame(500, seed=11)
    kinds = detect.infer_kinds(reference, ["plan"])
    with pytest.raises(DataError, match="nowhere"):
        compare.compare(reference, str(tmp_path / "nowhere"), kinds, DriftConfig(), "threads")
    directory = _partitions(_frame(500, seed=12).drop(columns="y"), tmp_path / "live", 2)
    with pytest.raises(DataError, match=r"missing column.*'y'"):
        compare.compare(reference, str(directory), kinds, DriftConfig(), "threads")
    with pytest.raises(DataError, match="numeric_test"):
        compare.compare(
            reference, str(directory), kinds, DriftConfig(numeric_test="anderson"), "threads"
        )


def _model_config(tmp: Path, engine_name: str, scheduler: str) -> config.Config:
    # No infinity: the first cycle trains the first model, and a model refuses one.
    reference = _frame(3_000, seed=13, start=NOW - timedelta(days=14), inf=False)
    reference["ts"] = reference["ts"] - timedelta(days=7)
    reference["label"] = (reference["x"] > 0).astype(int)
    live = _frame(24_000, seed=14, shift=0.3, start=NOW - timedelta(days=2), inf=False)
    live["label"] = (live["x"] > 0).astype(int)
    data = tmp / "data"
    data.mkdir(exist_ok=True)
    reference.to_parquet(data / "reference.parquet", index=False)
    if not (data / "live").exists():
        _partitions(live, data / "live", 6)
        live.to_parquet(data / "live.parquet", index=False)
    (tmp / "state").mkdir(exist_ok=True)
    source = str(data / "live") if engine_name == "dask" else str(data / "live.parquet")
    raw: dict[str, Any] = {
        "registry": f"state/{engine_name}.db",
        "dask": {"scheduler": scheduler},
        "models": [
            {
                "name": "m",
                "every": "1d",
                "data": {
                    "reference": str(data / "reference.parquet"),
                    "live": source,
                    "timestamp": "ts",
                    "target": "label",
                    "window": "1d",
                    "categorical": ["plan"],
                    "engine": engine_name,
                },
                "drift": {"prediction_drift": False, "baseline": "fixed"},
                "training": {"params": {"max_iter": 300}},
                "policy": {"cooldown": "30d"},
            }
        ],
    }
    return config.parse(raw, base=tmp)


def _check(cfg: config.Config) -> cycle.CycleResult:
    with Registry.open(cfg.registry) as registry:
        return cycle.run_cycle(cfg, cfg.models[0], registry, NOW)


@pytest.mark.slow  # ~20 s: two first trainings (real child processes) and a cluster
def test_cycle_on_dask_equals_pandas_and_survives_an_unreachable_cluster(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A daemon cycle with data.engine = "dask" records the check the pandas engine records on
    the same window (states, counts); with the cluster unreachable the run is recorded failed
    with one line naming the address, and the next cycle (cluster back) checks normally."""
    on_pandas = _check(_model_config(tmp_path, "pandas", "threads"))
    on_dask = _check(_model_config(tmp_path, "dask", "threads"))
    assert on_pandas.report is not None and on_dask.report is not None, on_dask.error
    assert on_dask.status == on_pandas.status
    assert {f.feature: f.state for f in on_dask.report.features} == {
        f.feature: f.state for f in on_pandas.report.features
    }
    assert on_dask.report.n_live == on_pandas.report.n_live == 12_000
    assert on_dask.report.baseline.startswith("fixed thresholds (data.engine dask")
    assert any(f.state is FeatureState.DRIFT for f in on_dask.report.features)

    monkeypatch.setattr(engine, "CONNECT_TIMEOUT", "1s")
    address = f"tcp://127.0.0.1:{_free_port()}"
    down = _model_config(tmp_path, "dask", address)
    failed = _check(down)
    assert failed.status == "failed" and failed.error is not None
    assert address in failed.error and "\n" not in failed.error
    with distributed.LocalCluster(
        n_workers=1, processes=False, protocol="tcp", dashboard_address=None
    ) as cluster:
        back = _check(_model_config(tmp_path, "dask", cluster.scheduler_address))
    assert back.status == on_dask.status and back.report is not None
    with sqlite3.connect(down.registry) as db:
        runs = db.execute("SELECT status, error FROM runs ORDER BY id").fetchall()
    assert [status for status, _ in runs] == [on_dask.status, "failed", back.status]
    assert runs[1][1] == failed.error


def test_dask_is_imported_only_when_asked_for() -> None:
    """The pandas engine's modules (cli, cycle, detect, trainer) never import dask: the extra
    stays optional and costs nothing to those who do not use it."""
    code = (
        "import sys\n"
        "from driftd import cli, cycle, detect, trainer, api\n"
        "cli._parser()\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.strip() == "[]"


def test_directory_on_the_pandas_engine_names_the_dask_engine(tmp_path: Path) -> None:
    """`driftd drift REF DIR` without `--engine dask` (a real child process): exit 2 and one
    stderr line naming the directory and suggesting `--engine dask` / `data.engine = "dask"`."""
    _frame(500, seed=20).to_parquet(tmp_path / "ref.parquet", index=False)
    directory = _partitions(_frame(500, seed=21), tmp_path / "live", 2)
    done = _cli("drift", str(tmp_path / "ref.parquet"), str(directory))
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert str(directory) in lines[0]
    assert "--engine dask" in lines[0] and 'data.engine = "dask"' in lines[0]
