"""Reading one TOML table: each key by its entry in the key table, every problem collected.

A problem is ``key.path: why (got value)``; the value is shown as it was written in TOML.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

from driftd.config.keys import KEYS
from driftd.config.models import SourceConfig
from driftd.config.spec import REQUIRED, Key, did_you_mean
from driftd.durations import parse_duration

_MISSING = object()
_T = TypeVar("_T")


def show(value: Any) -> str:
    """A value as it was written in TOML where that differs from Python's repr."""
    return ("true" if value else "false") if isinstance(value, bool) else repr(value)


class Reader:
    """Reads one TOML table, remembering which keys were used and every problem found.

    ``prefix`` is where problems point (``models[0].drift``); ``table`` is the table's path in
    the key table (``models.drift``), whose entries :meth:`read` follows.
    """

    def __init__(
        self,
        table: Mapping[str, Any],
        prefix: str,
        base: Path,
        problems: list[str] | None = None,
        spec_table: str = "",
    ) -> None:
        self.table = table
        self.prefix = prefix
        self.base = base
        self.spec_table = spec_table
        self.problems: list[str] = problems if problems is not None else []
        self.used: set[str] = set()
        # A missing or malformed section is one problem; its own required keys are not listed.
        self.absent = False

    def key(self, name: str) -> str:
        return f"{self.prefix}.{name}" if self.prefix else name

    def problem(self, name: str, why: str, value: Any, show_value: bool = True) -> None:
        shown = f" (got {show(value)})" if show_value else ""
        self.problems.append(f"{self.key(name)}: {why}{shown}")

    def child(self, prefix: str, table: Mapping[str, Any], spec_table: str = "") -> Reader:
        return Reader(table, prefix, self.base, self.problems, spec_table)

    def take(self, name: str, default: Any = _MISSING, required: bool = False) -> Any:
        self.used.add(name)
        if name in self.table:
            return self.table[name]
        if required and not self.absent:
            self.problem(name, "is required", None, show_value=False)
        return None if default is _MISSING else default

    def section(self, name: str, required: bool = False) -> Reader:
        value = self.take(name, default={}, required=required)
        absent = name not in self.table or not isinstance(value, dict)
        if not isinstance(value, dict):
            self.problem(name, "must be a table", value)
            value = {}
        spec = f"{self.spec_table}.{name}" if self.spec_table else name
        child = self.child(self.key(name), value, spec)
        child.absent = absent
        return child

    def spec(self, name: str) -> Key:
        return KEYS[f"{self.spec_table}.{name}" if self.spec_table else name]

    def read(self, name: str) -> Any:
        """The key ``name`` of this table, read and checked as its entry in the key table says."""
        k = self.spec(name)
        required = k.default is REQUIRED
        if name not in self.table:
            self.take(name, required=required)
            return k.loaded
        kind = k.kind
        if kind == "choice":
            return self.choice(name, k.choices, k.loaded)
        if kind == "integer":
            return self.integer(name, k.loaded, _int(k.lo), _int(k.hi))
        if kind in ("number", "number_or_false"):
            if kind == "number_or_false" and self.table[name] is False:
                self.take(name)
                return None
            assert k.lo is not None and k.hi is not None
            return self.number(name, k.loaded, k.lo, k.hi, open_lo=k.open_lo, open_hi=k.open_hi)
        if kind == "strings":
            found = self.string_list(name)
            return self.subset(name, found, k.choices) if found is not None else k.loaded
        readers: dict[str | None, Callable[[str], Any]] = {
            "string": self.string,
            "boolean": lambda n: self.boolean(n, k.loaded),
            "duration": self.duration,
            "path": self.path,
            "source": self.source,
            "threshold": lambda n: self.threshold(n, k.loaded),
        }
        value = readers[kind](name)
        return k.loaded if value is None else value

    def read_all(self, skip: tuple[str, ...] = ()) -> dict[str, Any]:
        """Every key of this table the key table says how to read, except ``skip``."""
        keys = [k.name for k in KEYS.values() if k.table == self.spec_table and k.kind is not None]
        return {name: self.read(name) for name in keys if name not in skip}

    def string(self, name: str, default: Any = None, required: bool = False) -> str | None:
        value = self.take(name, default, required)
        if value is None or isinstance(value, str):
            if isinstance(value, str) and not value.strip():
                self.problem(name, "must not be empty", value)
                return None
            return value
        self.problem(name, "must be a string", value)
        return None

    def string_list(self, name: str) -> tuple[str, ...] | None:
        """A written list of non-empty strings without duplicates; None when absent or bad."""
        value = self.take(name, _MISSING)
        if name not in self.table:
            return None
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            self.problem(name, "must be a list of non-empty strings", value)
            return None
        if len(set(value)) != len(value):
            self.problem(name, "has duplicates", value)
        return tuple(value)

    def subset(self, name: str, values: tuple[str, ...], options: tuple[str, ...]) -> Any:
        for value in values if options else ():
            if value not in options:
                why = f"{value!r} is not one of {', '.join(options)}{did_you_mean(value, options)}"
                self.problem(name, why, value, show_value=False)
                return None
        return values

    def choice(self, name: str, options: tuple[_T, ...], default: _T) -> _T:
        value = self.take(name, default)
        for option in options:
            if value == option:
                return option
        self.problem(name, f"must be one of {', '.join(map(str, options))}", value)
        return default

    def boolean(self, name: str, default: bool) -> bool:
        value = self.take(name, default)
        if not isinstance(value, bool):
            self.problem(name, "must be true or false", value)
            return default
        return value

    def integer(self, name: str, default: Any, lo: int | None = None, hi: int | None = None) -> Any:
        value = self.take(name, default)
        if type(value) is not int:
            self.problem(name, "must be an integer", value)
            return default
        if lo is not None and hi is not None and not lo <= value <= hi:
            self.problem(name, f"must be in [{lo}, {hi}]", value)
            return default
        if lo is not None and value < lo:
            self.problem(
                name, "must be a positive integer" if lo == 1 else f"must be >= {lo}", value
            )
            return default
        return value

    def number(
        self,
        name: str,
        default: float,
        lo: float,
        hi: float,
        *,
        open_lo: bool = False,
        open_hi: bool = False,
    ) -> float:
        value = self.take(name, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.problem(name, "must be a number", value)
            return default
        number = float(value)  # problems show `value` as written: 2, not 2.0
        if not math.isfinite(number):
            self.problem(name, "must be finite", value)
            return default
        too_low = number <= lo if open_lo else number < lo
        too_high = number >= hi if open_hi else number > hi
        if too_low or too_high:
            left = "(" if open_lo else "["
            right = ")" if open_hi else "]"
            self.problem(name, f"must be in {left}{lo:g}, {hi:g}{right}", value)
            return default
        return number

    def threshold(self, name: str, default: float | str) -> float | str:
        value = self.take(name, default)
        if value == "auto":
            return "auto"
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.problem(name, 'must be a number or "auto"', value)
            return default
        if not math.isfinite(value) or value < 0:
            self.problem(name, "must be >= 0" if math.isfinite(value) else "must be finite", value)
            return default
        return float(value)

    def duration(
        self, name: str, default: timedelta | None = None, required: bool = False
    ) -> timedelta | None:
        value = self.take(name, _MISSING, required)
        if value is None:
            return default
        if not isinstance(value, str):
            self.problem(name, 'must be a duration string such as "15m"', value)
            return default
        try:
            return parse_duration(value)
        except ValueError as exc:
            self.problem(name, str(exc), value)
            return default

    def path(self, name: str, default: Path | None = None, required: bool = False) -> Path | None:
        value = self.string(name, required=required)
        if value is None:
            return default
        return self.local_path(name, value, resolve=True) or default

    def local_path(self, name: str, text: str, resolve: bool) -> Path | None:
        """``text`` after ``~``, against the config's directory; None and a problem if unusable."""
        try:
            if "\0" in text:  # TOML allows "\u0000"; the OS does not
                raise ValueError("embedded null byte")
            path = self.base / Path(text).expanduser()  # RuntimeError for an unknown ~user
            return path.resolve() if resolve else path
        except (RuntimeError, ValueError, OSError) as exc:
            self.problem(name, f"is not a usable path: {exc}", text)
            return None

    def source(self, name: str, required: bool = False) -> SourceConfig | None:
        value = self.take(name, None, required)
        if value is None:
            return None
        if isinstance(value, str):
            value = {"path": value}
        if not isinstance(value, dict):
            self.problem(name, 'must be a path or a table {path = "...", query = "..."}', value)
            return None
        # A source is a value, not a table of the key table: its spec path holds no keys.
        sub = self.child(self.key(name), value, f"{self.spec_table}.{name}")
        path = sub.string("path", required=True)
        query = sub.string("query", default=None)
        sub.finish()
        if path is None:
            return None
        if path.startswith("sqlite:///"):
            if query is None:
                sub.problem("query", "is required for a sqlite:/// source", None, show_value=False)
            db = path[len("sqlite:///") :]
            if not db.strip():
                sub.problem("path", "needs a database file after sqlite:///", path)
                return None
            local = sub.local_path("path", db, resolve=True)
        elif "://" in path:  # Path() would quietly turn "s3://b/x" into "s3:/b/x"
            sub.problem("path", "must be a file, a glob or sqlite:///file.db", path)
            return None
        else:
            if query is not None:
                sub.problem("query", "only applies to sqlite:/// sources", query)
            local = sub.local_path("path", path, resolve=False)  # a glob must stay a glob
        if local is None:
            return None
        prefix = "sqlite:///" if path.startswith("sqlite:///") else ""
        return SourceConfig(path=prefix + str(local), query=query)

    def finished(self, read: Callable[[Reader], _T]) -> _T:
        """``read(self)``, then :meth:`finish`: a table read in one expression."""
        out = read(self)
        self.finish()
        return out

    def finish(self) -> None:
        """Report the keys nobody read, each with the closest known key of this table."""
        known = self.used | {k.name for k in KEYS.values() if k.table == self.spec_table}
        for key in self.table:
            if key not in self.used:
                why = f"unknown key{did_you_mean(key, known)}"
                self.problem(key, why, self.table[key])


def _int(bound: float | None) -> int | None:
    return None if bound is None else int(bound)
