"""Parsed data files are kept between reads only while the file on disk is unchanged.

Real CSV files on disk, read through ``driftd.sources.read`` (the daemon's path) and through a
small ``FileMemo`` for the bounds.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from driftd import sources
from driftd.config import SourceConfig
from driftd.errors import DataError
from driftd.sources._memo import MEMO, FileMemo

SETTLE_NS = 200_000_000  # the tests' files settle in 0.2 s instead of 2 s


@pytest.fixture(autouse=True)
def _fresh(monkeypatch: pytest.MonkeyPatch) -> None:
    MEMO.clear()
    monkeypatch.setattr(MEMO, "settle_ns", SETTLE_NS)


def _settle(path: Path) -> None:
    """Wait until the file's last change is SETTLE_NS old: only then may the memo keep it."""
    info = os.stat(path)
    last = max(info.st_mtime_ns, info.st_ctime_ns)
    time.sleep(max(0, last + SETTLE_NS - time.time_ns()) / 1e9 + 0.01)


def _write(path: Path, values: list[float]) -> None:
    rows = "".join(f"2026-01-0{i + 1}T00:00Z,{v}\n" for i, v in enumerate(values))
    path.write_text("ts,x\n" + rows, encoding="utf-8")


def test_a_second_read_of_an_unchanged_file_shares_the_parsed_data(tmp_path: Path) -> None:
    """Two reads of the same file: equal frames whose column data is the same memory (the
    second read parsed nothing), and one frame kept."""
    path = tmp_path / "live.csv"
    _write(path, [1.0, 2.0, 3.0])
    _settle(path)
    first = sources.read(SourceConfig(str(path)), timestamp="ts", keep=True)
    second = sources.read(SourceConfig(str(path)), timestamp="ts", keep=True)
    pd.testing.assert_frame_equal(first, second)
    assert np.shares_memory(first["x"].to_numpy(), second["x"].to_numpy())
    assert MEMO.held()[0] == 1


def test_a_file_rewritten_in_place_or_replaced_is_read_afresh(tmp_path: Path) -> None:
    """Appending a row changes the size; a same-size file renamed over it, with its times set
    back to the old ones, is a new inode: both are read again, never served from the memo."""
    path = tmp_path / "live.csv"
    _write(path, [1.0, 2.0])
    assert sources.read(SourceConfig(str(path)), keep=True)["x"].tolist() == [1.0, 2.0]
    _write(path, [1.0, 2.0, 3.0])
    assert sources.read(SourceConfig(str(path)), keep=True)["x"].tolist() == [1.0, 2.0, 3.0]
    before = os.stat(path)
    other = tmp_path / ".next.csv"
    _write(other, [7.0, 8.0, 9.0])  # same length of text as the file it replaces
    os.utime(other, ns=(before.st_atime_ns, before.st_mtime_ns))
    os.replace(other, path)
    _settle(path)
    assert sources.read(SourceConfig(str(path)), keep=True)["x"].tolist() == [7.0, 8.0, 9.0]
    assert MEMO.held()[0] == 1  # the older versions of the file were dropped


def test_a_caller_changing_its_frame_does_not_change_the_next_read(tmp_path: Path) -> None:
    """The caller gets its own frame: assigning a column or writing a value in place (pandas'
    copy-on-write) leaves what the next read returns as the file says."""
    path = tmp_path / "live.csv"
    _write(path, [1.0, 2.0])
    _settle(path)
    frame = sources.read(SourceConfig(str(path)), keep=True)
    frame["x"] = [10.0, 20.0]
    frame.loc[0, "ts"] = "changed"
    again = sources.read(SourceConfig(str(path)), keep=True)
    assert again["x"].tolist() == [1.0, 2.0]
    assert again["ts"].tolist()[0] == "2026-01-01T00:00Z"


def test_columns_and_timestamp_parsing_are_part_of_the_key(tmp_path: Path) -> None:
    """A read with the timestamp parsed and one without are kept apart: each gets what it
    asked for."""
    path = tmp_path / "live.csv"
    _write(path, [1.0])
    parsed = sources.read(SourceConfig(str(path)), timestamp="ts", keep=True)
    raw = sources.read(SourceConfig(str(path)), keep=True)
    assert isinstance(parsed["ts"].dtype, pd.DatetimeTZDtype)
    assert not isinstance(raw["ts"].dtype, pd.DatetimeTZDtype)


def test_the_memo_is_bounded_in_bytes_and_skips_large_frames(tmp_path: Path) -> None:
    """A frame over a quarter of the bound is never kept; the others are dropped oldest first
    once their total passes the bound."""
    memo = FileMemo(max_bytes=4_000, settle_ns=SETTLE_NS)
    paths = []
    for i in range(10):
        path = tmp_path / f"f{i}.csv"
        path.write_text("x\n" + "".join(f"{j}\n" for j in range(50)), encoding="utf-8")
        paths.append(path)
    _settle(paths[-1])
    for path in paths:
        memo.cached(str(path), None, lambda p=path: pd.read_csv(p))  # 50 int64 + index: ~500 B
    frames, held = memo.held()
    assert held <= 4_000 and 0 < frames < 10
    big = tmp_path / "big.csv"
    big.write_text("x\n" + "".join(f"{j}\n" for j in range(500)), encoding="utf-8")
    _settle(big)
    memo.cached(str(big), None, lambda: pd.read_csv(big))  # ~4 KB: over a quarter
    assert memo.held()[0] == frames


def test_a_file_changed_within_the_settle_time_is_read_but_not_kept(tmp_path: Path) -> None:
    """A file changed less than the settle time before the read could still change within its
    timestamps' grain without showing it, so it is parsed afresh at every read until it has
    settled, and kept from then on. With the real 2 s settle time a file just written is never
    kept."""
    path = tmp_path / "live.csv"
    _write(path, [1.0, 2.0])
    assert FileMemo().settle_ns == 2 * 10**9
    fresh = FileMemo()
    fresh.cached(str(path), None, lambda: pd.read_csv(path))
    assert fresh.held() == (0, 0)
    first = sources.read(SourceConfig(str(path)), keep=True)
    assert MEMO.held() == (0, 0)
    _write(path, [3.0, 4.0])  # the same size, in place
    assert sources.read(SourceConfig(str(path)), keep=True)["x"].tolist() == [3.0, 4.0]
    assert first["x"].tolist() == [1.0, 2.0]
    _settle(path)
    sources.read(SourceConfig(str(path)), keep=True)
    assert MEMO.held()[0] == 1


def test_one_shot_reads_keep_nothing(tmp_path: Path) -> None:
    """Without ``keep`` (references, holdouts, ad-hoc files) nothing is kept: only the sources a
    daemon re-reads every cycle are worth the memory."""
    path = tmp_path / "reference.csv"
    _write(path, [1.0, 2.0])
    sources.read(SourceConfig(str(path)), timestamp="ts")
    assert MEMO.held() == (0, 0)


def test_a_missing_file_still_names_itself(tmp_path: Path) -> None:
    """No stat, no memo: the read's own one-line error reaches the caller."""
    with pytest.raises(DataError, match="file not found"):
        sources.read(SourceConfig(str(tmp_path / "gone.csv")), label="live window", keep=True)
