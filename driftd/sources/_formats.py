"""One reader per format. Each turns the library's exceptions into a one-line DataError."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any, BinaryIO
from urllib.parse import quote

import pandas as pd

from driftd.errors import DataError
from driftd.sources._files import utf8_problem

CSV_SUFFIXES = (".csv",)
PARQUET_SUFFIXES = (".parquet", ".pq")


def read_csv(fh: BinaryIO, columns: Sequence[str] | None, where: str) -> pd.DataFrame:
    """Parse a UTF-8 CSV with a header line; rows with too many fields are an error.

    pandas' conventions apply: empty fields and tokens such as ``NA``, ``NaN`` and ``null`` are
    missing values, ``inf`` is infinity, and a row with too few fields is padded with missing
    values (the missing-rate checks see those).
    """
    usecols: Any = None if columns is None else set(columns).__contains__
    try:
        # pandas renames a repeated name ("a", "a.1"), so the header is read once as it is.
        header = pd.read_csv(
            fh, header=None, nrows=1, dtype=str, keep_default_na=False, encoding="utf-8"
        )
        refuse_duplicates([str(n) for n in header.iloc[0]], where)
        fh.seek(0)
        return pd.read_csv(
            fh,
            usecols=usecols,
            on_bad_lines="error",
            encoding="utf-8",
            encoding_errors="strict",
            low_memory=False,  # one dtype per column, not one per internal chunk
        )
    except pd.errors.EmptyDataError:
        raise DataError(f"{where}: has no header line (the file is blank)") from None
    except pd.errors.ParserError as exc:
        raise DataError(f"{where}: malformed CSV: {_parser_message(exc)}") from None
    except UnicodeDecodeError:
        raise DataError(f"{where}: {utf8_problem(fh) or 'is not valid UTF-8'}") from None
    except (MemoryError, OSError, ValueError) as exc:
        raise DataError(f"{where}: cannot read CSV: {_one_line(exc)}") from None


def read_parquet(fh: BinaryIO, columns: Sequence[str] | None, where: str) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        schema = pq.ParquetFile(fh).schema_arrow
        refuse_duplicates(schema.names, where)
        if columns is not None:
            absent = [c for c in columns if c not in schema.names]
            if absent:
                raise DataError(f"{where}: missing column(s) {_names(absent)}")
        fh.seek(0)
        wanted = schema.names if columns is None else list(columns)
        # Parquet stores strings dictionary-encoded; reading them that way gives pandas
        # categoricals without materialising a string per row, and counting categories then
        # costs a bincount instead of hashing every string (about 3x cheaper read + count).
        strings = [
            f.name
            for f in schema
            if f.name in wanted and (pa.types.is_string(f.type) or pa.types.is_large_string(f.type))
        ]
        return pd.read_parquet(
            fh, columns=None if columns is None else list(columns), read_dictionary=strings or None
        )
    except DataError:
        raise
    except (pa.ArrowException, MemoryError, OSError, ValueError, TypeError) as exc:
        raise DataError(f"{where}: not a readable Parquet file: {_one_line(exc)}") from None


def read_sqlite(database: str, query: str, where: str) -> pd.DataFrame:
    """Run ``query`` on a read-only connection to ``database``.

    The connection cannot write (``mode=ro`` and ``query_only``) nor attach other files, so a
    query in the config can only read the one database it names.
    """
    uri = f"file:{quote(database)}?mode=ro"
    try:
        conn = sqlite3.connect(uri, uri=True, timeout=10.0)
    except sqlite3.Error as exc:
        raise DataError(f"{where}: cannot open the database: {exc}") from None
    try:
        conn.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
        conn.execute("PRAGMA query_only = ON")
        # SQLite reads the file lazily: check it is a database even for a query naming no table.
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        frame = pd.read_sql_query(query, conn)
        refuse_duplicates([str(c) for c in frame.columns], where)
        return frame
    except (sqlite3.Error, pd.errors.DatabaseError) as exc:
        cause = exc.__cause__ if isinstance(exc.__cause__, sqlite3.Error) else exc
        raise DataError(f"{where}: query failed: {_one_line(cause)}") from None
    except (MemoryError, ValueError, TypeError) as exc:
        raise DataError(f"{where}: cannot read the query result: {_one_line(exc)}") from None
    finally:
        conn.close()


def refuse_duplicates(names: Sequence[str], where: str) -> None:
    """DataError naming the first column name that occurs twice: only one copy would be read.

    Blank names (pandas calls them ``Unnamed: N``) are not compared.

    >>> refuse_duplicates(["a", "b", "a"], "x.csv")
    Traceback (most recent call last):
    ...
    driftd.errors.DataError: x.csv: duplicate column 'a' (columns 1 and 3); column names must \
be unique
    """
    seen: dict[str, int] = {}
    for i, name in enumerate(names):
        if name and name in seen:
            raise DataError(
                f"{where}: duplicate column {name!r} (columns {seen[name] + 1} and {i + 1}); "
                "column names must be unique"
            )
        seen[name] = i


def describe(exc: BaseException) -> str:
    """``Type: first line`` of an unexpected exception, for a one-line DataError."""
    return f"{type(exc).__name__}: {_one_line(exc)}"


def _parser_message(exc: Exception) -> str:
    text = _one_line(exc)
    return text.split("C error: ", 1)[-1]


def _one_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = lines[0] if lines else type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def _names(columns: Sequence[str]) -> str:
    return ", ".join(repr(c) for c in columns)
