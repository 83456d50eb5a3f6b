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
        summary: detect.ReferenceSummary = self._fetch(self._items, self._size, key, build)
        return summary

    def other(self, key: str, build: Callable[[], T]) -> T:
        """Anything else derived from a reference and a clock (per-window background effects,
        performance estimators, reference spans), in a bound of its own."""
        value: T = self._fetch(self._other, self._other_size, key, build)
        return value

    def _fetch(
        self, items: OrderedDict[str, Any], size: int, key: str, build: Callable[[], Any]
    ) -> Any:
        """Least-recently-used lookup; ``build`` runs outside the lock (a concurrent miss may
        build twice, harmlessly: values are only read)."""
        with self._lock:
            if key in items:
                items.move_to_end(key)
                return items[key]
        value = build()
        with self._lock:
            items[key] = value
            while len(items) > size:
                items.popitem(last=False)
        return value
