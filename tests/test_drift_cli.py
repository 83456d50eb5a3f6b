"""`driftd drift`: the ad-hoc comparison through the real command, text and JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

FIELDS = {
    "feature",
    "kind",
    "state",
    "test",
    "statistic",
    "p_value",
    "p_adjusted",
    "effect_name",
    "effect",
    "threshold",
    "missing_ref",
    "missing_live",
    "new_category_mass",
}


def _files(tmp_path: Path, drift: bool) -> tuple[Path, Path]:
    rng = np.random.default_rng(11)
    n = 4_000
    ref = pd.DataFrame(
        {
            "small": rng.normal(size=n),
            "big": rng.normal(size=n),
            "steady": rng.normal(size=n),
            "plan": rng.choice(["a", "b", "c"], size=n, p=[0.5, 0.3, 0.2]),
        }
    )
    live = pd.DataFrame(
        {
            "small": rng.normal(0.3 if drift else 0.0, 1, size=n),
            "big": rng.normal(1.0 if drift else 0.0, 1, size=n),
            "steady": rng.normal(size=n),
            "plan": rng.choice(["a", "b", "c", "new"], size=n, p=[0.5, 0.3, 0.15, 0.05])
            if drift
            else rng.choice(["a", "b", "c"], size=n, p=[0.5, 0.3, 0.2]),
        }
    )
    ref_path, live_path = tmp_path / "ref.csv", tmp_path / "live.parquet"
    ref.to_csv(ref_path, index=False)
    live.to_parquet(live_path, index=False)
    return ref_path, live_path


def _drift(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "driftd", "drift", *args],
        capture_output=True,
        text=True,
        check=False,
    )


def test_json_carries_every_field_sorted_by_effect(tmp_path: Path) -> None:
    """Exit 1 on drift; per feature every documented field; features sorted by effect size,
    largest first; the new category's mass is reported."""
    ref, live = _files(tmp_path, drift=True)
    proc = _drift(str(ref), str(live), "--json")
    assert proc.returncode == 1, proc.stderr
    data = json.loads(proc.stdout)
    features = data["features"]
    assert all(f.keys() >= FIELDS for f in features)
    effects = [f["effect"] for f in features]
    assert effects == sorted(effects, reverse=True)
    by_name = {f["feature"]: f for f in features}
    assert by_name["big"]["state"] == "drift" and by_name["small"]["state"] == "drift"
    assert by_name["steady"]["state"] == "ok"
    assert by_name["plan"]["new_category_mass"] > 0.03
    assert data["verdict"] == "drift"


def test_text_is_an_aligned_table_in_the_same_order(tmp_path: Path) -> None:
    """The table's columns line up, rows follow the JSON order, the verdict closes it."""
    ref, live = _files(tmp_path, drift=True)
    text = _drift(str(ref), str(live)).stdout
    order = [
        f["feature"] for f in json.loads(_drift(str(ref), str(live), "--json").stdout)["features"]
    ]
    lines = [line for line in text.splitlines() if line.strip()]
    header, rule, rows = lines[0], lines[1], lines[2 : 2 + len(order)]
    assert set(rule.replace(" ", "")) == {"-"}
    assert header.split()[0] == "feature"
    assert [row.split()[0] for row in rows] == order
    start = header.index("state")
    assert all(row[start:].split()[0] in ("ok", "drift") for row in rows)
    assert lines[-1].startswith("verdict: drift")


def test_no_drift_exits_0(tmp_path: Path) -> None:
    """The same data on both sides: exit 0, verdict ok."""
    ref, live = _files(tmp_path, drift=False)
    proc = _drift(str(ref), str(live), "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["verdict"] == "ok"
