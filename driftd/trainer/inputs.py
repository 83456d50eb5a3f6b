"""Checks on the training frame that the estimator way's pipeline cannot survive, made in the
parent before a child starts, so that the error names the column.

The pipeline that ``training.estimator`` builds (:func:`driftd.trainer.estimator.build_estimator`)
imputes missing values (NaN) but not infinities, and scikit-learn's own refusal ("Input X contains
infinity or a value too large for dtype('float64')") names no column: with fifty features the
operator would have to search the data. An entrypoint or a command gets the raw frame and may
handle infinities itself, so they are not refused there.

>>> import pandas as pd
>>> frame = pd.DataFrame({"a": [1.0, float("inf")], "b": [-float("inf"), float("-inf")],
...                       "c": [1, 2], "plan": ["x", "y"], "y": [0, 1]})
>>> refuse_infinities(frame, ["a", "b", "c"], "y")
Traceback (most recent call last):
...
driftd.errors.TrainingError: training frame: column(s) 'a' (1 row), 'b' (2 rows) hold infinite \
values, which the estimator's pipeline cannot impute (it fills NaN only); replace them with NaN \
or finite values in the data, leave the column(s) out of data.features, or train through \
training.entrypoint
>>> refuse_infinities(frame, ["c"], "y")
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from driftd.errors import TrainingError

if TYPE_CHECKING:
    import pandas as pd


def refuse_infinities(frame: pd.DataFrame, numeric: Sequence[str], target: str) -> None:
    """TrainingError naming each of ``numeric`` (and ``target``) that holds +-infinity, with
    the number of rows."""
    import numpy as np
    import pandas as pd

    found: list[str] = []
    for name in [*numeric, target]:
        values = frame[name]
        if not pd.api.types.is_float_dtype(values):  # integers, booleans, text: never infinite
            continue
        count = int(np.isinf(values.to_numpy(dtype=float, na_value=np.nan)).sum())
        if count:
            what = "target column " if name == target else ""
            found.append(f"{what}{name!r} ({count} row{'s' if count > 1 else ''})")
    if found:
        raise TrainingError(
            f"training frame: column(s) {', '.join(found)} hold infinite values, which the "
            "estimator's pipeline cannot impute (it fills NaN only); replace them with NaN or "
            "finite values in the data, leave the column(s) out of data.features, or train "
            "through training.entrypoint"
        )
