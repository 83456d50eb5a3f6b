"""The registry under real concurrency: child processes that hold locks, race, or are killed
with SIGKILL in the middle of a promotion."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_registry import REPO, seed_versions

from driftd.domain import Action, Decision
from driftd.errors import RegistryError
from driftd.registry import queries, schema
from driftd.registry.store import Registry

# Runs decide() and stops inside its transaction: a TEMP trigger (on the child's own
# connection, not in the file) calls pause(), which reports and sleeps until killed.
PROMOTE_AND_PAUSE = """
import sys, time
from pathlib import Path
from driftd.domain import Action, Decision
from driftd.registry.store import Registry

path, version, when = sys.argv[1], sys.argv[2], sys.argv[3]
reg = Registry.open(Path(path), create=False)
conn = reg._conn()

def pause():
    print("paused", flush=True)
    time.sleep(60)
    return 0

conn.create_function("pause", 0, pause)
conn.execute(f"CREATE TEMP TRIGGER hold {when} BEGIN SELECT pause(); END")
reg.decide("churn", version, Decision(Action.PROMOTE, "x"), run_id=None, actor="daemon")
print("committed", flush=True)
"""

HOLD_WRITE_LOCK = """
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("BEGIN IMMEDIATE")
c.execute("INSERT INTO models(name, created_at) VALUES ('held', '2025-01-01T00:00:00.000Z')")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
c.execute("COMMIT")
"""

PROMOTE_MANY = """
import sys
from pathlib import Path
from driftd.domain import Action, Decision
from driftd.registry.store import Registry

reg = Registry.open(Path(sys.argv[1]), create=False)
versions = sys.argv[3:]
print("ready", flush=True)
for i in range(int(sys.argv[2])):
    target = versions[(i + 1) % len(versions)]
    reg.decide("churn", target, Decision(Action.MANUAL_PROMOTE, f"round {i}"),
               run_id=None, actor="cli:test")
reg.close()
"""

ADD_VERSIONS = """
import hashlib, os, sys, time
from pathlib import Path
from driftd.domain import TrainedModel
from driftd.registry.store import Registry

path, go, n = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
reg = Registry.open(path)
reg.ensure_model("churn")
print("ready", flush=True)
while not go.exists():
    time.sleep(0.005)
for i in range(n):
    blob = path.parent / f"{os.getpid()}-{i}.bin"
    blob.write_bytes(b"x")
    trained = TrainedModel(str(blob), hashlib.sha256(b"x").hexdigest(), 1, "est", {}, "d" * 64,
                           10, None, None, 0, 0.1, None, ("a",), {})
    print(reg.add_version("churn", trained, run_id=None, parent_id=None, reference_sha256=None,
                          spec={}, metrics={}), flush=True)
reg.close()
"""


@pytest.fixture
def procs() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def spawn(procs: list[subprocess.Popen[str]], code: str, *args: object) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    procs.append(proc)
    return proc


def expect(proc: subprocess.Popen[str], word: str) -> None:
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if line != word:
        _, err = proc.communicate(timeout=10)
        pytest.fail(f"child said {line!r}, expected {word!r}; stderr:\n{err}")


@pytest.mark.parametrize(
    "when",
    [
        "AFTER INSERT ON main.decisions",
        "AFTER UPDATE ON main.champion_history",
        "AFTER INSERT ON main.champion_history",
        "AFTER UPDATE ON main.champions",
    ],
)
def test_sigkill_mid_promotion_keeps_the_old_champion(
    tmp_path: Path, procs: list[subprocess.Popen[str]], when: str
) -> None:
    """A process killed with SIGKILL at any point inside decide() leaves the old champion, no
    decision row, no history row, and a registry that verifies clean."""
    path = tmp_path / "registry.db"
    with Registry.open(path) as reg:
        v1, v2 = seed_versions(reg, tmp_path, "churn", 2)
    before_history = queries.champion_history(path, "churn")
    child = spawn(procs, PROMOTE_AND_PAUSE, path, v2, when)
    expect(child, "paused")
    os.kill(child.pid, signal.SIGKILL)
    assert child.wait(timeout=10) == -signal.SIGKILL
    champion = queries.champion(path, "churn")
    assert champion is not None and champion["version_id"] == v1
    assert [d["action"] for d in queries.history(path)] == ["bootstrap"]
    assert queries.champion_history(path, "churn") == before_history
    assert queries.verify(path) == []
    with Registry.open(path) as reg:  # and the registry accepts the promotion afterwards
        reg.decide("churn", v2, Decision(Action.PROMOTE, "again"), run_id=None, actor="daemon")
    assert queries.verify(path) == []


def test_a_writer_waits_for_the_lock_instead_of_failing(
    tmp_path: Path, procs: list[subprocess.Popen[str]]
) -> None:
    """While another process holds a write transaction, decide() (a read-then-write) waits
    for it (busy_timeout) and then succeeds, seeing that process's commit."""
    path = tmp_path / "registry.db"
    with Registry.open(path) as reg:
        _, v2 = seed_versions(reg, tmp_path, "churn", 2)
        holder = spawn(procs, HOLD_WRITE_LOCK, path, 1.0)
        expect(holder, "locked")
        start = time.monotonic()
        reg.decide("churn", v2, Decision(Action.PROMOTE, "x"), run_id=None, actor="daemon")
        waited = time.monotonic() - start
        reg.ensure_model("held")  # the holder's row is there: no conflict, no error
    assert holder.wait(timeout=10) == 0
    assert waited > 0.5
    champion = queries.champion(path, "churn")
    assert champion is not None and champion["version_id"] == v2
    assert "held" in {m["name"] for m in queries.status(path)["models"]}


def test_a_writer_gives_up_after_busy_timeout(
    tmp_path: Path, procs: list[subprocess.Popen[str]]
) -> None:
    """With a short busy_timeout, a lock held longer fails as RegistryError 'locked', cleanly."""
    path = tmp_path / "registry.db"
    Registry.open(path).close()
    holder = spawn(procs, HOLD_WRITE_LOCK, path, 1.0)
    expect(holder, "locked")
    with Registry.open(path, busy_timeout=0.2) as reg, pytest.raises(RegistryError, match="locked"):
        reg.ensure_model("churn")
    assert holder.wait(timeout=10) == 0


def test_readers_never_see_a_partial_promotion(
    tmp_path: Path, procs: list[subprocess.Popen[str]]
) -> None:
    """A thread polling queries.status while another process promotes 200 times never errors,
    and every snapshot shows the pointer, the last decision and the open history row agree."""
    path = tmp_path / "registry.db"
    with Registry.open(path) as reg:
        ids = seed_versions(reg, tmp_path, "churn", 4)
    child = spawn(procs, PROMOTE_MANY, path, 200, *ids)
    expect(child, "ready")
    errors: list[str] = []
    polls = 0

    def poll() -> None:
        nonlocal polls
        while child.poll() is None:
            try:
                model = queries.status(path)["models"][0]
                champion = model["champion"]["id"]
                if champion not in ids or model["last_decision"]["version_id"] != champion:
                    errors.append(f"pointer {champion} vs decision {model['last_decision']}")
                history = queries.champion_history(path, "churn")
                if history[0]["version_id"] not in ids or history[0]["until"] is not None:
                    errors.append(f"history head {history[0]}")
            except Exception as exc:  # any error at all fails the test
                errors.append(repr(exc))
            polls += 1

    reader = threading.Thread(target=poll)
    reader.start()
    _, err = child.communicate(timeout=120)
    reader.join()
    assert child.returncode == 0, err
    assert errors == []
    assert polls >= 20
    assert len(queries.history(path, limit=1000)) == 201
    assert queries.verify(path) == []


def test_concurrent_writers_get_distinct_version_numbers(
    tmp_path: Path, procs: list[subprocess.Popen[str]]
) -> None:
    """Three processes adding versions of one model at once get 1..30 with no gap or clash;
    three processes creating the registry at once apply the migration once."""
    path = tmp_path / "registry.db"
    go = tmp_path / "go"
    writers = [spawn(procs, ADD_VERSIONS, path, go, 10) for _ in range(3)]
    for proc in writers:
        expect(proc, "ready")
    go.touch()
    ids: list[str] = []
    for proc in writers:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        ids += out.split()
    assert sorted(ids, key=lambda v: int(v.rsplit("v", 1)[1])) == [
        f"churn-v{i}" for i in range(1, 31)
    ]
    with sqlite3.connect(path) as c:
        applied = c.execute("SELECT count(*) FROM _sqlite_migrations").fetchone()[0]
        assert applied == len(schema.MIGRATIONS)  # each once, not once per process
    c.close()
    assert queries.verify(path) == []
