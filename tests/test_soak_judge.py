"""bench/soak.py's many-models verdict on a registry and a daemon log written here: the
start-up backlog belongs to warm-up, a merged firing after it does not."""

from __future__ import annotations

import sqlite3
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench"
sys.path.insert(0, str(BENCH))

import soak  # noqa: E402

T0 = datetime(2026, 12, 8, 1, 0, tzinfo=UTC)
PERIOD = 60.0


def _iso(at: datetime) -> str:
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _registry(path: Path, runs: list[tuple[str, datetime]]) -> Path:
    with sqlite3.connect(path) as c:
        c.execute("CREATE TABLE runs (id INTEGER PRIMARY KEY, model TEXT, started_at TEXT, "
                  "finished_at TEXT, status TEXT)")  # fmt: skip
        for model, at in runs:
            done = at + timedelta(seconds=5)
            c.execute(
                "INSERT INTO runs (model, started_at, finished_at, status) VALUES (?, ?, ?, 'ok')",
                (model, _iso(at), _iso(done)),
            )
    return path


def _log(path: Path, merged: list[datetime]) -> Path:
    lines = [
        f'{at.strftime("%Y-%m-%dT%H:%M:%S+0000")} INFO job.merged job=m000 reason="waits"'
        for at in merged
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _judge(tmp_path: Path, merged_after: list[float], minutes: int = 14) -> list[str]:
    """Two models, each run a minute apart for ``minutes``; the second runs finish at T0 + 65 s;
    merged firings at the given seconds after that (negative: before)."""
    runs = [(m, T0 + timedelta(minutes=i)) for i in range(minutes) for m in ("m000", "m001")]
    second = T0 + timedelta(seconds=65)
    merged = [second + timedelta(seconds=s) for s in merged_after]
    samples = [soak.Sample(1.0, 1, 0, 300_000, 30, 25, 2, 3, 19)]
    return soak.judge_schedule(
        _registry(tmp_path / "registry.db", runs), _log(tmp_path / "daemon.log", merged), "1m",
        samples, 400,
    )  # fmt: skip


def test_backlog_drained_is_one_period_after_the_last_merged_firing_it_reaches() -> None:
    """Each merged firing up to the current end moves it to one period after that firing; the
    first merged firing beyond the end is not part of the backlog."""
    at = [T0 + timedelta(seconds=s) for s in (-30, 10, 50, 100, 300)]
    assert soak.backlog_drained(T0, at, PERIOD) == T0 + timedelta(seconds=160)
    assert soak.backlog_drained(T0, at[4:], PERIOD) == T0
    assert soak.backlog_drained(T0, [T0 - timedelta(seconds=90)], PERIOD) == T0
    assert soak.backlog_drained(T0, [T0 - timedelta(seconds=20)], PERIOD) == T0 + timedelta(
        seconds=40
    )


def test_merged_firings_of_the_start_up_backlog_pass_and_a_later_one_fails(
    tmp_path: Path,
) -> None:
    """Firings merged around the second runs' end are the start-up backlog; one merged five
    minutes later means the workers fell behind; and ten minutes must follow warm-up."""
    assert _judge(tmp_path, [-10, 0, 20, 40]) == []
    for name, merged, minutes, failure in (
        ("late", [0, 20, 300], 14, "merged: 1 after warm-up"),
        ("short", [0], 12, "only 8.9 minutes after warm-up (< 10)"),
    ):
        where = tmp_path / name
        where.mkdir()
        assert _judge(where, merged, minutes) == [failure]
