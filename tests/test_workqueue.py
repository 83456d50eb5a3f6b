"""The daemon's work queue: first due first run, one waiting and one running run per model at
most, nothing dropped because workers are busy, and a clean close."""

from __future__ import annotations

import threading
import time

from driftd.workqueue import WorkQueue


def _wait(predicate: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_many_models_on_few_workers_all_run_once_in_order() -> None:
    """200 models queued at once on 2 workers: every one runs exactly once, first queued
    first started, and at most 2 at a time; nothing is dropped for having waited."""
    started: list[str] = []
    lock = threading.Lock()
    running = [0, 0]  # now, peak

    def run(name: str) -> None:
        with lock:
            started.append(name)
            running[0] += 1
            running[1] = max(running[1], running[0])
        time.sleep(0.002)
        with lock:
            running[0] -= 1

    q = WorkQueue(run, workers=2)
    names = [f"m{i:03d}" for i in range(200)]
    assert [q.submit(n) for n in names] == ["queued"] * 200
    q.start()
    _wait(lambda: len(started) == 200)
    assert sorted(started) == names
    # FIFO: with two workers a name starts at most one place away from its queue position.
    assert all(abs(started.index(n) - i) <= 1 for i, n in enumerate(names))
    assert running[1] == 2
    assert q.close() == 0


def test_a_model_never_overlaps_and_never_piles_up() -> None:
    """Firings while a model's run waits or runs merge into that run: its runs never overlap,
    and a slow run is not followed by a burst of catch-up runs."""
    gate = threading.Event()
    runs: list[str] = []
    active: set[str] = set()
    overlap = []

    def run(name: str) -> None:
        if name in active:
            overlap.append(name)
        active.add(name)
        runs.append(name)
        gate.wait(10)
        active.discard(name)

    q = WorkQueue(run, workers=3)
    q.start()
    assert q.submit("churn") == "queued"
    _wait(lambda: runs == ["churn"])
    assert [q.submit("churn") for _ in range(3)] == ["merged"] * 3
    assert q.depth() == 0 and q.merged == 3
    gate.set()
    _wait(lambda: not active)
    assert q.submit("churn") == "queued"  # once it ended, the next firing runs
    _wait(lambda: len(runs) == 2)
    assert runs == ["churn", "churn"] and overlap == []
    q.close()


def test_a_run_that_raises_does_not_kill_its_worker() -> None:
    """The runner's own errors are the caller's to report; here a raising run must not stop
    the worker from taking the next one (the daemon's runner catches them itself)."""
    done: list[str] = []

    def run(name: str) -> None:
        if name == "bad":
            raise RuntimeError("boom")
        done.append(name)

    q = WorkQueue(run, workers=1)
    q.start()
    q.submit("bad")
    q.submit("good")
    _wait(lambda: done == ["good"])
    q.close()


def test_close_drops_what_waits_and_lets_the_running_finish() -> None:
    """close(): waiting runs are dropped (counted), the run in progress finishes, the workers
    end, and later submissions are refused."""
    gate = threading.Event()
    finished: list[str] = []

    def run(name: str) -> None:
        gate.wait(10)
        finished.append(name)

    q = WorkQueue(run, workers=1)
    q.start()
    q.submit("a")
    _wait(lambda: q.depth() == 0)
    q.submit("b")
    q.submit("c")
    assert q.close() == 2
    assert q.submit("d") == "stopping"
    gate.set()
    for t in q.threads:
        t.join(10)
        assert not t.is_alive()
    assert finished == ["a"]
