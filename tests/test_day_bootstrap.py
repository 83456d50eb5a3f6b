"""The paired bootstrap resamples whole days when the holdout has timestamps."""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pandas as pd

from driftd import evaluate
from driftd.config import PromotionConfig
from driftd.evaluate.bootstrap import MIN_BLOCKS, day_blocks, resamples

START = np.datetime64("2024-03-01T06:00", "ns")


def _times(days: int, per_day: int) -> np.ndarray:
    minutes = (np.arange(days * per_day) % per_day) * (12 * 60 // per_day)
    day = np.repeat(np.arange(days), per_day)
    return START + day * np.timedelta64(1, "D") + minutes * np.timedelta64(1, "m")


class Column:
    """A regressor that predicts one column: two of them are the equally good models."""

    def __init__(self, column: str) -> None:
        self.column = column

    def predict(self, x: pd.DataFrame) -> np.ndarray:
        return np.asarray(x[self.column].to_numpy())


def test_day_blocks_partition_rows_into_24_hour_spans_from_the_first_row() -> None:
    """Rows fall into spans of 24 h counted from the first timestamp (not calendar days), in
    any row order, and the blocks together hold every row once."""
    times = _times(6, 3)
    shuffled = np.random.default_rng(0).permutation(len(times))
    blocks = day_blocks(times[shuffled])
    assert blocks is not None and len(blocks) == 6
    assert sorted(np.concatenate(blocks).tolist()) == list(range(18))
    for block in blocks:
        assert (
            len({int(d) for d in (times[shuffled][block] - START) // np.timedelta64(1, "D")}) == 1
        )
    late = np.concatenate(
        [[START + np.timedelta64(23, "h")], START + np.arange(1, 6) * 86400 * 10**9]
    )
    assert [len(b) for b in day_blocks(np.repeat(late, 2))] == [4, 2, 2, 2, 2]  # type: ignore[union-attr]


def test_day_blocks_fall_back_to_rows_when_days_cannot_be_units() -> None:
    """No timestamps, a missing one, fewer than MIN_BLOCKS days, or one row a day (a daily
    series) mean resampling rows."""
    assert day_blocks(None) is None
    assert day_blocks(_times(MIN_BLOCKS - 1, 10)) is None
    assert day_blocks(_times(MIN_BLOCKS, 10)) is not None
    assert day_blocks(_times(30, 1)) is None
    gap = _times(MIN_BLOCKS, 10).copy()
    gap[3] = np.datetime64("NaT")
    assert day_blocks(gap) is None


def test_block_resamples_hold_n_rows_made_of_whole_blocks() -> None:
    """Each resample has exactly n indices, cut from whole blocks drawn in turn (only the last
    block may be cut short), and the same seed gives the same resamples."""
    blocks = [np.array([0, 1, 2]), np.array([3, 4]), np.array([5, 6, 7, 8])]
    chunks = list(resamples(9, 40, seed=3, blocks=blocks))
    again = list(resamples(9, 40, seed=3, blocks=blocks))
    assert all(np.array_equal(a, b) for a, b in zip(chunks, again, strict=True))
    starts = {0: blocks[0], 3: blocks[1], 5: blocks[2]}
    for row in np.concatenate(chunks):
        assert len(row) == 9
        i = 0
        while i < 9:
            block = starts[int(row[i])]
            take = min(len(block), 9 - i)
            assert row[i : i + take].tolist() == block[:take].tolist()
            i += take


def test_day_bootstrap_is_calibrated_where_the_row_bootstrap_is_not() -> None:
    """Two equally good models whose errors share a day effect (half their variance): the
    row bootstrap's 95 % interval excludes 0 far more often than 5 %; resampling days keeps it
    near nominal. The comparison is recorded as a day bootstrap."""
    rng = np.random.default_rng(11)
    days, per_day, reps = 10, 60, 60
    times = _times(days, per_day)
    cfg = PromotionConfig(scorer="neg_mean_squared_error", bootstrap=300, guardrails={})
    a, b = Column("a"), Column("b")
    rows = by_day = 0
    for rep in range(reps):
        truth = rng.normal(size=days * per_day)

        def errors() -> np.ndarray:
            shared = np.repeat(rng.normal(size=days), per_day)
            return np.asarray((shared + rng.normal(size=days * per_day)) / np.sqrt(2))

        x = pd.DataFrame({"a": truth + errors(), "b": truth + errors()})
        plain = evaluate.compare(a, b, x, truth, cfg, seed=rep).primary
        blocked = evaluate.compare(a, b, x, truth, cfg, seed=rep, timestamps=times).primary
        assert plain is not None and blocked is not None
        assert plain.method == "paired_bootstrap" and blocked.method == "paired_day_bootstrap"
        assert blocked.difference == plain.difference
        rows += int(plain.ci_low > 0 or plain.ci_high < 0)
        by_day += int(blocked.ci_low > 0 or blocked.ci_high < 0)
    assert rows / reps > 0.3
    assert by_day / reps <= 0.15


def test_resampling_days_is_a_promotion_option_and_rows_the_default(tmp_path: Path) -> None:
    """promotion.resample: rows by default, days when asked; anything else is a one-line
    config problem naming the key."""
    import pytest

    from driftd import config
    from driftd.errors import ConfigError

    text = (Path(__file__).resolve().parents[1] / "config.toml").read_text(encoding="utf-8")
    assert config.parse(tomllib.loads(text)).models[0].promotion.resample == "rows"
    days = text.replace("[models.promotion]\n", '[models.promotion]\nresample = "days"\n', 1)
    assert config.parse(tomllib.loads(days)).models[0].promotion.resample == "days"
    bad = text.replace("[models.promotion]\n", '[models.promotion]\nresample = "weeks"\n', 1)
    with pytest.raises(ConfigError, match=r"promotion\.resample"):
        config.parse(tomllib.loads(bad))
