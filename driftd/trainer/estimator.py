"""Which estimator to fit: the class check for config validation and the preprocessing pipeline.

scikit-learn is imported inside the functions, so that importing :mod:`driftd.trainer` stays cheap.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import re
from collections.abc import Sequence
from typing import Any

from driftd.config import TrainingConfig

_DOTTED = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)+", re.ASCII)


def check_estimator(dotted: str) -> str | None:
    """Return why ``dotted`` is not a scikit-learn estimator class, or None when it is.

    Only names inside scikit-learn are resolved: checking a name must not run code nobody
    asked to run, and importing ``somepackage.Thing`` would run ``somepackage``'s import-time
    code (in ``driftd validate``, and in the daemon at every config load). Other code trains
    through ``training.entrypoint`` or ``command``, which name it explicitly. A scikit-learn
    module is imported only once ``importlib.util.find_spec`` has found it, so that the check
    sees exactly what the training child will see.

    >>> check_estimator("sklearn.linear_model.LogisticRegression") is None
    True
    >>> check_estimator("sklearn.linear_model.LogisticRegresion")
    'no class LogisticRegresion in sklearn.linear_model (did you mean LogisticRegression?)'
    >>> check_estimator("LogisticRegression")
    'must be a dotted class path such as sklearn.linear_model.LogisticRegression'
    >>> check_estimator("xgboost.XGBClassifier")
    'not a scikit-learn class: estimator names only sklearn.* classes (use training.entrypoint \
for other libraries)'
    """
    module_name, _, class_name = dotted.rpartition(".")
    if not module_name or not class_name:
        return "must be a dotted class path such as sklearn.linear_model.LogisticRegression"
    if module_name.split(".")[0] != "sklearn" or not _DOTTED.fullmatch(dotted):
        return (
            "not a scikit-learn class: estimator names only sklearn.* classes "
            "(use training.entrypoint for other libraries)"
        )
    try:
        found = importlib.util.find_spec(module_name) is not None
    except ModuleNotFoundError:  # a parent is missing, or is a class rather than a package
        found = False
    if not found:
        return f"no module {module_name}"
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # a broken installation; report, do not crash validation
        return f"importing {module_name} failed: {type(exc).__name__}: {exc}"
    cls = getattr(module, class_name, None)
    if cls is None:
        public = [n for n in dir(module) if not n.startswith("_")]
        close = difflib.get_close_matches(class_name, public, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        return f"no class {class_name} in {module_name}{hint}"
    if not isinstance(cls, type) or not all(hasattr(cls, a) for a in ("fit", "get_params")):
        return f"{dotted} is not an estimator class (it needs fit and get_params)"
    return None


def estimator_class(dotted: str) -> type[Any]:
    """The class named by ``dotted``; ValueError with :func:`check_estimator`'s reason if not."""
    problem = check_estimator(dotted)
    if problem:
        raise ValueError(f"training.estimator: {problem} (got {dotted!r})")
    module_name, _, class_name = dotted.rpartition(".")
    cls: type[Any] = getattr(importlib.import_module(module_name), class_name)
    return cls


def build_estimator(
    cfg: TrainingConfig, features: Sequence[str], categorical: Sequence[str]
) -> Any:
    """A Pipeline: impute + one-hot the categorical columns, impute + scale the rest, then fit.

    Missing values are imputed (most frequent category; numeric median) so that NaN in live data
    never stops training. Categories unseen at fit time are ignored at predict time. The encoder
    is dense because several estimators (HistGradientBoosting among them) refuse sparse input.
    ``random_state`` is set to ``cfg.seed`` when the estimator has one and ``params`` does not.

    >>> from driftd.config import TrainingConfig
    >>> pipe = build_estimator(TrainingConfig(params={"C": 0.5}), ["age", "plan"], ["plan"])
    >>> [name for name, _ in pipe.steps]
    ['prep', 'model']
    >>> pipe.named_steps["model"].C, pipe.named_steps["model"].random_state
    (0.5, 0)
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    cls = estimator_class(cfg.estimator)
    model = cls(**dict(cfg.params))
    if "random_state" in model.get_params(deep=False) and "random_state" not in cfg.params:
        model.set_params(random_state=cfg.seed)
    cat = [c for c in features if c in set(categorical)]
    num = [c for c in features if c not in set(categorical)]
    parts: list[tuple[str, Any, list[str]]] = []
    if cat:
        encode = Pipeline(
            [
                ("impute", SimpleImputer(strategy="most_frequent")),
                ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
            ]
        )
        parts.append(("categorical", encode, cat))
    if num:
        scale = Pipeline(
            [("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]
        )
        parts.append(("numeric", scale, num))
    prep = ColumnTransformer(parts, remainder="drop")
    return Pipeline([("prep", prep), ("model", model)])
