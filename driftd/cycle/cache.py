"""Reference summaries kept between cycles, so a cycle costs in proportion to the live window."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable

from driftd import detect


class SummaryCache:
    """Reference summaries keyed by data fingerprint, so a cycle costs in proportion to live.

    It also holds the summaries of the champion's outputs on its reference (prediction drift),
    keyed by champion version and reference fingerprint: two entries per model.
    """

    def __init__(self, size: int = 16) -> None:
        self._items: OrderedDict[str, detect.ReferenceSummary] = OrderedDict()
        self._size = size
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
