"""A fitted model's outputs as named numeric columns, for prediction drift.

The columns are what the model says about each row, most informative first:

- ``predict_proba``: one column per class, ``p(class=<label>)``. A binary classifier keeps only
  the positive class, ``p(class=<second label>)``: the other column is one minus it, and testing
  both would only halve the Bonferroni budget for the same evidence.
- otherwise ``decision_function``: ``decision`` (one score), or ``decision[<label>]`` per class;
- otherwise ``predict``: ``prediction`` (a regressor's value, or a class label as a number).

>>> import numpy as np, pandas as pd
>>> from sklearn.linear_model import LogisticRegression
>>> x = pd.DataFrame({"a": np.arange(20.0)})
>>> model = LogisticRegression().fit(x, np.arange(20) >= 10)
>>> list(model_outputs(model, x.head(3)).columns)
['p(class=True)']
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from driftd.errors import EvaluationError

if TYPE_CHECKING:
    import pandas as pd


def model_outputs(model: Any, x: pd.DataFrame) -> pd.DataFrame:
    """The model's outputs on ``x``, one row per row of ``x``; EvaluationError if it fails."""
    import pandas as pd

    classes = [str(c) for c in getattr(model, "classes_", [])]
    for method in ("predict_proba", "decision_function", "predict"):
        if callable(getattr(model, method, None)):
            break
    else:
        raise EvaluationError("the champion has no predict_proba, decision_function or predict")
    try:
        raw = np.asarray(getattr(model, method)(x), dtype=np.float64)
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [""])[0]
        raise EvaluationError(
            f"the champion failed in {method}: {type(exc).__name__}: {first}"
        ) from None
    values = raw.reshape(len(x), -1) if raw.ndim != 2 else raw
    if values.shape[0] != len(x):
        raise EvaluationError(
            f"the champion's {method} returned {values.shape[0]} rows for {len(x)}"
        )
    names = _names(method, values.shape[1], classes)
    if method == "predict_proba" and values.shape[1] == 2:
        values, names = values[:, 1:], names[1:]
    return pd.DataFrame(values, columns=names, index=x.index)


def _names(method: str, width: int, classes: list[str]) -> list[str]:
    labels = classes if len(classes) == width else [str(i) for i in range(width)]
    if method == "predict_proba":
        return [f"p(class={c})" for c in labels]
    if method == "decision_function":
        return ["decision"] if width == 1 else [f"decision[{c}]" for c in labels]
    return ["prediction"] if width == 1 else [f"prediction[{i}]" for i in range(width)]
