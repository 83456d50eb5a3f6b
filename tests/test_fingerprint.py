"""driftd.fingerprint: one digest per content, whatever format or dtype carried it."""

from __future__ import annotations

import hashlib
import sqlite3
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from driftd import sources
from driftd.config import SourceConfig
from driftd.errors import DataError
from driftd.fingerprint import file_sha256, frame_sha256


def test_csv_parquet_and_sqlite_give_the_same_digest(
    data_dir: Path, live_frame: pd.DataFrame
) -> None:
    """The same rows read from CSV, Parquet and SQLite hash alike (and like the original)."""
    live_frame.to_csv(data_dir / "d.csv", index=False)
    live_frame.to_parquet(data_dir / "d.parquet", index=False)
    with sqlite3.connect(data_dir / "d.db") as conn:
        live_frame.to_sql("t", conn, index=False)
    conn.close()
    frames = [
        sources.read(SourceConfig(str(data_dir / "d.csv")), timestamp="ts"),
        sources.read(SourceConfig(str(data_dir / "d.parquet")), timestamp="ts"),
        sources.read(
            SourceConfig(f"sqlite:///{data_dir / 'd.db'}", "SELECT * FROM t"), timestamp="ts"
        ),
    ]
    digests = {frame_sha256(f) for f in frames}
    assert digests == {frame_sha256(live_frame)}


def test_one_changed_value_changes_the_digest(live_frame: pd.DataFrame) -> None:
    """Every kind of column is covered in full: a one-ulp, one-letter or one-ns change shows."""
    base = frame_sha256(live_frame)
    changes = {
        "age": np.nextafter(live_frame["age"].iloc[700], np.inf),
        "sessions": live_frame["sessions"].iloc[700] + 1,
        "plan": "basiC",
        "ts": live_frame["ts"].iloc[700] + pd.Timedelta(1, "ns"),
    }
    for column, value in changes.items():
        changed = live_frame.copy()
        changed.loc[700, column] = value
        assert frame_sha256(changed) != base, column


def test_column_order_and_index_do_not_matter_row_order_does(live_frame: pd.DataFrame) -> None:
    """Columns are hashed by sorted name and the index is ignored; rows keep their order."""
    base = frame_sha256(live_frame)
    assert frame_sha256(live_frame[live_frame.columns[::-1]]) == base
    assert frame_sha256(live_frame.set_axis(range(5, 5 + len(live_frame)))) == base
    assert frame_sha256(live_frame.iloc[::-1]) != base


def test_equal_values_in_other_dtypes_hash_alike() -> None:
    """What a CSV or SQLite round trip does to dtypes does not change the digest."""
    same = [
        ({"x": [1, 2, 3]}, {"x": [1.0, 2.0, 3.0]}),
        ({"x": pd.array([1, None], dtype="Int64")}, {"x": [1.0, np.nan]}),
        ({"x": [True, False]}, {"x": [1, 0]}),
        ({"x": pd.Series([True, None], dtype=object)}, {"x": [1.0, np.nan]}),
        ({"x": pd.Series(["a", None], dtype=object)}, {"x": pd.Series(["a", None], dtype="str")}),
        ({"x": pd.Series(["a", "b"], dtype="category")}, {"x": ["a", "b"]}),
        ({"x": pd.Series([None, None], dtype=object)}, {"x": [np.nan, np.nan]}),
        ({"x": [-0.0]}, {"x": [0]}),
        (
            {"t": pd.to_datetime(["2026-01-01T01:00"]).tz_localize("Europe/Paris")},
            {"t": pd.to_datetime(["2026-01-01T00:00"]).as_unit("s")},
        ),
    ]
    for left, right in same:
        assert frame_sha256(pd.DataFrame(left)) == frame_sha256(pd.DataFrame(right)), left


def test_different_values_hash_apart() -> None:
    """Missing is not empty, text is not a number, 0.5 is not 1, a column name matters."""
    different = [
        ({"x": [""]}, {"x": [None]}),
        ({"x": ["1"]}, {"x": [1]}),
        ({"x": [0.5]}, {"x": [1.0]}),
        ({"x": [np.inf]}, {"x": [np.nan]}),
        ({"x": ["ab", "c"]}, {"x": ["a", "bc"]}),
        ({"x": [1]}, {"y": [1]}),
        ({"x": [1, 2]}, {"x": [1]}),
    ]
    for left, right in different:
        assert frame_sha256(pd.DataFrame(left)) != frame_sha256(pd.DataFrame(right)), left


def test_columns_argument(live_frame: pd.DataFrame) -> None:
    """``columns`` hashes just those columns; a missing one is a DataError naming it."""
    assert frame_sha256(live_frame, ["age", "plan"]) == frame_sha256(live_frame[["plan", "age"]])
    with pytest.raises(DataError, match="'nope'"):
        frame_sha256(live_frame, ["age", "nope"])


def test_a_million_rows_in_well_under_a_few_seconds() -> None:
    """The encoding is vectorised per column, not a Python loop per row."""
    rng = np.random.default_rng(0)
    n = 1_000_000
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "k": rng.integers(0, 50, n),
            "c": np.array(["basic", "standard", "premium"])[rng.integers(0, 3, n)],
            "t": pd.date_range("2026-01-01", periods=n, freq="s", tz="UTC"),
        }
    )
    started = time.perf_counter()
    frame_sha256(frame)
    assert time.perf_counter() - started < 3.0


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.floats(allow_nan=True, allow_infinity=True, width=64),
            st.integers(-(2**62), 2**62),
            st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\r\x00"), max_size=8),
        ),
        min_size=1,
        max_size=20,
    )
)
def test_csv_round_trip_keeps_the_digest(
    tmp_path_factory: pytest.TempPathFactory, rows: list[tuple[float, int, str]]
) -> None:
    """Any floats, ints and non-empty strings written to CSV and read back hash the same."""
    frame = pd.DataFrame(rows, columns=["f", "i", "s"])
    frame["s"] = "s" + frame["s"]  # "" and tokens such as "NA" read back as missing in CSV
    path = tmp_path_factory.mktemp("rt") / "x.csv"
    frame.to_csv(path, index=False)
    assert frame_sha256(sources.read(SourceConfig(str(path)))) == frame_sha256(frame)


def test_file_sha256_streams_the_whole_file(tmp_path: Path) -> None:
    """file_sha256 equals hashlib over the bytes, beyond one block; missing file: DataError."""
    data = np.random.default_rng(0).bytes(3 * (1 << 20) + 17)
    path = tmp_path / "blob"
    path.write_bytes(data)
    assert file_sha256(path) == hashlib.sha256(data).hexdigest()
    with pytest.raises(DataError, match="nope: cannot read"):
        file_sha256(tmp_path / "nope")


def test_arrow_strings_of_a_concatenated_frame_hash_like_plain_strings() -> None:
    """pd.concat of frames with Arrow-backed string columns keeps several chunks (pyarrow hands
    back a ChunkedArray); the fingerprint equals that of the same values as Python strings."""
    left = pd.DataFrame({"s": pd.array(["a", None], dtype="string[pyarrow]")})
    right = pd.DataFrame({"s": pd.array(["bc", "d"], dtype="string[pyarrow]")})
    joined = pd.concat([left, right], ignore_index=True)
    plain = pd.DataFrame({"s": ["a", None, "bc", "d"]})
    assert frame_sha256(joined) == frame_sha256(plain)
