"""Identifier-like categorical columns read ``invalid`` with a reason, and a feature whose live
values are all new reads ``drift``: never ``ok`` (issue 11, item 1, third bullet).

A test of category shares has no power on singletons: an order id, or a code re-coded into
values the reference never saw, would otherwise read ``ok`` for ever. Checked through
:func:`driftd.detect.detect` and through the real ``driftd drift REF LIVE`` command.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from driftd import detect
from driftd.config import DriftConfig
from driftd.domain import FeatureKind, FeatureState, Verdict

N_REF, N_LIVE = 3_000, 1_000


def _frames(seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``order_id``: unique per row, half of the live ids seen before; ``sku``: 300 codes
    (10 % distinct) in the reference, 100 other codes in the live window; ``session``: 200 codes
    in the reference, and one per row live (50 of them known); ``amount`` and ``plan``:
    ordinary features without drift."""
    rng = np.random.default_rng(seed)
    ids = np.array([f"o{i:06d}" for i in range(N_REF + N_LIVE // 2)])
    ref = pd.DataFrame(
        {
            "order_id": ids[:N_REF],
            "sku": rng.choice([f"s{i}" for i in range(300)], size=N_REF),
            "session": rng.choice([f"u{i}" for i in range(200)], size=N_REF),
            "amount": rng.normal(size=N_REF),
            "plan": rng.choice(["basic", "pro", "team"], size=N_REF, p=[0.6, 0.3, 0.1]),
        }
    )
    live_sessions = np.concatenate(
        ([f"u{i}" for i in range(50)], [f"u{i}" for i in range(10_000, 10_000 + N_LIVE - 50)])
    )
    live = pd.DataFrame(
        {
            "order_id": ids[N_REF - N_LIVE // 2 :],
            "sku": rng.choice([f"s{i}" for i in range(300, 400)], size=N_LIVE),
            "session": rng.permutation(live_sessions),
            "amount": rng.normal(size=N_LIVE),
            "plan": rng.choice(["basic", "pro", "team"], size=N_LIVE, p=[0.6, 0.3, 0.1]),
        }
    )
    return ref, live


def test_identifier_columns_are_invalid_with_the_reason() -> None:
    """An id unique per row in the reference is invalid ("looks like an identifier", 3,000
    distinct values in 3,000 reference rows); a code whose live values are all new, and a code
    that is one value per row only in the live window, are tested and drift (never ok). The
    ordinary features are evaluated; the dataset reason lists the identifier as not evaluated."""
    ref, live = _frames()
    kinds = detect.infer_kinds(ref)
    assert all(kinds[c] is FeatureKind.CATEGORICAL for c in ("order_id", "sku", "session"))
    report = detect.detect(detect.summarize(ref, kinds), live, DriftConfig())
    by_name = {f.feature: f for f in report.features}
    order = by_name["order_id"]
    assert order.state is FeatureState.INVALID and order.p_value is None and order.effect is None
    assert order.detail.startswith(
        "looks like an identifier (3,000 distinct values in 3,000 reference rows)"
    )
    assert by_name["sku"].state is FeatureState.DRIFT, by_name["sku"]
    assert by_name["sku"].new_category_mass == 1.0
    assert "100.0% of live values in categories new to the reference" in by_name["sku"].detail
    assert by_name["session"].state is FeatureState.DRIFT, by_name["session"]
    assert by_name["amount"].state is FeatureState.OK
    assert by_name["plan"].state is FeatureState.OK
    assert report.verdict is Verdict.DRIFT
    assert "1 not evaluated (order_id: invalid)" in report.reason


def test_all_new_live_values_never_read_ok() -> None:
    """A code re-coded wholesale into singletons the test cannot tell apart still reads drift:
    every live value is new to the reference, and the detail says so."""
    rng = np.random.default_rng(3)
    ref = pd.DataFrame({"c": rng.choice([f"a{i}" for i in range(20)], size=400)})
    live = pd.DataFrame({"c": [f"b{i}" for i in range(40)]})
    kinds = {"c": FeatureKind.CATEGORICAL}
    f = detect.detect(detect.summarize(ref, kinds), live, DriftConfig()).features[0]
    assert f.state is FeatureState.DRIFT, f
    assert f.new_category_mass == 1.0


def test_high_cardinality_codes_that_are_not_identifiers_stay_testable() -> None:
    """A 1,000-level Zipf-like code at 5,000 rows (well below 90 % distinct), a small live window
    of distinct values (below the 50-row minimum of the distinct rule, with known values), and a
    live window where most but not all values are new: all evaluated, none invalid."""
    rng = np.random.default_rng(1)
    levels = np.array([f"z{i}" for i in range(1_000)])
    p = 1.0 / np.arange(1, 1_001) ** 0.8
    p /= p.sum()
    ref = pd.DataFrame({"zip": rng.choice(levels, size=5_000, p=p)})
    kinds = {"zip": FeatureKind.CATEGORICAL}
    summary = detect.summarize(ref, kinds)
    live = pd.DataFrame({"zip": rng.choice(levels, size=5_000, p=p)})
    assert detect.detect(summary, live, DriftConfig()).features[0].state is FeatureState.OK
    seen = ref["zip"].unique()
    small = pd.DataFrame({"zip": seen[:40]})
    assert detect.detect(summary, small, DriftConfig()).features[0].state is not (
        FeatureState.INVALID
    )
    mixed = pd.DataFrame(
        {"zip": np.r_[rng.choice(seen, 100), [f"new{i % 50}" for i in range(900)]]}
    )
    f = detect.detect(summary, mixed, DriftConfig()).features[0]
    assert f.state is FeatureState.DRIFT and f.new_category_mass == 0.9


def _drift(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "driftd", "drift", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def test_drift_command_shows_identifier_columns_as_invalid(tmp_path: Path) -> None:
    """``driftd drift REF LIVE``: identifier columns read ``invalid`` with their reason in the
    JSON detail and on their row of the text table, never ``ok``; an integer id listed with
    ``--categorical`` is caught the same way; the all-new code drifts (exit 1)."""
    ref, live = _frames(2)
    ref["customer"] = np.arange(N_REF)
    live["customer"] = np.arange(N_REF - 300, N_REF - 300 + N_LIVE)
    ref_path, live_path = tmp_path / "ref.csv", tmp_path / "live.parquet"
    ref.to_csv(ref_path, index=False)
    live.to_parquet(live_path, index=False)

    # --keep: without a config, `order_id` would be left out as named like an identifier.
    named = ("--categorical", "customer", "--keep", "order_id")
    proc = _drift(str(ref_path), str(live_path), *named, "--json")
    assert proc.returncode == 1, proc.stderr
    data = json.loads(proc.stdout)
    states = {f["feature"]: f for f in data["features"]}
    for name in ("order_id", "customer"):
        assert states[name]["state"] == "invalid", states[name]
    assert states["customer"]["detail"].startswith(
        "looks like an identifier (3,000 distinct values in 3,000 reference rows)"
    )
    assert states["sku"]["state"] == states["session"]["state"] == "drift"
    assert states["amount"]["state"] == states["plan"]["state"] == "ok"

    text = _drift(str(ref_path), str(live_path), *named)
    assert text.returncode == 1, text.stderr
    rows = {line.split()[0]: line.split() for line in text.stdout.splitlines() if line.strip()}
    for name in ("order_id", "customer"):
        assert rows[name][2] == "invalid", text.stdout
    assert "customer: invalid" in text.stdout
