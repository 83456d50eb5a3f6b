"""Which feature columns are categorical: one rule for the drift check and for training.

A column is categorical when ``data.categorical`` lists it (the explicit list always wins), or
when its dtype is boolean, string, object or pandas ``category``; any other numeric dtype is
numeric. Anything else (dates, timedeltas, intervals) is refused with the column named,
because neither the tests nor the trainer's encoders know what to do with it.

The drift check (:func:`driftd.detect.infer_kinds`, on the reference) and the trainer's
preprocessing (the columns the ``estimator`` way one-hot encodes, on the training frame) both
call :func:`infer`, so a string column is compared by category shares *and* encoded, never
compared as categories and then imputed by a median (which failed training before).

>>> import pandas as pd
>>> frame = pd.DataFrame({"age": [30, 41], "plan": ["basic", "premium"], "vip": [True, False],
...                       "zip": [1000, 2000]})
>>> [(c.name, c.kind, c.why) for c in infer(frame, categorical=["zip"]).columns]
... # doctest: +NORMALIZE_WHITESPACE
[('age', 'numeric', 'int64'), ('plan', 'categorical', 'string'),
 ('vip', 'categorical', 'bool'), ('zip', 'categorical', 'listed in data.categorical')]
>>> infer(frame, categorical=["zip"]).categorical
('plan', 'vip', 'zip')
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from driftd.errors import DataError

NUMERIC = "numeric"
CATEGORICAL = "categorical"


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    kind: str  # NUMERIC or CATEGORICAL
    dtype: str
    why: str  # "listed in data.categorical", or the dtype that decided


@dataclass(frozen=True, slots=True)
class Schema:
    columns: tuple[Column, ...]

    @property
    def categorical(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.kind == CATEGORICAL)

    @property
    def numeric(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.kind == NUMERIC)

    def as_dict(self) -> dict[str, dict[str, str]]:
        return {c.name: {"kind": c.kind, "dtype": c.dtype, "why": c.why} for c in self.columns}


def infer(columns: Any, categorical: Sequence[str] = ()) -> Schema:
    """The schema of a DataFrame's columns (or a name -> dtype mapping), in column order.

    DataError names the column when its dtype is neither numeric nor categorical.
    """
    import pandas as pd

    dtypes: Mapping[Any, Any] = (
        columns.dtypes.to_dict() if isinstance(columns, pd.DataFrame) else dict(columns)
    )
    listed = set(categorical)
    out = []
    for name, raw in dtypes.items():
        try:
            dtype = pd.api.types.pandas_dtype(raw)
        except TypeError:
            raise DataError(f"column {name!r}: unknown dtype {raw!r}") from None
        reason = _categorical_dtype(dtype)
        if name in listed:
            out.append(Column(str(name), CATEGORICAL, str(dtype), "listed in data.categorical"))
        elif reason:
            out.append(Column(str(name), CATEGORICAL, str(dtype), reason))
        elif pd.api.types.is_numeric_dtype(dtype):
            out.append(Column(str(name), NUMERIC, str(dtype), str(dtype)))
        else:
            raise DataError(
                f"column {name!r} has dtype {dtype}; list it in data.categorical, convert it "
                "to numbers, or leave it out of data.features"
            )
    return Schema(tuple(out))


def _categorical_dtype(dtype: Any) -> str:
    """Why this dtype makes a column categorical ("" when it does not)."""
    import pandas as pd

    if isinstance(dtype, pd.CategoricalDtype):
        return "pandas category"
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_string_dtype(dtype) or pd.api.types.is_object_dtype(dtype):
        return "string"
    return ""
