"""A full disk or a read-only directory during a cycle: the champion stays, nothing spews.

The full disk is ``RLIMIT_FSIZE`` on the real ``driftd check`` / ``driftd run`` process (writes
past the limit fail with EFBIG; SIGXFSZ is ignored so the process lives to handle it), either
from the start or set with ``prlimit`` on the running process once the candidate's artifact is
written, i.e. just before the registry records the version and the promotion. Read-only
directories use ``chmod``; as root, the child first drops the capabilities that bypass file
modes (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER) so the modes apply to it.

After each fault: the champion is unchanged, the failure is a failed run with a one-line error
when the registry can still be written (else a one-line message), no traceback is printed,
``driftd verify`` passes, and once the fault is lifted the next cycle promotes.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import re
import resource
import signal
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from driftd.daemon import HEARTBEAT_SECONDS
from tests import faultkit

_PR_CAPBSET_DROP = 24
_CAPS_BYPASSING_MODES = (1, 2, 3)  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER


def _child_setup(limit: int | None = None, drop_caps: bool = False) -> Callable[[], None]:
    """A ``preexec_fn``: ignore SIGXFSZ, set RLIMIT_FSIZE, drop the mode-bypassing caps."""
    libc = ctypes.CDLL(None, use_errno=True) if drop_caps else None

    def setup() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # inherited across exec: EFBIG instead
        if limit is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))
        if libc is not None:
            for cap in _CAPS_BYPASSING_MODES:
                if libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
                    os._exit(99)

    return setup


def _check(
    ws: faultkit.Workspace, setup: Callable[[], None] | None = None
) -> tuple[int, dict[str, Any] | None, str]:
    """Run `driftd check --json`; (exit code, the model's result or None, stderr)."""
    proc = subprocess.run(
        [*faultkit.driftd_argv(), "check", "--json", "--config", str(ws.config)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=faultkit.child_env(),
        preexec_fn=setup or _child_setup(),
    )
    result = json.loads(proc.stdout)[0] if proc.stdout.strip() else None
    return proc.returncode, result, proc.stderr


def _champion(ws: faultkit.Workspace) -> str | None:
    with faultkit.connect_ro(ws.registry) as c:
        row = c.execute("SELECT version_id FROM champions WHERE model = ?", ("churn",)).fetchone()
        return None if row is None else str(row[0])


def _verify(ws: faultkit.Workspace) -> None:
    proc = subprocess.run(
        [*faultkit.driftd_argv(), "verify", "--config", str(ws.config)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout


_WARNING = re.compile(r"\S+\.py:\d+: \w*Warning: ")  # a library's warning (joblib at limit 0)


def _assert_quiet(stderr: str) -> None:
    """No traceback; every line is a log event, the CLI's one-line message, or a warning."""
    assert "Traceback" not in stderr, stderr
    lines = stderr.splitlines()
    for i, line in enumerate(lines):
        if _WARNING.match(line) or (i and _WARNING.match(lines[i - 1]) and line[:1].isspace()):
            continue
        assert any(f" {lvl} " in line for lvl in ("INFO", "WARNING", "ERROR")) or (
            line.startswith("driftd: ")
        ), line


def _recovered(ws: faultkit.Workspace, champion: str | None) -> None:
    """The fault lifted, the next cycle promotes a new champion and the registry verifies."""
    _, result, err = _check(ws)
    assert result is not None and result["decision"] in ("promote", "bootstrap"), err
    assert _champion(ws) not in (None, champion)
    _assert_quiet(err)
    _verify(ws)


@pytest.fixture
def bootstrapped(tmp_path: Path) -> tuple[faultkit.Workspace, str]:
    ws = faultkit.make_workspace(tmp_path, every="1h", train_delay=0.1)
    _, result, err = _check(ws)
    assert result is not None and result["decision"] == "bootstrap", err
    champion = _champion(ws)
    assert champion is not None
    return ws, champion


@pytest.mark.slow  # three `driftd check` processes: ~20 s on two idle cores
def test_disk_full_at_promotion_keeps_the_champion(
    bootstrapped: tuple[faultkit.Workspace, str],
) -> None:
    """RLIMIT_FSIZE drops to 0 on the check once the candidate's artifact exists: the version,
    the decision and the run's end cannot be written. The check reports a failed run on one
    line and exits 1, the champion and the registry are intact, and the next check promotes."""
    ws, champion = bootstrapped
    before = set(faultkit.version_dirs(ws))
    proc = subprocess.Popen(
        [*faultkit.driftd_argv(), "check", "--json", "--config", str(ws.config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=faultkit.child_env(),
        preexec_fn=_child_setup(),  # noqa: PLW1509 - forked before any thread of ours starts
    )
    try:
        _wait_for_artifact(ws, before, proc)
        resource.prlimit(proc.pid, resource.RLIMIT_FSIZE, (0, resource.RLIM_INFINITY))
        out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1, err
    result = json.loads(out)[0]
    assert result["status"] == "failed" and result["decision"] is None
    assert "disk full, or a file-size limit reached?" in result["error"]
    assert "cycle.unrecorded" in err  # the run's end could not be written either
    _assert_quiet(err)
    assert _champion(ws) == champion
    _verify(ws)
    _recovered(ws, champion)


def _wait_for_artifact(
    ws: faultkit.Workspace, before: set[Path], proc: subprocess.Popen[str]
) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        if any((d / "model.skops").exists() for d in faultkit.version_dirs(ws) - before):
            return
        time.sleep(0.003)
    raise AssertionError("no candidate artifact appeared")


@pytest.mark.slow
def test_file_size_limit_below_the_artifact_is_a_recorded_training_failure(
    bootstrapped: tuple[faultkit.Workspace, str],
) -> None:
    """A limit the registry's writes fit under but the artifact does not: the training fails,
    recorded as a failed run with a one-line error; the champion stays."""
    ws, champion = bootstrapped
    size = len(faultkit.prebuilt_model())
    rc, result, err = _check(ws, _child_setup(limit=size * 2 // 3))
    assert rc == 1 and result is not None, err
    assert result["status"] == "failed"
    assert result["error"].startswith("training failed"), result["error"]
    _assert_quiet(err)
    with faultkit.connect_ro(ws.registry) as c:
        row = c.execute("SELECT status, error FROM runs ORDER BY id DESC LIMIT 1").fetchone()
    assert row["status"] == "failed" and "\n" not in row["error"]
    assert _champion(ws) == champion
    _verify(ws)
    _recovered(ws, champion)


@pytest.mark.slow
@pytest.mark.parametrize("limit", [0, 16 * 1024, 64 * 1024, 150 * 1024, 256 * 1024, 384 * 1024])
def test_file_size_limits_never_break_the_registry(
    bootstrapped: tuple[faultkit.Workspace, str], limit: int
) -> None:
    """Whatever write the limit hits first (the registry's WAL, the data snapshot, the
    artifact, a checkpoint): exit 1 or 2 with one-line errors, a champion that is the old one
    or a fully recorded new one, a registry that verifies, and a next check that promotes."""
    ws, champion = bootstrapped
    rc, result, err = _check(ws, _child_setup(limit=limit))
    assert rc in (0, 1, 2), err
    _assert_quiet(err)
    decided = result is not None and result["decision"] == "promote"
    assert _champion(ws) == (result["version_id"] if decided and result else champion)
    _verify(ws)
    _recovered(ws, _champion(ws))


@contextlib.contextmanager
def _read_only(*paths: Path, other_owner: bool) -> Iterator[None]:
    """``paths`` not writable for the child; owned by nobody when driftd would chmod them back."""
    saved = [(p, p.stat()) for p in paths]
    try:
        for p in paths:
            if other_owner:
                os.chown(p, 65534, 65534)
            p.chmod(0o555 if p.is_dir() else 0o444)
        yield
    finally:
        for p, st in saved:
            p.chmod(st.st_mode & 0o7777)
            if other_owner:
                os.chown(p, st.st_uid, st.st_gid)


def _drop_caps_works() -> bool:
    if os.geteuid() != 0:
        return True  # modes already apply
    probe = subprocess.run(
        ["true"], preexec_fn=_child_setup(drop_caps=True), check=False, capture_output=True
    )
    return probe.returncode == 0


@pytest.mark.slow
def test_read_only_model_directory_is_a_recorded_failure(
    bootstrapped: tuple[faultkit.Workspace, str],
) -> None:
    """The model's artifact directory is read-only: the run fails with a one-line error
    naming the directory, recorded in the registry; the champion stays."""
    if not _drop_caps_works():
        pytest.skip("running as root and cannot drop CAP_DAC_OVERRIDE")
    ws, champion = bootstrapped
    with _read_only(ws.model_dir, other_owner=False):
        rc, result, err = _check(ws, _child_setup(drop_caps=os.geteuid() == 0))
    assert rc == 1 and result is not None, err
    assert result["status"] == "failed"
    assert str(ws.model_dir) in result["error"] and "Permission denied" in result["error"]
    _assert_quiet(err)
    with faultkit.connect_ro(ws.registry) as c:
        row = c.execute("SELECT status, error FROM runs ORDER BY id DESC LIMIT 1").fetchone()
    assert row["status"] == "failed"
    assert _champion(ws) == champion
    _verify(ws)
    _recovered(ws, champion)


@pytest.mark.slow
def test_read_only_registry_directory_is_a_one_line_error(
    bootstrapped: tuple[faultkit.Workspace, str],
) -> None:
    """The registry's directory and files are read-only (owned by another user: driftd chmods
    its own back). A read-only directory alone does not stop SQLite once ``-wal`` and ``-shm``
    exist (a reader leaves them), so the files are read-only too. Nothing can be recorded: the
    check says so in one line naming the registry; the champion stays and the next check,
    with the modes restored, promotes."""
    if os.geteuid() != 0 or not _drop_caps_works():
        pytest.skip("needs root to hand the directory to another user")
    ws, champion = bootstrapped
    state = ws.registry.parent
    files = [p for p in state.iterdir() if p.name.startswith(ws.registry.name)]
    with _read_only(state, *files, other_owner=True):
        rc, result, err = _check(ws, _child_setup(drop_caps=True))
    # Refused at open (exit 2, the CLI's one line) or at the run's first write (exit 1, a
    # failed result that was never recorded: run 0), depending on what SQLite tries first.
    assert rc in (1, 2), err
    if result is None:
        assert rc == 2 and err.startswith(f"driftd: {ws.registry}:"), err
    else:
        assert result["status"] == "failed" and result["run_id"] == 0, result
        assert "readonly database" in result["error"], result["error"]
    assert err.count("\n") == 1, err
    _assert_quiet(err)
    assert _champion(ws) == champion
    _verify(ws)
    _recovered(ws, champion)


@pytest.mark.slow
def test_daemon_survives_a_full_disk_and_recovers(tmp_path: Path) -> None:
    """`driftd run` whose file-size limit drops to 0 right after a candidate's artifact is
    written, then is lifted: failed cycles are logged on one line each, the heartbeat's failure
    once (`heartbeat.failed`, then `heartbeat.recovered`), no traceback, the champion stays, and
    after the lift the daemon promotes again and stops cleanly."""
    ws = faultkit.make_workspace(tmp_path, train_delay=0.2)
    # Through a pipe: a log *file* would hit the limit too, and the daemon could not say a word.
    proc = subprocess.Popen(
        [*faultkit.driftd_argv(), "run", "--config", str(ws.config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=faultkit.child_env(),
        preexec_fn=_child_setup(),  # noqa: PLW1509 - the reader thread starts after the fork
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout or ()), daemon=True)
    reader.start()
    try:
        assert _wait(lambda: _decisions(ws) >= 1, 120), lines
        champion = _champion(ws)
        decided = _decisions(ws)
        _wait_for_artifact_daemon(ws)
        resource.prlimit(proc.pid, resource.RLIMIT_FSIZE, (0, resource.RLIM_INFINITY))
        assert _wait(lambda: sum("cycle.unrecorded" in ln for ln in lines) >= 2, 60), lines
        # The heartbeat job meets the full disk too (twice at least), and says so once.
        time.sleep(2 * HEARTBEAT_SECONDS + 1)
        assert sum("heartbeat.failed" in ln for ln in lines) == 1, lines
        assert _champion(ws) == champion and _decisions(ws) == decided
        _verify(ws)
        infinity = (resource.RLIM_INFINITY, resource.RLIM_INFINITY)
        resource.prlimit(proc.pid, resource.RLIMIT_FSIZE, infinity)
        assert _wait(lambda: _decisions(ws) > decided, 120), lines
        assert _champion(ws) != champion
        assert _wait(lambda: any("heartbeat.recovered" in ln for ln in lines), 30), lines
    finally:
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=120)
        reader.join(10)
    assert rc == 0
    assert not [ln for ln in lines if "Traceback" in ln], "".join(lines)
    _verify(ws)


def _wait_for_artifact_daemon(ws: faultkit.Workspace) -> None:
    before = set(faultkit.version_dirs(ws))
    assert _wait(
        lambda: any((d / "model.skops").exists() for d in faultkit.version_dirs(ws) - before),
        120,
        poll=0.003,
    )


def _wait(cond: Callable[[], bool], timeout: float, poll: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            return False
        time.sleep(poll)
    return True


def _decisions(ws: faultkit.Workspace) -> int:
    if not ws.registry.exists():
        return 0
    with faultkit.connect_ro(ws.registry) as c:
        try:
            return int(c.execute("SELECT count(*) FROM decisions").fetchone()[0])
        except sqlite3.OperationalError:
            return 0
