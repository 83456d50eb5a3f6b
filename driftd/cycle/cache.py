"""Reference summaries kept between cycles, so a cycle costs in proportion to the live window."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar

from driftd import detect

T = TypeVar("T")


class SummaryCache:
    """Reference summaries keyed by data fingerprint, so a cycle costs in proportion to live.

    It also holds the summaries of the champion's outputs on its reference (prediction drift),
    keyed by champion version and reference fingerprint: two entries per model.
    """

    def __init__(self, size: int = 16, other_size: int = 1024) -> None:
        self._items: OrderedDict[str, detect.ReferenceSummary] = OrderedDict()
        self._other: OrderedDict[str, Any] = OrderedDict()
        self._size = size
        # Per-window effects of the background: about 60 small dicts per model.
        self._other_size = other_size
        self._lock = threading.Lock()

    def get(
        self, key: str, build: Callable[[], detect.ReferenceSummary]
    ) -> detect.ReferenceSummary:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        summary = build()
        with self._lock:
            self._items[key] = summary
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return summary

    def other(self, key: str, build: Callable[[], T]) -> T:
        """Anything else derived from a reference and a clock (backgrounds, importances),
        kept beside the summaries under the same size bound."""
        with self._lock:
            if key in self._other:
                self._other.move_to_end(key)
                return self._other[key]  # type: ignore[no-any-return]
        value = build()
        with self._lock:
            self._other[key] = value
            while len(self._other) > self._other_size:
                self._other.popitem(last=False)
        return value
