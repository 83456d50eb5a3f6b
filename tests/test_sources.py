"""driftd.sources: reading CSV / Parquet / globs / SQLite, time windows, and every failure."""

from __future__ import annotations

import os
import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from driftd import sources
from driftd.config import SourceConfig
from driftd.errors import DataError

T0 = datetime(2026, 1, 1, tzinfo=UTC)  # where the conftest live frames start
DAY = timedelta(days=1)


def src(path: Path | str, query: str | None = None) -> SourceConfig:
    return SourceConfig(str(path), query)


def write(path: Path, text: str | bytes) -> Path:
    if isinstance(text, str):
        text = text.encode("utf-8")
    path.write_bytes(text)
    return path


def error(source: SourceConfig, **kwargs: object) -> str:
    with pytest.raises(DataError) as info:
        sources.read(source, **kwargs)  # type: ignore[arg-type]
    message = str(info.value)
    assert "\n" not in message
    return message


# --- reading ---------------------------------------------------------------------------------


def test_csv_timestamps_become_sorted_utc(data_dir: Path) -> None:
    """Naive times are UTC, offsets are converted, rows come back sorted with a fresh index."""
    path = write(
        data_dir / "a.csv",
        "ts,x\n2026-01-01T03:00:00+02:00,1\n2026-01-01 00:30:00,2\n2026-01-01T00:10Z,3\n",
    )
    frame = sources.read(src(path), timestamp="ts")
    assert str(frame["ts"].dt.tz) == "UTC"
    assert frame["x"].tolist() == [3, 2, 1]
    assert frame["ts"].iloc[-1] == pd.Timestamp("2026-01-01T01:00Z")
    assert frame.index.tolist() == [0, 1, 2]


def test_epoch_seconds_are_timestamps(data_dir: Path) -> None:
    """A numeric timestamp column is seconds since 1970 UTC."""
    path = write(data_dir / "a.csv", "ts,x\n1767225600,1\n1767225660.5,2\n")
    frame = sources.read(src(path), timestamp="ts")
    assert frame["ts"].tolist() == [
        pd.Timestamp("2026-01-01T00:00Z"),
        pd.Timestamp("2026-01-01T00:01:00.5Z"),
    ]


def test_epoch_milliseconds_are_refused(data_dir: Path) -> None:
    """Epoch milliseconds would date rows in the year 57,000: refused, showing the value."""
    path = write(data_dir / "a.csv", "ts,x\n1767225600000,1\n")
    message = error(src(path), timestamp="ts")
    assert "'ts'" in message and "1767225600000" in message and "a.csv" in message


def test_columns_selects_and_orders(data_dir: Path, live_frame: pd.DataFrame) -> None:
    """``columns`` reads only those columns (plus the timestamp), in the order asked."""
    csv = data_dir / "a.csv"
    live_frame.to_csv(csv, index=False)
    parquet = data_dir / "a.parquet"
    live_frame.to_parquet(parquet, index=False)
    for path in (csv, parquet):
        frame = sources.read(src(path), ["region", "age"], timestamp="ts")
        assert list(frame.columns) == ["region", "age", "ts"]
        assert len(frame) == len(live_frame)


def test_csv_and_parquet_read_the_same_values(data_dir: Path, live_frame: pd.DataFrame) -> None:
    """Floats survive CSV exactly; both formats give the synth frame back. Parquet strings come
    back as categoricals (read dictionary-encoded, as they are stored) with the same values."""
    live_frame.to_csv(data_dir / "a.csv", index=False)
    live_frame.to_parquet(data_dir / "a.parquet", index=False)
    strings = [c for c in live_frame.columns if pd.api.types.is_string_dtype(live_frame[c])]
    assert strings
    for name in ("a.csv", "a.parquet"):
        frame = sources.read(src(data_dir / name), timestamp="ts")
        if name.endswith(".parquet"):
            assert all(isinstance(frame[c].dtype, pd.CategoricalDtype) for c in strings)
            frame = frame.astype({c: live_frame[c].dtype for c in strings})
        pd.testing.assert_frame_equal(frame, live_frame, check_dtype=False)


def test_glob_reads_matches_in_name_order(data_dir: Path) -> None:
    """A glob concatenates its matches sorted by name; hidden temp files are not matched."""
    write(data_dir / "2026-01-02.csv", "ts,x\n2026-01-02T01:00Z,2\n")
    write(data_dir / "2026-01-01.csv", "ts,x\n2026-01-01T01:00Z,1\n")
    write(data_dir / ".tmp-abc.csv", "ts,x\n2026-01-03T01:00Z,3\n")
    frame = sources.read(src(data_dir / "*.csv"))
    assert frame["x"].tolist() == [1, 2]


def test_glob_with_header_only_file_adds_no_rows(data_dir: Path) -> None:
    """A day with no data (header only) in a glob neither fails nor turns ints into objects."""
    write(data_dir / "a.csv", "ts,x\n2026-01-01T01:00Z,1\n")
    write(data_dir / "b.csv", "ts,x\n")
    frame = sources.read(src(data_dir / "*.csv"), timestamp="ts")
    assert frame["x"].tolist() == [1]
    assert frame["x"].dtype == np.int64


def test_glob_files_must_share_columns(data_dir: Path) -> None:
    """Files of one glob with different columns: the error names the odd file and the columns."""
    write(data_dir / "a.csv", "ts,x\n2026-01-01,1\n")
    write(data_dir / "b.csv", "ts,y\n2026-01-02,1\n")
    message = error(src(data_dir / "*.csv"))
    assert "b.csv" in message and "'x'" in message and "'y'" in message


def test_glob_matching_nothing(data_dir: Path) -> None:
    """A glob with no match is an error naming the pattern."""
    message = error(src(data_dir / "*.csv"), label="live")
    assert message.startswith("live ") and "*.csv" in message and "no files match" in message


def test_infinities_pass_through(data_dir: Path) -> None:
    """±inf are values, not missing: no row is dropped, detection decides what they mean."""
    write(data_dir / "a.csv", "x,y\ninf,1\n-inf,2\n,3\n")
    frame = sources.read(src(data_dir / "a.csv"))
    assert len(frame) == 3
    assert np.isposinf(frame["x"].iloc[0]) and np.isneginf(frame["x"].iloc[1])
    assert np.isnan(frame["x"].iloc[2])


# --- SQLite ----------------------------------------------------------------------------------


def make_db(path: Path, frame: pd.DataFrame) -> Path:
    with sqlite3.connect(path) as conn:
        frame.to_sql("events", conn, index=False)
    conn.close()
    return path


def test_sqlite_query(data_dir: Path, live_frame: pd.DataFrame) -> None:
    """A sqlite:/// source runs its query; the timestamp text is parsed like a CSV's."""
    db = make_db(data_dir / "d.db", live_frame)
    source = src(f"sqlite:///{db}", "SELECT * FROM events WHERE plan != 'basic'")
    frame = sources.read(source, ["plan", "age"], timestamp="ts")
    expected = live_frame[live_frame["plan"] != "basic"]
    assert len(frame) == len(expected) > 0
    assert list(frame.columns) == ["plan", "age", "ts"]
    assert frame["ts"].tolist() == expected["ts"].tolist()


def test_sqlite_connection_cannot_write_or_attach(data_dir: Path, live_frame: pd.DataFrame) -> None:
    """The query runs read-only and cannot ATTACH another file (which could create it)."""
    db = make_db(data_dir / "d.db", live_frame)
    before = db.read_bytes()
    message = error(src(f"sqlite:///{db}", "DELETE FROM events RETURNING *"))
    assert "d.db" in message and "query failed" in message
    other = data_dir / "other.db"
    message = error(src(f"sqlite:///{db}", f"ATTACH '{other}' AS x"))
    assert "query failed" in message
    assert db.read_bytes() == before
    assert not other.exists()


@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        ("SELECT * FROM nowhere", "no such table"),
        ("SELECT * FROM events WHERE 0", "no rows"),
        ("SELECT 1; SELECT 2", "query failed"),
    ],
)
def test_sqlite_query_errors(
    data_dir: Path, live_frame: pd.DataFrame, query: str, fragment: str
) -> None:
    """A failing or empty query is one line naming the database."""
    db = make_db(data_dir / "d.db", live_frame)
    message = error(src(f"sqlite:///{db}", query))
    assert "d.db" in message and fragment in message


def test_sqlite_file_that_is_not_a_database(data_dir: Path) -> None:
    """A garbage file behind sqlite:/// is a DataError, not a sqlite3 exception."""
    db = write(data_dir / "d.db", b"this is not a database" * 100)
    message = error(src(f"sqlite:///{db}", "SELECT 1"))
    assert "d.db" in message and "not a database" in message


# --- failures --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "fragments"),
    [
        ("a.csv", b"", ["is empty"]),
        ("a.csv", b"\n\n", ["no header"]),
        ("a.csv", b"ts,x\n", ["header but no rows"]),
        ("a.csv", b"x,y\n1,2\n3,4,5\n", ["malformed CSV", "Expected 2 fields in line 3, saw 3"]),
        ("a.csv", b"x,y\n1,2\n3,caf\xe9\n", ["byte 13 (line 3)", "not valid UTF-8", "0xe9"]),
        ("a.csv", b"x,y\n1,2\n3,\xc3", ["ends inside a UTF-8 sequence"]),
        ("a.parquet", b"PAR1 garbage garbage", ["not a readable Parquet file"]),
        ("a.parquet", b"", ["is empty"]),
        ("a.txt", b"x\n1\n", ["unknown file type"]),
    ],
)
def test_unreadable_files(data_dir: Path, name: str, content: bytes, fragments: list[str]) -> None:
    """Each broken file gives a one-line DataError naming it and saying what is wrong."""
    path = write(data_dir / name, content)
    message = error(src(path))
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message


def test_parquet_without_rows(data_dir: Path) -> None:
    """A Parquet file with columns and no rows is refused like a header-only CSV."""
    path = data_dir / "a.parquet"
    pd.DataFrame({"x": pd.Series([], dtype="int64")}).to_parquet(path)
    assert error(src(path)) == f"{path}: has a schema but no rows"


def test_utf8_error_offset_counts_from_the_file_start(data_dir: Path) -> None:
    """The bad byte's offset and line are in file terms, even megabytes in."""
    good = b"x,y\n" + b"1,abc\n" * 400_000
    path = write(data_dir / "a.csv", good + b"2,\xff\n")
    message = error(src(path))
    assert f"byte {len(good) + 2} (line {400_002})" in message


def test_missing_file(data_dir: Path) -> None:
    """A missing file is named."""
    message = error(src(data_dir / "nope.csv"), label="reference")
    assert message == f"reference {data_dir / 'nope.csv'}: file not found"


def test_missing_columns_name_file_and_columns(data_dir: Path) -> None:
    """Asking for absent columns names the file, each missing column, and what is there."""
    write(data_dir / "a.csv", "ts,x\n2026-01-01,1\n")
    write(data_dir / "a.parquet", b"")
    pd.DataFrame({"ts": ["2026-01-01"], "x": [1]}).to_parquet(data_dir / "a.parquet")
    for name in ("a.csv", "a.parquet"):
        message = error(src(data_dir / name), columns=["x", "age", "plan"])
        assert name in message and "'age', 'plan'" in message


def test_missing_timestamp_column(data_dir: Path) -> None:
    """A timestamp column that is not there is a missing column, with the file named."""
    write(data_dir / "a.csv", "x\n1\n")
    message = error(src(data_dir / "a.csv"), timestamp="ts")
    assert "a.csv" in message and "'ts'" in message


def test_unparseable_timestamp_shows_one_value(data_dir: Path) -> None:
    """One bad value and its row are shown; the rest of the data never is."""
    rows = "".join(f"2026-01-01T00:{i:02d}:00Z,{i}\n" for i in range(50))
    write(data_dir / "a.csv", f"ts,x\n{rows}yesterday-ish,99\n{rows}")
    message = error(src(data_dir / "a.csv"), timestamp="ts")
    assert "'ts'" in message and "'yesterday-ish'" in message and "row 51" in message
    assert "2026-01-01T00:01" not in message and len(message) < 300


def test_missing_timestamps_are_an_error(data_dir: Path) -> None:
    """A row with no time cannot be placed in a window: refused, not dropped."""
    write(data_dir / "a.csv", "ts,x\n2026-01-01,1\n,2\n")
    message = error(src(data_dir / "a.csv"), timestamp="ts")
    assert "1 missing timestamp(s)" in message and "row 2" in message


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_is_refused_without_blocking(data_dir: Path) -> None:
    """A FIFO (even behind a .csv name or a glob) is refused at once, never opened for reading."""
    fifo = data_dir / "a.csv"
    os.mkfifo(fifo)
    outcome: list[str] = []

    def attempt() -> None:
        for source in (src(fifo), src(data_dir / "*.csv")):
            try:
                sources.read(source)
            except DataError as exc:
                outcome.append(str(exc))

    thread = threading.Thread(target=attempt, daemon=True)
    thread.start()
    thread.join(timeout=10)
    assert not thread.is_alive(), "reading a FIFO blocked"
    assert len(outcome) == 2 and all("not a regular file (a FIFO)" in m for m in outcome)


def test_directory_is_refused(data_dir: Path) -> None:
    """A directory named like a data file is not a regular file."""
    (data_dir / "x.csv").mkdir()
    assert "not a regular file (a directory)" in error(src(data_dir / "x.csv"))


def test_symlink_outside_allowed_root_is_refused(tmp_path: Path, data_dir: Path) -> None:
    """With ``allowed_root``, a link leaving it is refused; a link inside it is followed."""
    secret = write(tmp_path / "secret.csv", "x\n1\n")
    (data_dir / "evil.csv").symlink_to(secret)
    inside = write(data_dir / "real.csv", "x\n2\n")
    (data_dir / "alias.csv").symlink_to(inside)
    message = error(src(data_dir / "evil.csv"), allowed_root=data_dir)
    assert "evil.csv" in message and "outside the data directory" in message
    assert sources.read(src(data_dir / "alias.csv"), allowed_root=data_dir)["x"].tolist() == [2]
    assert sources.read(src(data_dir / "evil.csv"))["x"].tolist() == [1]  # no root: no check
    db = tmp_path / "x.db"
    sqlite3.connect(db).close()
    (data_dir / "x.db").symlink_to(db)
    message = error(src(f"sqlite:///{data_dir / 'x.db'}", "SELECT 1"), allowed_root=data_dir)
    assert "outside the data directory" in message


def test_file_replaced_during_reads_gives_old_or_new(data_dir: Path) -> None:
    """A file renamed over while being read yields the old or the new rows, never a mix."""
    versions = []
    for seed in (1, 2):
        rng = np.random.default_rng(seed)
        versions.append(pd.DataFrame({"x": rng.normal(size=20_000), "v": seed}))
    staged = []
    for i, frame in enumerate(versions):
        staged.append(data_dir / f".v{i}.csv")
        frame.to_csv(staged[-1], index=False)
    target = data_dir / "a.csv"
    os.link(staged[0], target)
    stop = threading.Event()

    def swap() -> None:
        i = 0
        while not stop.is_set():
            tmp = data_dir / ".swap.csv"
            tmp.unlink(missing_ok=True)
            os.link(staged[i % 2], tmp)
            os.replace(tmp, target)
            i += 1

    thread = threading.Thread(target=swap)
    thread.start()
    try:
        for _ in range(15):
            frame = sources.read(src(target))
            seed = int(frame["v"].iloc[0])
            pd.testing.assert_frame_equal(frame, versions[seed - 1])
    finally:
        stop.set()
        thread.join()


def test_file_rewritten_in_place_gives_frames_or_data_errors(data_dir: Path) -> None:
    """A file truncated and rewritten in place during reads never leaks a foreign exception."""
    target = data_dir / "a.csv"
    content = pd.DataFrame({"x": np.arange(30_000), "y": "abc"}).to_csv(index=False).encode()
    target.write_bytes(content)
    stop = threading.Event()

    def rewrite() -> None:
        while not stop.is_set():
            with target.open("wb") as fh:
                fh.write(content[: len(content) // 2])
                fh.flush()
                fh.write(content[len(content) // 2 :])

    thread = threading.Thread(target=rewrite)
    thread.start()
    try:
        for _ in range(15):
            try:
                frame = sources.read(src(target))
            except DataError as exc:
                assert "\n" not in str(exc)
            else:
                assert list(frame.columns) in (["x", "y"], [])  # a frame, whatever its rows
    finally:
        stop.set()
        thread.join()


# --- windows ---------------------------------------------------------------------------------


def test_window_is_half_open(live_frame: pd.DataFrame) -> None:
    """(start, end]: a row exactly at ``end`` is in, one exactly at ``start`` is out."""
    first = live_frame["ts"].iloc[0].to_pydatetime()
    last = live_frame["ts"].iloc[-1].to_pydatetime()
    assert last == T0 + DAY
    assert len(sources.window(live_frame, "ts", T0, T0 + DAY)) == len(live_frame)
    assert len(sources.window(live_frame, "ts", first, last)) == len(live_frame) - 1
    assert len(sources.window(live_frame, "ts", None, first)) == 1
    naive = (T0 + DAY / 2).replace(tzinfo=None)
    assert len(sources.window(live_frame, "ts", naive, T0 + DAY)) == 500


def test_window_parses_an_unparsed_column() -> None:
    """A frame read without ``timestamp=`` can still be windowed."""
    frame = pd.DataFrame({"ts": ["2026-01-01T00:00Z", "2026-01-02T00:00Z"], "x": [1, 2]})
    selected = sources.window(frame, "ts", T0, T0 + DAY)
    assert selected["x"].tolist() == [2]


def test_read_window_reads_only_the_window(data_dir: Path, live_frame: pd.DataFrame) -> None:
    """read_window = read + window, restricted to the columns asked for."""
    live_frame.to_csv(data_dir / "live.csv", index=False)
    frame = sources.read_window(
        src(data_dir / "live.csv"), "ts", T0 + DAY / 2, T0 + DAY, columns=["age"]
    )
    assert len(frame) == 500 and list(frame.columns) == ["age", "ts"]


def test_empty_window_message(data_dir: Path, live_frame: pd.DataFrame) -> None:
    """An empty window says which window, of which source, and what the source does hold."""
    live_frame.to_csv(data_dir / "live.csv", index=False)
    source = src(data_dir / "live.csv")
    start = datetime(2026, 2, 1, tzinfo=UTC)
    with pytest.raises(DataError) as info:
        sources.read_window(source, "ts", start, start + timedelta(days=1), label="live window")
    assert str(info.value) == (
        f"live window (2026-02-01T00:00Z, 2026-02-02T00:00Z] of {source.path} has no rows "
        "(the source has 1000 rows from 2026-01-01T00:01:26Z to 2026-01-02T00:00Z)"
    )


def test_require_columns() -> None:
    """The message names the place and every missing column."""
    with pytest.raises(DataError, match=r"^live window of x: missing column\(s\) 'b', 'c' "):
        sources.require_columns(pd.DataFrame({"a": [1]}), ["a", "b", "c"], "live window of x")
    sources.require_columns(pd.DataFrame({"a": [1]}), ["a"], "x")


# --- writing ---------------------------------------------------------------------------------


def test_write_parquet_atomic_round_trips(data_dir: Path, live_frame: pd.DataFrame) -> None:
    """The snapshot reads back equal, replaces an older file, and leaves no temp file."""
    path = data_dir / "data.parquet"
    path.write_bytes(b"old")
    sources.write_parquet_atomic(live_frame, path)
    back = sources.read(src(path))
    pd.testing.assert_frame_equal(back.astype(live_frame.dtypes.to_dict()), live_frame)
    assert sorted(p.name for p in data_dir.iterdir()) == ["data.parquet"]


def test_write_parquet_atomic_failure_is_data_error(data_dir: Path) -> None:
    """An unwritable frame or directory: DataError naming the path, nothing left behind."""
    bad = pd.DataFrame({"x": [object(), 1]})
    with pytest.raises(DataError, match=r"data\.parquet: cannot write Parquet"):
        sources.write_parquet_atomic(bad, data_dir / "data.parquet")
    assert list(data_dir.iterdir()) == []
    with pytest.raises(DataError, match="nowhere"):
        sources.write_parquet_atomic(pd.DataFrame({"x": [1]}), data_dir / "nowhere" / "d.parquet")
