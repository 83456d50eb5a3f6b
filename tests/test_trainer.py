"""Training in an isolated child process: the three ways, limits, failures, cleanup (trainer).

Every test runs driftd's real child (``python -m driftd.trainer.child``); the misbehaving
entrypoints are in tests/helpers_training.py.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import textwrap
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from driftd import config, trainer
from driftd.config import NameChecks, TrainingConfig
from driftd.errors import ArtifactError, ConfigError, TrainingError
from driftd.fingerprint import frame_sha256
from driftd.trainer.groups import group_members
from driftd.trainer.process import KILL_GRACE_S
from tests.helpers_training import PIDFILE_ENV

REPO = Path(__file__).resolve().parents[1]
FEATURES = ["age", "income", "plan"]
HELPERS = "tests.helpers_training"


def _frame(n: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "ts": pd.date_range("2026-01-01", periods=n, freq="h", tz="UTC"),
            "age": rng.normal(40, 10, n),
            "income": rng.lognormal(3, 1, n),
            "plan": rng.choice(["basic", "pro", None], n),
        }
    )
    frame.loc[::13, "age"] = np.nan
    frame["label"] = (frame["age"].fillna(40) + rng.normal(0, 10, n) > 40).astype(int)
    return frame


def _train(tmp_path: Path, cfg: TrainingConfig, frame: pd.DataFrame | None = None) -> Any:
    return trainer.train(
        cfg,
        _frame() if frame is None else frame,
        features=FEATURES,
        categorical=["plan"],
        target="label",
        out_dir=tmp_path / "artifacts" / "churn" / "v1",
        log_dir=tmp_path / "artifacts" / "churn" / "logs",
        timestamp="ts",
    )


def _entry(name: str, **kw: Any) -> TrainingConfig:
    return TrainingConfig(entrypoint=f"{HELPERS}:{name}", **kw)


def _alive(pid: int) -> bool:
    """Running or sleeping; a zombie (dead, not yet reaped by init) does not count."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2] not in "ZX"


def test_estimator_way_writes_a_verified_artifact_and_records_everything(tmp_path: Path) -> None:
    """The default way: model.skops in out_dir, its sha256 and size, the data fingerprint,
    the time range, the log, the versions; no temp files left; the model predicts like an
    in-process fit of the same pipeline (same seed). A 1 GiB memory_mb cap does not get in
    the way (see the README, "Limits" for why lower caps do)."""
    frame = _frame()
    cfg = TrainingConfig(params={"C": 0.5, "max_iter": 200}, seed=3, memory_mb=1024)
    trained = _train(tmp_path, cfg, frame)
    out_dir = tmp_path / "artifacts" / "churn" / "v1"
    path = Path(trained.artifact_path)
    assert path == out_dir / "model.skops"
    assert sorted(p.name for p in out_dir.iterdir()) == ["model.skops"]
    assert trained.artifact_size == path.stat().st_size
    assert trained.data_sha256 == frame_sha256(frame, columns=[*FEATURES, "label"])
    assert (trained.n_rows, trained.seed, trained.features) == (300, 3, tuple(FEATURES))
    assert (trained.estimator, trained.params) == (cfg.estimator, {"C": 0.5, "max_iter": 200})
    assert trained.time_min == "2026-01-01T00:00:00+00:00"
    assert trained.time_max == frame["ts"].max().isoformat()
    assert set(trained.environment) == {"python", "driftd", "numpy", "scipy", "pandas"} | {
        "sklearn",
        "skops",
    }
    log = Path(trained.log_path).read_text()
    assert "way=estimator" in log and "--- exit code 0" in log
    model = trainer.load_model(path, trained.artifact_sha256)
    local = trainer.build_estimator(cfg, FEATURES, ["plan"]).fit(frame[FEATURES], frame["label"])
    np.testing.assert_allclose(
        model.predict_proba(frame[FEATURES]), local.predict_proba(frame[FEATURES])
    )
    assert model.named_steps["model"].random_state == 3


def test_the_child_runs_in_its_own_group_with_a_clean_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """systemd's NOTIFY_SOCKET / WATCHDOG_* never reach the child; BLAS threads are capped;
    the child leads its own process group, and nothing of that group outlives it; the
    entrypoint way's model loads."""
    pidfile = tmp_path / "seen"
    monkeypatch.setenv(PIDFILE_ENV, str(pidfile))
    monkeypatch.setenv("NOTIFY_SOCKET", "@driftd-test")
    monkeypatch.setenv("WATCHDOG_USEC", "1000000")
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    trained = _train(tmp_path, _entry("report_environment"))
    seen = ast.literal_eval(pidfile.read_text())
    assert seen == {
        "NOTIFY_SOCKET": "<unset>",
        "WATCHDOG_USEC": "<unset>",
        "WATCHDOG_PID": "<unset>",
        "OMP_NUM_THREADS": "1",
        "pgid_is_pid": "True",
    }
    assert trained.estimator == f"entrypoint:{HELPERS}:report_environment"
    pid = int(Path(trained.log_path).read_text().split("training child pid=")[1].split()[0])
    assert group_members(pid) == []  # a clean exit leaves nothing of its group either
    model = trainer.load_model(Path(trained.artifact_path), trained.artifact_sha256)
    assert model.predict(_frame()[["age", "income"]].fillna(0)).shape == (300,)


def test_a_driftd_folder_in_the_working_directory_is_never_imported_by_the_child(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Started from a directory holding a decoy `driftd/` package (one that leaves a mark and
    fails when imported), the child imports the real driftd: the training succeeds and the
    decoy never ran. `python -m` alone would put the working directory first on sys.path."""
    decoy = tmp_path / "cwd" / "driftd"
    (decoy / "trainer").mkdir(parents=True)
    mark = tmp_path / "decoy-imported"
    (decoy / "__init__.py").write_text(
        f"open({str(mark)!r}, 'w').close()\nraise SystemExit('decoy driftd imported')\n"
    )
    (decoy / "trainer" / "__init__.py").write_text("")
    (decoy / "trainer" / "child.py").write_text("raise SystemExit(3)\n")
    monkeypatch.chdir(decoy.parent)
    trained = _train(tmp_path, TrainingConfig(params={"max_iter": 200}))
    assert not mark.exists()
    assert Path(trained.artifact_path).is_file()
    assert "--- exit code 0" in Path(trained.log_path).read_text()


def test_a_timeout_kills_the_whole_process_group(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hanging fit with two workers (one ignoring SIGTERM): after the timeout, SIGTERM then
    SIGKILL to the group leaves no process of that group alive."""
    pidfile = tmp_path / "pids"
    monkeypatch.setenv(PIDFILE_ENV, str(pidfile))
    started = time.monotonic()
    with pytest.raises(TrainingError) as info:
        _train(tmp_path, _entry("hang_with_workers", timeout=timedelta(seconds=3)))
    elapsed = time.monotonic() - started
    assert str(info.value) == "training timed out after 3s; process group killed"
    pids = [int(p) for p in pidfile.read_text().split()]
    assert len(pids) == 3
    assert group_members(pids[0]) == []
    assert not any(_alive(p) for p in pids)
    assert elapsed < 3 + KILL_GRACE_S + 3
    assert "timed out after 3s" in next((tmp_path / "artifacts/churn/logs").iterdir()).read_text()
    assert not list((tmp_path / "artifacts/churn/v1").glob(".tmp-*"))


@pytest.mark.parametrize(
    ("entry", "kw", "message"),
    [
        (
            "crash_sigkill",
            {},
            r"^training crashed: exit code -9 \(killed: SIGKILL, out of memory\?\)$",
        ),
        ("exit_hard", {}, r"^training crashed: exit code 3$"),
        ("raise_value_error", {}, r"^training failed: ValueError: column 'age' is unusable$"),
        (
            "return_garbage",
            {},
            r"^training failed: tests\.helpers_training:return_garbage returned str, "
            r"not a fitted estimator$",
        ),
        (
            "return_unfitted",
            {},
            r"^training failed: .*returned an unfitted LogisticRegression$",
        ),
        (
            "burn_cpu",
            {"cpu_seconds": 1},
            r"^training crashed: exit code -24 "
            r"\(killed: SIGXCPU, training\.cpu_seconds = 1 exceeded\)$",
        ),
        (
            "eat_memory",
            {"memory_mb": 1024},
            r"^training failed: MemoryError: .*\(training\.memory_mb = 1024 reached\)$",
        ),
    ],
)
def test_failures_are_one_line_training_errors(
    tmp_path: Path, entry: str, kw: dict[str, Any], message: str
) -> None:
    """A crash, an exception, garbage or a resource limit: TrainingError with a one-line
    reason, the details in the log, and no artifact."""
    with pytest.raises(TrainingError, match=message) as info:
        _train(tmp_path, _entry(entry, **kw))
    assert "\n" not in str(info.value)
    assert not (tmp_path / "artifacts/churn/v1/model.skops").exists()
    assert list((tmp_path / "artifacts/churn/logs").iterdir())


def test_the_traceback_goes_to_the_log(tmp_path: Path) -> None:
    """The one-line reason is for humans; the full traceback is in the training log."""
    with pytest.raises(TrainingError):
        _train(tmp_path, _entry("raise_value_error"))
    log = next((tmp_path / "artifacts/churn/logs").iterdir()).read_text()
    assert "Traceback (most recent call last)" in log and "second line" in log


def test_bad_estimator_params_fail_in_the_child(tmp_path: Path) -> None:
    """A misspelt parameter: TrainingError naming it (from the child's TypeError)."""
    with pytest.raises(TrainingError, match=r"^training failed: TypeError: .*'Cc'"):
        _train(tmp_path, TrainingConfig(params={"Cc": 1.0}))


def test_frames_that_cannot_be_trained_on_fail_before_the_child(tmp_path: Path) -> None:
    """A missing column, a missing target value or no rows: TrainingError, no process."""
    frame = _frame()
    with pytest.raises(TrainingError, match=r"lacks column.*'income'"):
        _train(tmp_path, TrainingConfig(), frame.drop(columns="income"))
    frame.loc[5, "label"] = np.nan
    with pytest.raises(TrainingError, match="'label' has 1 missing values"):
        _train(tmp_path, TrainingConfig(), frame)
    with pytest.raises(TrainingError, match="no rows"):
        _train(tmp_path, TrainingConfig(), frame[:0])


def _command(mode: str = "ok") -> TrainingConfig:
    return TrainingConfig(command=(sys.executable, "-m", HELPERS, "{train}", "{model}", mode))


def test_the_command_way_trains_from_a_parquet_file(tmp_path: Path) -> None:
    """A command gets {train} (Parquet) and {model}; driftd makes its file the artifact."""
    trained = _train(tmp_path, _command())
    assert Path(trained.artifact_path).name == "model.skops"
    assert trained.estimator.startswith("command:")
    model = trainer.load_model(Path(trained.artifact_path), trained.artifact_sha256)
    assert list(model.feature_names_in_) == ["age", "income"]
    log = Path(trained.log_path).read_text()
    assert "running: " in log


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("fail", r"^training failed: command exited with code 4 \(see the training log\)$"),
        ("nothing", r"^training failed: command exited 0 but did not write the \{model\} file$"),
        (
            "pickle",
            r"^training returned garbage: model\.skops is not a skops file \(not a zip archive\)$",
        ),
    ],
)
def test_a_failing_command_is_a_training_error(tmp_path: Path, mode: str, message: str) -> None:
    """Non-zero exit, no file, or a file that is not skops (a pickle is never loaded)."""
    with pytest.raises(TrainingError, match=message):
        _train(tmp_path, _command(mode))
    assert not list((tmp_path / "artifacts/churn/v1").glob("*.skops"))


def test_custom_types_are_refused_by_name(tmp_path: Path) -> None:
    """A custom model class is not in the allow-list: TrainingError naming the type."""
    with pytest.raises(TrainingError, match=r"untrusted types tests\.helpers_training\.MeanModel"):
        _train(tmp_path, _entry("fit_custom"))


@pytest.mark.slow
def test_custom_types_need_operator_trust_or_pickle(tmp_path: Path) -> None:
    """trusted_types lets skops keep a custom class; allow_pickle stores it as model.pkl,
    which loads only with allow_pickle."""
    trusted = ("tests.helpers_training.MeanModel",)
    t = _train(tmp_path / "b", _entry("fit_custom", trusted_types=trusted))
    assert Path(t.artifact_path).name == "model.skops"
    assert trainer.load_model(Path(t.artifact_path), t.artifact_sha256, trusted=trusted).mean > 0
    p = _train(tmp_path / "c", _entry("fit_custom", allow_pickle=True))
    assert Path(p.artifact_path).name == "model.pkl"
    with pytest.raises(ArtifactError, match="pickle artifact refused"):
        trainer.load_model(Path(p.artifact_path), p.artifact_sha256)
    loaded = trainer.load_model(Path(p.artifact_path), p.artifact_sha256, allow_pickle=True)
    assert loaded.mean == pytest.approx(_frame()["label"].mean())


def test_terminate_all_kills_running_trainings(tmp_path: Path) -> None:
    """Daemon shutdown: terminate_all() kills the group and the waiting train() says why."""
    script = textwrap.dedent(
        f"""
        import os, sys, threading, time
        from datetime import timedelta
        from pathlib import Path
        sys.path.insert(0, {str(REPO)!r})
        from tests.test_trainer import _frame, _entry, _train
        from driftd import trainer
        os.environ["{PIDFILE_ENV}"] = {str(tmp_path / "pids")!r}
        errors = []
        def run():
            try:
                _train(Path({str(tmp_path)!r}), _entry("hang_with_workers",
                       timeout=timedelta(minutes=5)))
            except Exception as exc:
                errors.append(str(exc))
        thread = threading.Thread(target=run)
        thread.start()
        while not Path({str(tmp_path / "pids")!r}).exists():
            time.sleep(0.1)
        print(trainer.terminate_all(grace=1.0))
        thread.join(30)
        print(errors[0])
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "1",
        "training stopped: driftd is shutting down; process group killed",
    ]
    pids = [int(p) for p in (tmp_path / "pids").read_text().split()]
    assert not any(_alive(p) for p in pids)


def test_check_estimator_explains_what_is_wrong() -> None:
    """Config validation text: no module, no class (with a suggestion), not an estimator."""
    assert trainer.check_estimator("sklearn.ensemble.RandomForestClassifier") is None
    assert trainer.check_estimator("sklearn.linear_modl.LogisticRegression") == (
        "no module sklearn.linear_modl"
    )
    assert trainer.check_estimator("sklearn.linear_model.LogisticRegresion") == (
        "no class LogisticRegresion in sklearn.linear_model (did you mean LogisticRegression?)"
    )
    assert trainer.check_estimator("sklearn.metrics.roc_auc_score") == (
        "sklearn.metrics.roc_auc_score is not an estimator class (it needs fit and get_params)"
    )


def test_the_pipeline_handles_missing_values_and_unseen_categories() -> None:
    """NaN in numeric and categorical columns trains; a category unseen at fit predicts."""
    frame = _frame()
    pipe = trainer.build_estimator(TrainingConfig(), FEATURES, ["plan"])
    pipe.fit(frame[FEATURES], frame["label"])
    new = pd.DataFrame({"age": [np.nan], "income": [10.0], "plan": ["enterprise"]})
    assert pipe.predict_proba(new).shape == (1, 2)
    no_seed = trainer.build_estimator(
        TrainingConfig(estimator="sklearn.linear_model.LinearRegression"), ["age"], []
    )
    assert "random_state" not in no_seed.named_steps["model"].get_params()


def test_sweep_after_an_interrupted_training_removes_its_work_directory(tmp_path: Path) -> None:
    """A daemon killed mid-training leaves out_dir/.tmp-train-*; the start-up sweep removes it."""
    leftover = tmp_path / "churn" / "v1" / ".tmp-train-abc"
    leftover.mkdir(parents=True)
    (leftover / "train.parquet").write_bytes(b"x")
    assert trainer.sweep_temp_files(tmp_path) == [leftover]


def _load(text: str, tmp_path: Path) -> TrainingConfig:
    path = tmp_path / "c.toml"
    path.write_text(
        'registry = "r.db"\n[[models]]\nname = "m"\nevery = "1h"\n'
        '[models.data]\nreference = "r.csv"\nlive = "l.csv"\ntimestamp = "ts"\n'
        'target = "y"\nwindow = "1d"\n[models.training]\n' + text
    )
    checks = NameChecks(estimator=trainer.check_estimator)
    return config.load(path, checks).models[0].training


def test_config_accepts_exactly_one_way_to_train(tmp_path: Path) -> None:
    """entrypoint, command and cpu_seconds parse; two ways at once, a command without
    {model}, a malformed entrypoint or params for a non-estimator way are config errors."""
    assert _load("", tmp_path).way == "estimator"
    t = _load('entrypoint = "pkg.mod:fit"\ncpu_seconds = 60\n', tmp_path)
    assert (t.way, t.entrypoint, t.cpu_seconds) == ("entrypoint", "pkg.mod:fit", 60)
    t = _load('command = ["train", "{train}", "--out", "{model}"]\n', tmp_path)
    assert (t.way, t.command) == ("command", ("train", "{train}", "--out", "{model}"))
    with pytest.raises(ConfigError) as info:
        _load(
            'estimator = "sklearn.linear_model.LogisticRegression"\nentrypoint = "a:b"\n'
            'command = ["x"]\nparams = {C = 1}\ncpu_seconds = 0\n',
            tmp_path,
        )
    problems = "\n".join(info.value.problems)
    assert "set at most one of estimator, entrypoint or command" in problems
    assert "must contain the {model} placeholder" in problems
    assert "models[0].training.params: only applies to estimator" in problems
    assert "models[0].training.cpu_seconds: must be a positive integer (got 0)" in problems
    with pytest.raises(ConfigError, match=r'must look like "package\.module:function"'):
        _load('entrypoint = "not a path"\n', tmp_path)
    with pytest.raises(ConfigError, match="did you mean LogisticRegression"):
        _load('estimator = "sklearn.linear_model.LogisticRegresion"\n', tmp_path)
