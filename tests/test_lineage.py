"""Lineage: what the trainer records about the code and the data, and how `show`, `gc` and
`reproduce` lay it out for people (driftd.lineage; the commands themselves are exercised in
tests/test_lifecycle.py)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from driftd import lineage, trainer
from driftd.config import TrainingConfig
from driftd.reproduce import compare_metrics
from driftd.trainer.env import code_record, command_files

REPO = Path(__file__).resolve().parents[1]


def test_an_entrypoint_training_records_its_code_and_time_range(tmp_path: Path) -> None:
    """The entrypoint's module file is hashed by the child that imported it; a timestamp column
    still in text form (a CSV reference) gives the time range in UTC."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "ts": ["2026-01-02T00:00:00Z", "2026-01-01 06:00", "2026-01-03T00:00:00+01:00"] * 20,
            "x": rng.normal(size=60),
        }
    )
    frame["y"] = (frame["x"] > 0).astype(int)
    trained = trainer.train(
        TrainingConfig(entrypoint="tests.helpers_training:fit_logistic"),
        frame,
        features=["x"],
        categorical=[],
        target="y",
        out_dir=tmp_path / "out",
        log_dir=tmp_path / "logs",
        timestamp="ts",
    )
    module = REPO / "tests" / "helpers_training.py"
    assert trained.code is not None
    assert (trained.code["way"], trained.code["path"]) == ("entrypoint", str(module.resolve()))
    assert trained.code["sha256"] == hashlib.sha256(module.read_bytes()).hexdigest()
    assert (trained.time_min, trained.time_max) == (
        "2026-01-01T06:00:00+00:00",
        "2026-01-02T23:00:00+00:00",
    )


def test_command_files_and_their_record(tmp_path: Path) -> None:
    """A command's program is found on PATH, its existing file arguments are hashed, driftd's
    placeholders are skipped; the main file is the first script after the program; a file that
    is too large or unreadable is listed without a hash."""
    script = tmp_path / "train.py"
    script.write_text("print('hi')\n")
    files = command_files(["sh", str(script), "{train}", "--out={model}", "not-a-file"])
    assert files[1:] == [str(script.resolve())] and files[0].startswith("/")
    record = code_record("command", files)
    assert record is not None and record["path"] == str(script.resolve())
    assert record["sha256"] == hashlib.sha256(script.read_bytes()).hexdigest()
    assert code_record("estimator", []) is None
    missing = code_record("command", [str(tmp_path / "gone")])
    assert missing is not None and missing["sha256"] is None and missing["files"][0]["error"]


def _version(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "churn-v2",
        "model": "churn",
        "number": 2,
        "status": "deleted",
        "created_at": "2026-01-09T00:00:00.000Z",
        "run_id": 7,
        "parent_id": "churn-v1",
        "lineage": [{"id": "churn-v1"}],
        "children": [],
        "data_sha256": "d" * 64,
        "data_rows": 1000,
        "data_time_min": "2026-01-07T00:00:00+00:00",
        "data_time_max": "2026-01-08T00:00:00+00:00",
        "reference_sha256": "r" * 64,
        "features": ["age", "plan"],
        "estimator": "entrypoint:pkg.train:fit",
        "params": {},
        "seed": 0,
        "training_seconds": 2.5,
        "log_path": "/var/lib/driftd/artifacts/churn/logs/train.log",
        "environment": {"sklearn": "1.9.1", "python": "3.11.7", "extra": "1"},
        "artifact_path": "/var/lib/driftd/artifacts/churn/0123456789ab/model.skops",
        "artifact_size": 2048,
        "artifact_sha256": "a" * 64,
        "artifact_deleted_at": "2026-01-10T00:00:00.000Z",
        "metrics": {"roc_auc": 0.81},
        "spec": {
            "trigger": "drift",
            "target": "label",
            "data_file": "data.parquet",
            "code": {"sha256": "c" * 64, "path": "/opt/pkg/train.py"},
        },
        "evaluations": [
            {
                "id": 3,
                "created_at": "t",
                "champion_id": "churn-v1",
                "candidate_id": "churn-v2",
                "n_holdout": 500,
                "confidence": 0.95,
                "comparisons": [
                    {
                        "metric": "roc_auc",
                        "role": "primary",
                        "champion": 0.7,
                        "candidate": 0.81,
                        "difference": 0.11,
                        "ci_low": 0.05,
                        "ci_high": 0.17,
                        "p_value": 1e-6,
                        "margin": 0.0,
                        "passed": True,
                    },
                    {
                        "metric": "neg_log_loss",
                        "role": "guardrail",
                        "champion": -0.5,
                        "candidate": -0.6,
                        "difference": -0.1,
                        "ci_low": -0.2,
                        "ci_high": -0.01,
                        "p_value": None,
                        "margin": 0.05,
                        "passed": False,
                    },
                ],
            }
        ],
        "decisions": [],
        "champion_periods": [],
    }
    return {**base, **over}


def test_show_text_sections_and_an_aligned_evaluation_table() -> None:
    """show: identity, data (with the snapshot marked removed), training with the code hash,
    environment in a fixed order, the artifact marked deleted, and the comparison table with a
    column per field and pass/FAIL."""
    text = lineage.show_text(_version())
    lines = text.splitlines()
    assert lines[0] == "churn-v2  (model churn, version 2)  status: deleted"
    assert "  time range  2026-01-07T00:00:00+00:00 .. 2026-01-08T00:00:00+00:00" in lines
    assert any(line.endswith("0123456789ab/data.parquet (removed)") for line in lines)
    assert f"  code       {'c' * 64}  /opt/pkg/train.py" in lines
    env = lines.index("environment")
    assert [x.split()[0] for x in lines[env + 1 : env + 4]] == ["python", "sklearn", "extra"]
    assert "  deleted  yes, garbage-collected at 2026-01-10T00:00:00.000Z" in lines
    head = next(i for i, x in enumerate(lines) if x.startswith("evaluation 3"))
    assert "as candidate against churn-v1, 500 holdout rows, 95% intervals" in lines[head]
    table = lines[head + 1 : head + 5]
    assert table[0].split() == [
        "metric",
        "role",
        "champion",
        "candidate",
        "difference",
        "interval",
        "p-value",
        "margin",
        "pass/fail",
    ]
    col = table[0].index("pass/fail")
    assert table[2][col:].strip() == "pass" and table[3][col:].strip() == "FAIL"
    assert table[2][table[0].index("interval") :].startswith("[0.05, 0.17]")
    assert table[3][table[0].index("difference") :].startswith("-0.1")


def test_gc_and_reproduce_text() -> None:
    """gc: a table of removals with sizes, the kept versions with reasons, a total, and the
    dry-run mark; reproduce: recorded vs reproduced per metric and the verdict."""
    data = {
        "dry_run": True,
        "removed": [
            {
                "kind": "version",
                "model": "churn",
                "version_id": "churn-v2",
                "path": "/a/churn/0123456789ab",
                "bytes": 3 * 1024 * 1024,
                "reason": "rejected",
            }
        ],
        "bytes": 3 * 1024 * 1024,
        "kept": [{"version_id": "churn-v1", "reason": "current champion"}],
        "errors": [],
    }
    text = lineage.gc_text(data)
    assert "churn-v2  3.0 MiB" in text
    assert "kept: churn-v1 (current champion)" in text
    assert text.endswith("would remove 1 item(s), 3.0 MiB (dry run: nothing changed)")
    rows = compare_metrics({"roc_auc": 0.8}, {"roc_auc": 0.8001}, 1e-9)
    out = lineage.reproduce_text(
        {
            "version_id": "churn-v2",
            "data_file": "/a/data.parquet",
            "scored_on": "holdout",
            "rows_scored": 500,
            "tolerance": 1e-9,
            "metrics": [r.to_dict() for r in rows],
            "max_output_difference": 0.002,
            "artifact": {
                "recorded_sha256": "a" * 64,
                "recorded_size": 10,
                "reproduced_sha256": "b" * 64,
                "reproduced_size": 10,
            },
            "differences": {"environment": {"sklearn": {"recorded": "1.8", "now": "1.9"}}},
            "notes": [],
            "matches": False,
        }
    )
    assert "roc_auc  0.8       0.8001      +0.0001     DIFF" in out
    assert "  sklearn  1.8 -> 1.9" in out
    assert out.endswith("NOT reproduced within 1e-09")


def test_show_text_lays_out_a_refit_and_its_evaluated_candidate() -> None:
    """A refit (spec `refit_of`): the holdout is marked trained on, and a `refit` section names
    the evaluated candidate with its artifact hash and rows next to the refit's own; a version
    without `refit_of` has neither."""
    spec = {
        "target": "label",
        "holdout": {"start": "s", "end": "e", "rows": 400, "sha256": "h" * 64, "trained_on": True},
        "refit_of": {"version": "churn-v2", "artifact_sha256": "b" * 64, "rows": 600},
    }
    lines = lineage.show_text(_version(id="churn-v3", number=3, spec=spec)).splitlines()
    assert "  trained on  yes: this is a refit" in lines
    refit = lines.index("refit")
    assert lines[refit + 1 : refit + 7] == [
        "  of                churn-v2",
        f"  evaluated sha256  {'b' * 64}",
        "  evaluated rows    600",
        f"  refit sha256      {'a' * 64}",
        "  refit rows        1000",
        "  metrics           the evaluated candidate's, on the holdout",
    ]
    plain = lineage.show_text(_version()).splitlines()
    assert "refit" not in plain and not any("trained on" in line for line in plain)
