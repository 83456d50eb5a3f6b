"""Values a feature column cannot be compared on: nested values, and numbers mixed with text.

Both are refused with a one-line DataError naming the source, the column and one offending row,
and the same rule applies to the reference and to the live window.

- **Nested values** (Parquet lists, structs, maps) arrive as Python lists, dicts or arrays;
  they are neither numbers nor categories.
- **Numbers mixed with text**: a number column holding one stray word (``"n/a"``, ``"abc"``) is
  read as text, so every value would become a category and every live number a new one, a
  certain and wrong "drift". When at least half of a column's values are numbers and some are
  not, it is refused unless ``data.categorical`` lists it (then it is compared as text, by
  request). A text column with a few number-like codes (``"S"``, ``"M"``, ``"42"``) is left
  alone: it is categorical either way.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from driftd.errors import DataError

_NESTED = (list, tuple, dict, set, np.ndarray)
_SAMPLE = 10_000  # rows sampled before counting numbers exactly (see _clearly_text)


def check_features(
    frame: pd.DataFrame, features: Sequence[str], categorical: Sequence[str], where: str
) -> None:
    """DataError when a column of ``features`` holds nested values or mixes numbers with text.

    >>> check_features(pd.DataFrame({"x": ["1.5", "2", "abc"]}), ["x"], [], "ref.csv")
    Traceback (most recent call last):
    ...
    driftd.errors.DataError: ref.csv: column 'x' mixes numbers and text: 'abc' (row 3) among 2 \
numbers; fix the data, or list 'x' in data.categorical to compare it as text
    >>> check_features(pd.DataFrame({"x": ["1.5", "2", "abc"]}), ["x"], ["x"], "ref.csv")
    """
    listed = set(categorical)
    for name in features:
        column = frame[name]
        dtype = column.dtype
        if pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_datetime64_any_dtype(dtype):
            continue
        if pd.api.types.is_object_dtype(dtype):
            _refuse_nested(column, name, where)
        if name not in listed:
            _refuse_mixed(column, name, where)


def _clearly_text(column: pd.Series) -> bool:
    """True when a seeded sample of rows holds under 30 % numbers: the column cannot be mostly
    numbers (with 10 000 rows the sample share has a standard deviation of 0.005), so the exact
    count is skipped. Parsing a million distinct strings (an identifier column) took 2.4 s
    here; the sample takes about 0.03 s."""
    if len(column) <= _SAMPLE:
        return False
    rows = np.random.default_rng(0).choice(len(column), _SAMPLE, replace=False)
    sample = column.iloc[np.sort(rows)].dropna().to_numpy(dtype=object)
    if sample.size == 0:
        return False
    parsed = pd.to_numeric(pd.Series(sample, dtype=object), errors="coerce").to_numpy()
    return bool(pd.notna(parsed).mean() < 0.3)


def _refuse_nested(column: pd.Series, name: str, where: str) -> None:
    # infer_dtype runs in C; only a "mixed" column needs the Python scan for the first culprit.
    if pd.api.types.infer_dtype(column, skipna=True) != "mixed":
        return
    for row, value in enumerate(column.to_numpy()):
        if isinstance(value, _NESTED):
            kind = "a dict (struct)" if isinstance(value, dict) else "a list"
            raise DataError(
                f"{where}: column {name!r} holds nested values ({kind} in row {row + 1}); "
                "driftd compares flat columns only: leave it out of data.features (or --exclude)"
            )


def _refuse_mixed(column: pd.Series, name: str, where: str) -> None:
    if _clearly_text(column):
        return
    codes, uniques = pd.factorize(column)
    values = np.asarray(uniques, dtype=object)
    if values.size == 0:
        return
    is_bool = np.fromiter((isinstance(v, bool | np.bool_) for v in values), bool, values.size)
    parsed = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").to_numpy()
    numeric = pd.notna(parsed) & ~is_bool
    if numeric.all() or not numeric.any():
        return
    counts = np.bincount(codes[codes >= 0], minlength=values.size)
    n_numeric = int(counts[numeric].sum())
    if n_numeric * 2 < int(counts.sum()):
        return  # mostly text: a categorical column with some number-like codes
    first = int(np.argmax(~numeric[np.maximum(codes, 0)] & (codes >= 0)))
    shown = str(column.iloc[first])
    shown = shown if len(shown) <= 40 else shown[:37] + "..."
    raise DataError(
        f"{where}: column {name!r} mixes numbers and text: {shown!r} (row {first + 1}) among "
        f"{n_numeric} numbers; fix the data, or list {name!r} in data.categorical to compare "
        "it as text"
    )
