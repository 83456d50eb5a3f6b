"""The daemon's checks, run by a fixed number of worker threads in the order they fell due.

Why not APScheduler's own thread pool: a run that waits there for a worker longer than the job's
``misfire_grace`` is dropped as "missed" when a worker finally takes it, and a model whose run
still waits is skipped at its next firing ("maximum number of running instances"). With 200
models every minute on a pool of 8, 630 of the checks fired in 10 minutes were dropped that way
and 102 models never ran at all (``bench/soak.py --models 200``). Here the scheduler's job only
puts the model in this queue, which takes an instant, so the scheduler never misses a firing
because workers are busy; every queued model runs, first queued first.

Per model there is at most one run, waiting or running, so a model's checks never overlap and
never pile up: a firing while the model's run waits or runs is merged into that run (a waiting
run checks the newest window when it starts), as APScheduler coalesces missed runs. Queueing one
more after a run in progress was tried: on an overloaded machine it ran a model's checks back
to back, seconds apart, over nearly the same window (3 in 12 minutes of the 200-model soak).

>>> import time
>>> ran = []
>>> q = WorkQueue(lambda name: ran.append(name), workers=1)
>>> q.submit("churn"), q.submit("churn"), q.submit("fraud")
('queued', 'merged', 'queued')
>>> q.start()
>>> while len(ran) < 2:
...     time.sleep(0.01)
>>> ran, q.close()
(['churn', 'fraud'], 0)
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable

THREAD_PREFIX = "driftd-worker"
_log = logging.getLogger("driftd.workqueue")


class WorkQueue:
    """A FIFO of model names and ``workers`` threads running ``run(name)`` for each."""

    def __init__(self, run: Callable[[str], None], workers: int) -> None:
        self._run = run
        self._workers = workers
        self._cond = threading.Condition()
        self._queue: deque[str] = deque()
        self._waiting: set[str] = set()  # in the queue
        self._running: set[str] = set()
        self._stopping = False
        self._threads: list[threading.Thread] = []
        self.merged = 0  # firings merged into a run already waiting (counted for status)

    def start(self) -> None:
        for i in range(self._workers):
            t = threading.Thread(target=self._work, name=f"{THREAD_PREFIX}-{i}", daemon=True)
            t.start()
            self._threads.append(t)

    def submit(self, name: str) -> str:
        """Queue a run of ``name``: ``queued``, ``merged`` (one already waits or runs) or
        ``stopping``."""
        with self._cond:
            if self._stopping:
                return "stopping"
            if name in self._waiting or name in self._running:
                self.merged += 1
                return "merged"
            self._waiting.add(name)
            self._queue.append(name)
            self._cond.notify()
            return "queued"

    def depth(self) -> int:
        """Runs waiting for a worker."""
        with self._cond:
            return len(self._queue)

    def close(self) -> int:
        """Take no more runs and drop those waiting (the next start-up's catch-up run covers
        them); the runs in progress finish, and each worker then ends (join :attr:`threads`).
        Returns how many waiting runs were dropped."""
        with self._cond:
            self._stopping = True
            dropped = len(self._queue)
            self._queue.clear()
            self._waiting.clear()
            self._cond.notify_all()
            return dropped

    @property
    def threads(self) -> list[threading.Thread]:
        return list(self._threads)

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    return
                name = self._queue.popleft()
                self._waiting.discard(name)
                self._running.add(name)
            try:
                self._run(name)
            except Exception:  # the runner reports its own failures; a worker must not die
                _log.exception("worker: the run of %s raised", name)
            finally:
                with self._cond:
                    self._running.discard(name)
