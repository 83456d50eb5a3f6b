"""Many models on one daemon: its own writers queue instead of timing out, the heartbeat never
waits behind cycles, a run refused by a busy lock is retried, the pool is bounded, and the first
round after start-up is spread by the schedule's jitter."""

from __future__ import annotations

import logging
import subprocess
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from test_registry_concurrency import HOLD_WRITE_LOCK, expect, procs, spawn  # noqa: F401

from driftd import config as config_mod
from driftd import daemon
from driftd.cycle import run as run_mod
from driftd.errors import RegistryBusyError
from driftd.registry import queries
from driftd.registry.connection import WriterBusyError
from driftd.registry.store import Registry

REPO = Path(__file__).resolve().parents[1]


def test_threads_of_one_process_never_time_out_on_each_other(tmp_path: Path) -> None:
    """Sixteen threads writing runs at once through one Registry, with a busy timeout far
    shorter than the queue they form, all succeed: they wait in the process, not in SQLite."""
    path = tmp_path / "registry.db"
    errors: list[BaseException] = []
    with Registry.open(path, busy_timeout=0.001) as reg:
        reg.ensure_model("m")
        now = datetime(2025, 1, 1, tzinfo=UTC)

        def writer() -> None:
            try:
                for _ in range(25):
                    run = reg.start_run("m", "schedule", now)
                    reg.finish_run(run, "ok", verdict="ok")
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=writer) for _ in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert errors == []
    assert queries.last_run(path, "m")["id"] == 16 * 25


def test_a_writer_with_a_deadline_gives_up_without_writing(tmp_path: Path) -> None:
    """The heartbeat's write asks with a deadline: while a sibling thread holds a transaction
    longer than that, beat() raises WriterBusyError at the deadline and writes nothing; once the
    sibling commits it succeeds."""
    path = tmp_path / "registry.db"
    with Registry.open(path) as reg:
        held, release = threading.Event(), threading.Event()

        def sibling() -> None:
            with reg._pool.transaction():
                held.set()
                release.wait(10)

        t = threading.Thread(target=sibling)
        t.start()
        assert held.wait(10)
        start = time.monotonic()
        with pytest.raises(WriterBusyError, match="another thread of this process"):
            reg.beat(1, "idle", wait=0.2)
        waited = time.monotonic() - start
        release.set()
        t.join()
        assert 0.15 < waited < 2.0
        assert queries.status(path)["daemon"] is None  # no heartbeat row was written
        reg.beat(1, "idle", wait=0.2)
    assert queries.status(path)["daemon"]["state"] == "idle"


def test_a_run_refused_by_another_process_is_retried(
    tmp_path: Path,
    procs: list[subprocess.Popen[str]],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Another process holds the write lock longer than the busy timeout: starting the run
    fails once with RegistryBusyError, is retried after a pause (logged), and succeeds."""
    path = tmp_path / "registry.db"
    Registry.open(path).close()
    monkeypatch.setattr(run_mod, "RETRY_DELAYS", (0.5, 0.5, 0.5, 0.5))
    holder = spawn(procs, HOLD_WRITE_LOCK, path, 1.0)
    expect(holder, "locked")
    with Registry.open(path, busy_timeout=0.2) as reg, caplog.at_level(logging.WARNING):
        run_id = run_mod._retry(
            lambda: reg.start_run("held", "schedule", datetime.now(UTC)), "held"
        )
    assert holder.wait(timeout=10) == 0
    assert run_id >= 1
    assert "registry.retry" in caplog.text
    assert queries.last_run(path, "held")["status"] == "running"


def test_retries_end_with_the_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """A lock that stays busy through every retry surfaces as RegistryBusyError (the cycle then
    logs cycle.unrecorded): bounded, never an endless wait."""
    monkeypatch.setattr(run_mod, "RETRY_DELAYS", (0.01, 0.01))
    calls = []

    def busy() -> int:
        calls.append(1)
        raise RegistryBusyError("registry.db: database is locked")

    with pytest.raises(RegistryBusyError):
        run_mod._retry(busy, "m")
    assert len(calls) == 3


def _config(tmp_path: Path, models: int, extra: str = "", jitter: str | None = None) -> Path:
    text = (REPO / "config.toml").read_text(encoding="utf-8")
    head, _, model = text.partition("[[models]]")
    out = [head.replace('"state/', f'"{tmp_path}/state/'), extra]
    for i in range(models):
        block = "[[models]]" + model.replace('name = "churn"', f'name = "m{i:03d}"', 1)
        if jitter:
            block = block.replace("\n[models.data]", f'\njitter = "{jitter}"\n[models.data]', 1)
        out.append(block)
    path = tmp_path / "config.toml"
    path.write_text("\n".join(out), encoding="utf-8")
    return path


def test_the_pool_is_bounded_not_two_per_model(tmp_path: Path) -> None:
    """200 models get a pool sized for the machine (4 to 32 threads), not 400 threads; an
    explicit [daemon] workers wins."""
    cfg = config_mod.load(_config(tmp_path, 200))
    assert len(cfg.models) == 200
    assert 4 <= cfg.daemon.workers <= 32
    explicit = config_mod.load(_config(tmp_path, 3, extra="[daemon]\nworkers = 3\n"))
    assert explicit.daemon.workers == 3


def test_the_first_round_is_spread_by_the_jitter(tmp_path: Path) -> None:
    """Models that never ran (or are overdue) first fire within [now, now + jitter], spread
    out, not all at the same instant."""
    cfg = config_mod.load(_config(tmp_path, 40, jitter="60s"))
    now = datetime(2025, 1, 1, tzinfo=UTC)
    with Registry.open(tmp_path / "registry.db") as reg:
        firsts = [daemon.first_run(reg, m, now) for m in cfg.models]
    assert all(now <= t <= now + timedelta(seconds=60) for t in firsts)
    assert len(set(firsts)) > 30
    spread = (max(firsts) - min(firsts)).total_seconds()
    assert spread > 30
