"""bench/replay.py end to end on a tiny seeded stream: its numbers agree with the registry.

The harness replays a stream through ``driftd.daemon.check_once`` (what ``driftd check --now``
runs) and scores three policies prequentially. Here every figure it prints is recomputed from
the registry and scikit-learn by other means, so a harness that scored the wrong window, the
wrong model or miscounted trainings would fail.
"""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from driftd import trainer

BENCH = Path(__file__).resolve().parents[1] / "bench"
sys.path.insert(0, str(BENCH))

import replay  # noqa: E402
import streams  # noqa: E402

# The replay takes 10 s on a quiet machine, 30-70 s on a busy 2-core one (three cycles, each
# training child a new interpreter): slow.


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> tuple[replay.StreamResult, Path]:
    stream = streams.tiny_stream()
    directory = tmp_path_factory.mktemp("replay") / stream.name
    return replay.replay(stream, directory), directory / "state" / "registry.db"


def _rows(db: Path, sql: str) -> list[sqlite3.Row]:
    c = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    c.row_factory = sqlite3.Row
    try:
        return c.execute(sql).fetchall()
    finally:
        c.close()


@pytest.mark.slow
def test_never_retrain_is_driftds_first_version_scored_on_each_next_window(
    replayed: tuple[replay.StreamResult, Path],
) -> None:
    """The `never` column is version 1 (driftd's bootstrap) scored with sklearn's roc_auc on the
    labelled rows of (t, t + step] after each check, and an in-process fit on the reference
    reproduces that version (the premise of the `every` baseline)."""
    result, db = replayed
    stream = streams.tiny_stream()
    (v1,) = _rows(db, "SELECT artifact_path, artifact_sha256 FROM versions WHERE number = 1")
    model = trainer.load_model(Path(v1["artifact_path"]), v1["artifact_sha256"])
    expected = []
    for now in stream.checks():
        ts = stream.frame[stream.timestamp]
        rows = stream.frame[(ts > now) & (ts <= now + stream.step)]
        proba = model.predict_proba(rows[list(stream.features)])[:, 1]
        expected.append(roc_auc_score(rows[stream.target], proba))
    assert result.steps == 3 and result.failed_runs == 0
    assert np.allclose(result.policies["never"].per_step, expected, atol=1e-12)
    assert result.bootstrap_reproduced
    # At the first check every policy deploys the bootstrap model.
    first = {p: s.per_step[0] for p, s in result.policies.items()}
    assert len(set(first.values())) == 1, first


@pytest.mark.slow
def test_driftd_counts_and_rates_match_the_registry(
    replayed: tuple[replay.StreamResult, Path],
) -> None:
    """Trainings and promotions per step are the shares of the steps after the bootstrap run
    that trained or promoted; the alarm rate is the share of checks whose verdict is drift; the
    share of gain is (driftd - never) / (every - never); the drift injected at day 21 is found
    and retrained on."""
    result, db = replayed
    runs = [r["id"] for r in _rows(db, "SELECT id FROM runs ORDER BY id")]
    later = runs[1:]
    trainings = [r["run_id"] for r in _rows(db, "SELECT run_id FROM trainings")]
    promotes = [
        r["run_id"] for r in _rows(db, "SELECT run_id FROM decisions WHERE action = 'promote'")
    ]
    verdicts = [r["verdict"] for r in _rows(db, "SELECT verdict FROM checks ORDER BY id")]
    d = result.policies["driftd"]
    assert d.trainings_per_step == len(set(trainings) & set(later)) / len(later)
    assert d.promotions_per_step == len(set(promotes) & set(later)) / len(later)
    assert result.alarm_rate == verdicts.count("drift") / len(verdicts)
    assert result.alarm_rate > 0 and d.trainings_per_step > 0
    never, every = result.policies["never"].metric, result.policies["every"].metric
    assert every > never  # retraining after the drift pays on this stream
    assert result.gain_share == pytest.approx((d.metric - never) / (every - never))
    for name, score in result.policies.items():
        assert score.metric == pytest.approx(np.mean(score.per_step)), name


@pytest.mark.slow
def test_table_and_floors_print_every_policy(replayed: tuple[replay.StreamResult, Path]) -> None:
    """The printed table has one row per policy, the floors list names the stream's checks."""
    result, _ = replayed
    text = replay.table([result])
    assert [line.split("|")[3].strip() for line in text.splitlines()[2:]] == list(replay.POLICIES)
    floors = dict(replay.floors([result]))
    assert any("significantly worse" in k for k in floors)


def test_unknown_stream_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """`--streams` with a name that is not a stream exits 2 naming it and the choices."""
    with pytest.raises(SystemExit) as exc:
        replay.main(["--streams", "nope"])
    assert exc.value.code == 2
    assert "unknown stream 'nope'" in capsys.readouterr().err


def test_share_spread_resamples_whole_steps_for_every_policy_alike() -> None:
    """The share's bootstrap resamples the same steps for the three policies: a driftd equal to
    ``every`` (or to ``never``) keeps a share of exactly 1 (or 0) in every resample, however
    noisy the weeks; a driftd at 80 % of the gain plus noise straddles 90 % only as often as
    its spread allows, and its interval holds the point estimate."""
    rng = np.random.default_rng(3)
    never = rng.normal(0.6, 0.05, 48)
    every = never + 0.03 + rng.normal(0, 0.002, 48)
    assert replay.share_spread(never, every, every) == (1.0, 1.0, 1.0)
    assert replay.share_spread(never, every, never) == (0.0, 0.0, 0.0)
    driftd = never + 0.8 * (every - never) + rng.normal(0, 0.01, 48)
    point = (driftd.mean() - never.mean()) / (every.mean() - never.mean())
    lo, hi, reached = replay.share_spread(never, every, driftd)
    assert lo < point < hi
    assert 0.0 < reached < 0.5  # below the floor on the point, yet not ruled out
