"""Columns that record when or which row, not what: timestamps and identifiers.

``driftd drift REF LIVE`` without a config has no ``data.timestamp`` or ``data.features`` to go
by, and such a column always "drifts" (live times are later; new ids are new) or can never be
judged, which buries the real findings. :func:`guess` names them and says why; the command leaves
them out, says so on stderr, and ``--keep COLUMN`` puts one back.

>>> import pandas as pd
>>> frame = pd.DataFrame({
...     "event_time": pd.date_range("2025-01-01", periods=60, freq="h"),
...     "created": [f"2025-01-{d:02d}T10:00:00" for d in range(1, 31)] * 2,
...     "order_id": range(1000, 1060),
...     "seq": range(60),
...     "amount": [float(i % 7) for i in range(60)],
...     "plan": ["basic", "pro"] * 30,
... })
>>> for column, why in guess(frame).items():
...     print(column, "-", why)
event_time - holds timestamps
created - holds timestamps
order_id - named like an identifier
seq - one distinct, increasing integer per row
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

# `user_id`, `orderId`, `uuid`, `row_key`; not `idle` or `paid`.
_ID_NAME = re.compile(r"(^|_|-)(id|uuid|guid|key|pk)$|[a-z]Id$|^(id|uuid|guid|index|row)$", re.I)
_TIME_NAME = re.compile(
    r"(^|_)(ts|time|timestamp|datetime|date|created|updated|modified)$|[a-z]_at$", re.I
)
_SAMPLE = 20  # values parsed to recognise text timestamps: enough to rule out chance matches
MIN_ROWS = 50  # below this, a column of distinct integers is common by chance


def guess(frame: pd.DataFrame) -> dict[str, str]:
    """Columns of ``frame`` that look like timestamps or identifiers, each with the reason."""
    import pandas as pd

    out: dict[str, str] = {}
    for column in frame.columns:
        name, values = str(column), frame[column]
        if pd.api.types.is_datetime64_any_dtype(values) or _text_times(values):
            out[name] = "holds timestamps"
        elif _ID_NAME.search(name) and not (
            pd.api.types.is_float_dtype(values) or pd.api.types.is_bool_dtype(values)
        ):
            out[name] = "named like an identifier"
        elif _TIME_NAME.search(name) and pd.api.types.is_integer_dtype(values):
            out[name] = "named like a timestamp"
        elif _counter(values):
            out[name] = "one distinct, increasing integer per row"
    return out


def _text_times(values: pd.Series) -> bool:
    """Text whose sampled values all parse as ISO-8601 dates or times."""
    import pandas as pd

    if not (pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values)):
        return False
    sample = values.dropna().head(_SAMPLE)
    if sample.empty or not all(isinstance(v, str) and v[:1].isdigit() for v in sample):
        return False
    try:
        pd.to_datetime(sample, format="ISO8601")
    except (ValueError, TypeError, OverflowError):
        return False
    # "2024" alone parses too; a date has at least a year, a month and a day.
    return all(len(v) >= 8 for v in sample)


def _counter(values: pd.Series) -> bool:
    import pandas as pd

    if not pd.api.types.is_integer_dtype(values) or len(values) < MIN_ROWS:
        return False
    return bool(values.is_unique and values.is_monotonic_increasing)
