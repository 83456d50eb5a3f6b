"""`driftd timeline MODEL` through the real CLI, on a registry built by real cycles.

The registry (tests/metrics_support.py) holds a bootstrap check (ok) at BOOT_AT and a drifted
check whose candidate was rejected at DRIFT_AT; the values shown are compared with what
`driftd check --json` printed for those checks.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from cli_support import run
from metrics_support import BOOT_AT, DRIFT_AT, Built, build, copy

from driftd.registry.codec import utc_iso


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    return build(tmp_path_factory.getbasetemp() / "metrics-registry")


def timeline_json(config: Path, *args: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        run(config, "timeline", "churn", *args, "--json", rc=0).stdout
    )
    return data


def test_json_holds_each_check_at_its_data_clock(built: Built) -> None:
    """--json: one entry per run, oldest first at its data clock, with the check's verdict,
    every feature's effect, threshold and state as `driftd check --json` printed them, the
    performance rows and the decision each run took."""
    data = timeline_json(built.config)
    runs = data["runs"]
    assert [r["at"] for r in runs] == [utc_iso(BOOT_AT), utc_iso(DRIFT_AT)]
    assert [r["verdict"] for r in runs] == ["ok", "drift"]
    assert [[d["action"] for d in r["decisions"]] for r in runs] == [["bootstrap"], ["reject"]]
    assert runs[1]["decisions"][0]["version_id"] == "churn-v2"
    for r, printed in zip(runs, (built.boot, built.drift), strict=True):
        shown = {f["feature"]: f for f in r["features"]}
        assert set(shown) == {f["feature"] for f in printed["features"]}
        for f in printed["features"]:
            got = shown[f["feature"]]
            assert (got["effect"], got["threshold"], got["state"]) == (
                pytest.approx(f["effect"], rel=1e-12),
                f["threshold"],
                f["state"],
            )
    assert runs[0]["p_value"] > 0.05 > runs[1]["p_value"]
    realised = next(e for e in built.drift["extra"] if e["feature"].startswith("performance:"))
    assert runs[1]["realised"]["value"] == pytest.approx(realised["statistic"], rel=1e-12)
    assert runs[1]["estimated"]["metric"] == "accuracy"
    assert runs[0]["realised"] is None  # no champion yet at the bootstrap check


def test_text_shows_one_line_per_run(built: Built) -> None:
    """Text: a title and one aligned line per run with verdict, drifted count out of the
    features, the largest effect against its threshold, and the decision."""
    lines = run(built.config, "timeline", "churn", rc=0).stdout.splitlines()
    assert lines[0] == "churn: 2 run(s)"
    assert "largest effect / threshold" in lines[1]
    body = lines[3:]
    assert len(body) == 2
    drifted = sum(f["state"] == "drift" for f in built.drift["features"])
    n = len(built.drift["features"])
    assert body[0].startswith(utc_iso(BOOT_AT)) and "bootstrap churn-v1" in body[0]
    assert f" {drifted}/{n} " in body[1] and "reject churn-v2" in body[1]
    assert " drift " in body[1] and " ok " in body[0]


def test_feature_and_csv(built: Built) -> None:
    """--feature narrows each run to that feature (text header names it); --csv is one row
    per run and feature whose values parse back exactly."""
    name = next(f["feature"] for f in built.drift["features"] if f["state"] == "drift")
    data = timeline_json(built.config, "--feature", name)
    assert [[f["feature"] for f in r["features"]] for r in data["runs"]] == [[name], [name]]
    text = run(built.config, "timeline", "churn", "--feature", name, rc=0).stdout
    assert f"{name} effect / threshold" in text
    rows = list(
        csv.DictReader(io.StringIO(run(built.config, "timeline", "churn", "--csv", rc=0).stdout))
    )
    n = len(built.drift["features"])
    assert len(rows) == 2 * n
    printed = {f["feature"]: f for f in built.drift["features"]}
    for row in rows[n:]:
        assert row["at"] == utc_iso(DRIFT_AT) and row["decisions"] == "reject churn-v2"
        assert float(row["effect"]) == printed[row["feature"]]["effect"]
        assert row["state"] == printed[row["feature"]]["state"]
    one = run(built.config, "timeline", "churn", "--csv", "--feature", name, rc=0).stdout
    assert len(list(csv.DictReader(io.StringIO(one)))) == 2


def test_since_takes_a_time_or_a_duration(built: Built) -> None:
    """--since keeps runs at or after an ISO time, or within a duration of the newest run."""
    middle = BOOT_AT + (DRIFT_AT - BOOT_AT) / 2
    for since in (middle.isoformat(), "3d"):
        data = timeline_json(built.config, "--since", since)
        assert [r["at"] for r in data["runs"]] == [utc_iso(DRIFT_AT)], since
    assert len(timeline_json(built.config, "--since", "30d")["runs"]) == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope"], "driftd: nope: no such model (known: churn)"),
        (["churn", "--feature", "shoe_size"], "driftd: churn: no check recorded a feature"),
        (["churn", "--since", "soon"], "driftd: --since: neither an ISO-8601 time nor a duration"),
        (["churn", "--json", "--csv"], "driftd: --json and --csv: choose one"),
    ],
)
def test_bad_input_is_a_one_line_error(built: Built, args: list[str], message: str) -> None:
    """An unknown model or feature, a bad --since or two formats: one line on stderr, exit 2."""
    proc = run(built.config, "timeline", *args, rc=2)
    assert proc.stderr.startswith(message) and proc.stderr.count("\n") == 1, proc.stderr
    assert proc.stdout == ""


def test_a_command_line_decision_has_a_line_of_its_own(built: Built, tmp_path: Path) -> None:
    """`driftd promote` (no run) appears after the runs at its own time, by its actor."""
    config = copy(built, tmp_path / "promoted")
    run(config, "promote", "churn", "churn-v2", "--reason", "checked by hand", rc=0)
    data = timeline_json(config)
    cli = [d for d in data["decisions"] if d["run_id"] is None]
    assert [d["action"] for d in cli] == ["manual_promote"]
    last = run(config, "timeline", "churn", rc=0).stdout.splitlines()[-1]
    assert " cli " in last and "manual_promote churn-v2 (by " in last
