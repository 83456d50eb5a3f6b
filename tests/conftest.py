"""Fixtures shared across the suite: seeded frames with and without drift, a data directory.

All frames come from :mod:`driftd.synth` (fixed seeds, a few thousand rows), so they are
identical on every run. ``T0`` is where the live frames start and the reference ends.
"""

from __future__ import annotations

import os

# As the driftd command does (see driftd/cli.py): one OpenMP thread, set before scipy or
# scikit-learn loads a runtime, so that no process of the suite aborts at exit.
os.environ.setdefault("OMP_NUM_THREADS", "1")

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from driftd import synth

T0 = datetime(2026, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.fixture
def reference_frame() -> pd.DataFrame:
    """2000 pre-drift rows over the week before ``T0``."""
    return synth.make_reference(2000, seed=1, end=T0)


@pytest.fixture
def live_frame() -> pd.DataFrame:
    """1000 rows in ``(T0, T0 + 1d]`` from the reference's distribution: no drift."""
    return synth.make_stream(T0, 1, DAY, 1000, None, seed=2)


@pytest.fixture
def drifted_frame() -> pd.DataFrame:
    """1000 rows in ``(T0, T0 + 1d]``, all drifted (covariates and concept; see synth)."""
    return synth.make_stream(T0, 1, DAY, 1000, T0, seed=3)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """An empty directory for data files, inside the test's tmp_path."""
    path = tmp_path / "data"
    path.mkdir()
    return path
