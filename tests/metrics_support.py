"""A registry built by two real `driftd check --now` runs, for the metrics and timeline tests.

The repository's ``config.toml`` (one model, ``churn``) on :func:`driftd.synth.write_demo_data`,
with a ``[metrics]`` textfile, hysteresis 1 of 1 and an unreachable ``min_improvement``:

- ``BOOT_AT`` (quiet data): verdict ``ok``, ``churn-v1`` trained and kept as the ``bootstrap``;
- ``DRIFT_AT`` (drifted data): verdict ``drift``, ``churn-v2`` trained and ``reject``-ed, so the
  champion stays ``churn-v1`` and is exactly ``DRIFT_AT - BOOT_AT`` old on the runs' clock.

Built once per test session (:func:`build` caches it); tests must not write to ``root``: those
that need to change the registry work on :func:`copy`.
"""

from __future__ import annotations

import shutil
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cli_support import check

from driftd import synth

REPO = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 1, 11, tzinfo=UTC)
BOOT_AT = NOW - timedelta(days=9)
DRIFT_AT = NOW - timedelta(days=2)
TEXTFILE = "metrics/driftd.prom"


@dataclass(frozen=True, slots=True)
class Built:
    root: Path
    boot: dict[str, Any]  # `driftd check --json` of each check, for model churn
    drift: dict[str, Any]

    @property
    def config(self) -> Path:
        return self.root / "config.toml"

    @property
    def registry(self) -> Path:
        return self.root / "state" / "registry.db"

    @property
    def textfile(self) -> Path:
        return self.root / TEXTFILE


_CACHE: dict[Path, Built] = {}


def config_text(metrics: str = f'textfile = "{TEXTFILE}"\n') -> str:
    """The test config with ``metrics`` as the body of its ``[metrics]`` table."""
    text = (REPO / "config.toml").read_text(encoding="utf-8")
    for old, new in (
        ("min_improvement = 0.0", "min_improvement = 0.5"),
        ("bootstrap = 1000", "bootstrap = 200"),
        ("hysteresis_k = 2", "hysteresis_k = 1"),
        ('log_level = "info"', 'log_level = "warning"'),
    ):
        assert old in text, old
        text = text.replace(old, new)
    return f"{text}\n[metrics]\n{metrics}"


def build(base: Path) -> Built:
    """Build under ``base`` once per session; later calls return the cached one."""
    if base in _CACHE:
        return _CACHE[base]
    root = base / "work"
    root.mkdir(parents=True)
    # Small windows (300 rows a day) keep the two cycles to seconds.
    synth.write_demo_data(root / "data", NOW, rows_per_day=300, reference_rows=1000)
    (root / "config.toml").write_text(config_text(), encoding="utf-8")
    boot = check(root / "config.toml", BOOT_AT)["churn"]
    drift = check(root / "config.toml", DRIFT_AT)["churn"]
    assert (boot["decision"], drift["decision"]) == ("bootstrap", "reject"), (boot, drift)
    with sqlite3.connect(root / "state" / "registry.db") as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # a copy then holds every row
    conn.close()
    built = Built(root, boot, drift)
    _CACHE[base] = built
    return built


def copy(built: Built, dest: Path, metrics: str | None = None) -> Path:
    """A copy of the working directory at ``dest`` (its config's ``[metrics]`` body replaced
    by ``metrics`` when given); returns the copy's config path. Artifact paths in the copied
    registry still point at the original's files, which copies only read."""
    shutil.copytree(built.root, dest, symlinks=True)
    if metrics is not None:
        (dest / "config.toml").write_text(config_text(metrics), encoding="utf-8")
    return dest / "config.toml"
