"""A real registry built through the real ``driftd`` executable, shared by the CLI test modules.

One config holds one model per promotion path. Every model is bootstrapped at ``BOOTSTRAP_AT``
with a champion fitted on pre-drift rows; then the config's training commands are switched to
candidates fitted on post-drift rows and one ``driftd check --now DRIFT_AT`` (a drifted live
window, hysteresis 1 of 1) retrains every model, evaluates it against its champion on the
same 300 post-drift holdout rows, and records each model's decision:

=================  =====================================  ===============================
model              candidate and promotion settings       decision
=================  =====================================  ===============================
``promote``        post-drift LogisticRegression          ``promote``
``margin``         same, ``min_improvement = 0.5``        ``reject`` (interval)
``guardrail``      post-drift RandomForest (2.7x bigger)  ``reject`` (``model_size_bytes``)
``inconclusive``   same LR, ``min_holdout = 100000``      ``inconclusive``
``dryrun``         same LR, ``mode = "dry-run"``          ``would_promote``
``manual``         same LR, ``mode = "manual"``           ``awaiting_approval``
``pickled``        same LR; champion file swapped for a   run ``failed``: the champion
                   pickle before the check (see below)    cannot be loaded
=================  =====================================  ===============================

Between the two checks the ``pickled`` model's champion artifact is replaced by a pickle whose
unpickling would create ``Built.pickle_marker``, and its recorded sha256 and size are updated to
match, so that only driftd's format check stands between the cycle and the pickle. After the
check the real artifact and its hash are put back, so the shared state verifies clean.

Training uses driftd's ``command`` way (``cp PREBUILT {model}``) inside driftd's real training
child, so a cycle costs a process start rather than a fit, and the candidates are known in
advance; everything from the artifact on (hash, trust check, load, paired bootstrap, policy,
registry transaction) is driftd's own code. The models are fitted here with
``trainer.build_estimator``, the pipeline the ``estimator`` way would build.

Artifact paths in the registry are absolute, so a copy of the directory elsewhere would still
point at the original artifacts. Tests therefore get a pristine state *at the same path*:
:func:`restore` replaces the working directory with the snapshot taken after the build.
The build runs once per test session (:func:`build` caches it), whichever module asks first.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import shutil
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from driftd import synth

NOW = datetime(2026, 1, 11, tzinfo=UTC)
BOOTSTRAP_AT = NOW - timedelta(days=9)  # a quiet window: every model gets its first champion
DRIFT_AT = NOW - timedelta(days=2)  # a drifted window: every model retrains once
ROWS_PER_DAY = 300  # so each one-day holdout has exactly 300 rows

# model name -> (candidate artifact, extra [models.promotion] lines)
MODELS: dict[str, tuple[str, str]] = {
    "promote": ("post.skops", "[models.promotion.guardrails]\nneg_log_loss = 0.05\n"),
    "margin": ("post.skops", "min_improvement = 0.5\n"),
    "guardrail": ("big.skops", "[models.promotion.guardrails]\nmodel_size_bytes = 0.5\n"),
    "inconclusive": ("post.skops", "min_holdout = 100000\n"),
    "dryrun": ("post.skops", 'mode = "dry-run"\n'),
    "manual": ("post.skops", 'mode = "manual"\n'),
    "pickled": ("post.skops", ""),
}

_MODEL_TOML = """
[[models]]
name = "{name}"
every = "1d"

[models.data]
reference = "data/reference.csv"
live = "data/live/*.csv"
timestamp = "ts"
target = "label"
window = "1d"
categorical = ["plan", "region"]

[models.drift]
hysteresis_k = 1
hysteresis_n = 1

[models.training]
command = ["cp", "{artifact}", "{{model}}"]

[models.promotion]
bootstrap = 200
# "Training" copies a fixed artifact: a refit would copy the same one again as a new version.
refit = false
{promotion}"""


@dataclass(frozen=True, slots=True)
class Built:
    """The working directory (config, data, registry) and what the two checks printed."""

    root: Path
    pristine: Path
    bootstrap: dict[str, dict[str, Any]]  # model -> `driftd check --json` result
    drift: dict[str, dict[str, Any]]
    pickle_marker: Path  # outside the working directory, so restore() cannot hide it
    pickle_path: Path  # the pickled model's champion artifact (a pickle during the drift check)

    @property
    def config(self) -> Path:
        return self.root / "config.toml"

    @property
    def registry(self) -> Path:
        return self.root / "state" / "registry.db"


_CACHE: dict[Path, Built] = {}


def driftd() -> list[str]:
    """The installed ``driftd`` executable next to this interpreter, else ``python -m``."""
    exe = shutil.which("driftd", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "driftd.cli"]


def run(
    config: Path, *args: str, rc: int | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """``driftd ARGS --config CONFIG``; with ``rc``, assert the exit code (showing stderr)."""
    proc = subprocess.run(
        [*driftd(), *args, "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if rc is not None:
        assert proc.returncode == rc, f"rc={proc.returncode}\n{proc.stderr}\n{proc.stdout}"
    return proc


def run_json(config: Path, *args: str) -> Any:
    """A read command with ``--json`` that must exit 0, parsed."""
    return json.loads(run(config, *args, "--json", rc=0).stdout)


def check(config: Path, now: datetime, *models: str) -> dict[str, dict[str, Any]]:
    """``driftd check --now NOW --json`` (exit 0 or 1), results keyed by model name."""
    picked = [arg for name in models for arg in ("--model", name)]
    proc = run(config, "check", "--now", now.isoformat(), "--json", *picked)
    assert proc.returncode in (0, 1), proc.stderr
    return {r["model"]: r for r in json.loads(proc.stdout)}


def champion(config: Path, model: str) -> str | None:
    """The champion's version id according to ``driftd status --json``."""
    status = run_json(config, "status")
    found = [m for m in status["models"] if m["name"] == model]
    assert found, f"{model} not in status"
    champ = found[0]["champion"]
    return None if champ is None else str(champ["id"])


def history(config: Path, model: str) -> list[dict[str, Any]]:
    """The model's decisions from ``driftd history --json``, newest first."""
    rows: list[dict[str, Any]] = run_json(config, "history", "--model", model)
    return rows


def build(base: Path) -> Built:
    """Build the registry under ``base`` once per session; later calls return the cached one."""
    if base in _CACHE:
        return _CACHE[base]
    root, pristine = base / "work", base / "pristine"
    root.mkdir(parents=True)
    synth.write_demo_data(root / "data", NOW, rows_per_day=ROWS_PER_DAY, reference_rows=1000)
    _fit_models(root / "models")
    _write_config(root, candidates=False)
    bootstrap = check(root / "config.toml", BOOTSTRAP_AT)
    _write_config(root, candidates=True)
    marker = base / "pickle-executed"
    registry = root / "state" / "registry.db"
    pickle_path, original = swap_artifact(registry, "pickled-v1", trap(marker))
    drift = check(root / "config.toml", DRIFT_AT)
    swap_artifact(registry, "pickled-v1", original)  # leave a registry that verifies clean
    _checkpoint(registry)
    shutil.copytree(root, pristine, symlinks=True)
    built = Built(root, pristine, bootstrap, drift, marker, pickle_path)
    _CACHE[base] = built
    return built


def restore(built: Built) -> Built:
    """Put the working directory back to the state right after the build."""
    shutil.rmtree(built.root)
    shutil.copytree(built.pristine, built.root, symlinks=True)
    return built


class Trap:
    """Unpickling this calls ``Path.touch(marker)``: proof that the bytes were executed."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.touch, (self.marker,))


def trap(marker: Path) -> bytes:
    """A pickle whose unpickling creates ``marker``."""
    return pickle.dumps(Trap(marker))


def swap_artifact(registry: Path, version: str, data: bytes) -> tuple[Path, bytes]:
    """Write ``data`` over ``version``'s artifact and record its sha256 and size in ``versions``,
    as someone with write access to the registry and the artifacts could. Returns the path and
    the bytes it replaced."""
    with sqlite3.connect(registry) as conn:
        (path,) = conn.execute(
            "SELECT artifact_path FROM versions WHERE id = ?", (version,)
        ).fetchone()
        original = Path(path).read_bytes()
        Path(path).write_bytes(data)
        conn.execute(
            "UPDATE versions SET artifact_sha256 = ?, artifact_size = ? WHERE id = ?",
            (hashlib.sha256(data).hexdigest(), len(data), version),
        )
    conn.close()
    return Path(path), original


def _checkpoint(registry: Path) -> None:
    """Fold the WAL into the main file, so byte-level tampering sees every committed row."""
    with sqlite3.connect(registry) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def _write_config(root: Path, *, candidates: bool) -> None:
    parts = [
        'registry = "state/registry.db"\nartifacts = "state/artifacts"\nlog_level = "warning"\n'
    ]
    for name, (candidate, promotion) in MODELS.items():
        artifact = root / "models" / (candidate if candidates else "pre.skops")
        parts.append(_MODEL_TOML.format(name=name, artifact=artifact, promotion=promotion))
    (root / "config.toml").write_text("".join(parts), encoding="utf-8")


def _fit_models(directory: Path) -> None:
    """The champion (pre-drift LR), and the candidates: post-drift LR and a big forest."""
    import skops.io

    from driftd.config import TrainingConfig
    from driftd.trainer.estimator import build_estimator

    features, categorical = list(synth.FEATURES), list(synth.CATEGORICAL)
    pre = synth.make_reference(1000, seed=11)
    # Post-drift rows from another seed and a month before the demo stream: never a holdout row.
    start = NOW - timedelta(days=40)
    post = synth.make_stream(start, 1, timedelta(days=1), 1000, start, seed=12)
    directory.mkdir(parents=True)
    specs = {
        "pre.skops": ("sklearn.linear_model.LogisticRegression", {"max_iter": 1000}, pre),
        "post.skops": ("sklearn.linear_model.LogisticRegression", {"max_iter": 1000}, post),
        "big.skops": (
            "sklearn.ensemble.RandomForestClassifier",
            {"n_estimators": 10, "max_depth": 6},
            post,
        ),
    }
    for name, (estimator, params, frame) in specs.items():
        model = build_estimator(
            TrainingConfig(estimator=estimator, params=params), features, categorical
        )
        model.fit(frame[features], frame[synth.TARGET])
        skops.io.dump(model, directory / name)
