"""Parsed data files kept between reads while the file on disk is unchanged.

A daemon checking many models every minute reads the same live files again and again: twice
per cycle (the live window, then the labelled rows of the same source) and again at every
cycle. Profiled in the 200-model soak (``bench/soak.py --models 200``), parsing those CSV
files was 42 % of the daemon's busy time. A parsed file is therefore kept, keyed by what
identifies its content on disk: the path, device, inode, size and modification and change
times (nanoseconds). A file replaced by rename gets a new inode, one rewritten or appended in
place a new size or times, so either is read afresh; the read itself still detects a file
changed while it is read.

Timestamps are only as fine as the file system keeps them (a kernel tick, one or two seconds on
some network and FAT file systems), so a file rewritten in place with the same size within that
grain of its last change would look unchanged. As git does with its "racily clean" index
entries, a file whose modification or change time is less than ``SETTLE_NS`` before the read
began is read but not kept: a writer still at work is parsed afresh each time, and a settled
file from its next read on.

The cache holds at most ``MAX_BYTES`` of frames (least recently used first out) and never a
single frame over a quarter of that, so a large live window costs no second copy. Callers get
a shallow copy: pandas' copy-on-write keeps their changes out of the kept frame.
"""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable

import pandas as pd

MAX_BYTES = 64 * 2**20  # the daemon's RSS budget is 400 MB for 200 models (bench/soak.py)
SETTLE_NS = 2 * 10**9  # coarser than any file system's timestamps (FAT keeps 2 s)


class FileMemo:
    """A bounded least-recently-used store of parsed files, safe across threads."""

    def __init__(self, max_bytes: int = MAX_BYTES, settle_ns: int = SETTLE_NS) -> None:
        self._max = max_bytes
        self.settle_ns = settle_ns
        self._lock = threading.Lock()
        self._frames: OrderedDict[tuple[Hashable, ...], tuple[pd.DataFrame, int]] = OrderedDict()
        self._held = 0

    def cached(
        self, path: str, variant: Hashable, read: Callable[[], pd.DataFrame]
    ) -> pd.DataFrame:
        """``read()`` of ``path``, or the frame kept from an earlier read of the same file
        content (``variant``: what else shaped the frame, such as the columns asked for)."""
        began = time.time_ns()
        try:
            info = os.stat(path)
        except OSError:
            return read()  # the read names the problem
        key: tuple[Hashable, ...] = (path, variant, info.st_dev, info.st_ino, info.st_size)
        key += (info.st_mtime_ns, info.st_ctime_ns)
        with self._lock:
            hit = self._frames.get(key)
            if hit is not None:
                self._frames.move_to_end(key)
                return hit[0].copy(deep=False)
        frame = read()
        size = int(frame.memory_usage(index=True, deep=False).sum())
        settled = began - max(info.st_mtime_ns, info.st_ctime_ns) >= self.settle_ns
        if settled and size <= self._max // 4:
            self._keep(key, frame, size)
        return frame.copy(deep=False)

    def _keep(self, key: tuple[Hashable, ...], frame: pd.DataFrame, size: int) -> None:
        with self._lock:
            # An older version of the same file (same path and variant) is never asked again.
            for stale in [k for k in self._frames if k[:2] == key[:2]]:
                self._held -= self._frames.pop(stale)[1]
            self._frames[key] = (frame, size)
            self._held += size
            while self._held > self._max and self._frames:
                self._held -= self._frames.popitem(last=False)[1][1]

    def clear(self) -> None:
        """Forget every kept frame."""
        with self._lock:
            self._frames.clear()
            self._held = 0

    def held(self) -> tuple[int, int]:
        """(frames, bytes) kept now."""
        with self._lock:
            return len(self._frames), self._held


MEMO = FileMemo()  # the process's one store: sources.read goes through it
