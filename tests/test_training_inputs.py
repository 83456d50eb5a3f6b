"""Training inputs the estimator way cannot take are refused before the child starts, naming
the column (issue 13 item 4): infinite values, which scikit-learn refuses without a name."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from cli_support import NOW, check

from driftd import synth

CONFIG = """
registry = "state/registry.db"
artifacts = "state/artifacts"
log_level = "warning"

[[models]]
name = "churn"
every = "1d"

[models.data]
reference = "data/reference.csv"
live = "data/live/*.csv"
timestamp = "ts"
target = "label"
window = "1d"
"""


def test_a_check_names_the_columns_that_hold_infinities(tmp_path: Path) -> None:
    """A real ``driftd check`` whose reference holds +inf in ``income`` (2 rows) and -inf in
    ``usage_hours`` (1 row): the bootstrap training fails with an error that names both
    columns and their row counts, not scikit-learn's nameless "Input X contains infinity"."""
    synth.write_demo_data(tmp_path / "data", NOW, rows_per_day=300, reference_rows=1500)
    reference = tmp_path / "data" / "reference.csv"
    frame = pd.read_csv(reference)
    frame.loc[[3, 40], "income"] = np.inf
    frame.loc[7, "usage_hours"] = -np.inf
    frame.to_csv(reference, index=False)
    config = tmp_path / "config.toml"
    config.write_text(CONFIG, encoding="utf-8")

    result = check(config, NOW - timedelta(days=6))["churn"]
    assert result["status"] == "failed", result
    error = result["error"]
    assert "column(s) 'income' (2 rows), 'usage_hours' (1 row) hold infinite values" in error
    assert "Input X contains infinity" not in error
