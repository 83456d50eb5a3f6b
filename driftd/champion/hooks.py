"""``models.promotion.on_champion_change``: a command run after the champion moves.

It runs after the decision's transaction has committed and the pointer file was written, so
the command sees the new champion wherever it looks (``driftd champion``, ``CHAMPION.json``,
:func:`driftd.load_champion`). Its environment adds ``DRIFTD_MODEL``, ``DRIFTD_VERSION``,
``DRIFTD_ARTIFACT`` and ``DRIFTD_POINTER``. It runs without a shell, in its own session, with
``promotion.hook_timeout``: on expiry its whole process group is killed. Whatever happens, the
decision stands; the outcome is a ``champion_hooks`` row, and ``driftd status`` shows the last
one when it failed.
"""

from __future__ import annotations

import logging
import os
import shlex
import signal
import subprocess
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from driftd.log import event
from driftd.registry.codec import utc_iso

OUTPUT_KEPT = 2000  # characters of the command's output tail kept in the registry
DEFAULT_TIMEOUT = timedelta(seconds=30)


@dataclass(frozen=True, slots=True)
class HookOutcome:
    """One run of the hook: ``status`` is ok, failed (non-zero exit), timeout or error (could
    not start)."""

    model: str
    version: str
    decision_id: int
    argv: tuple[str, ...]
    started_at: str
    finished_at: str
    status: str
    exit_code: int | None
    output: str

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def row(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "version_id": self.version,
            "decision_id": self.decision_id,
            "argv": shlex.join(self.argv),
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "status": self.status,
            "exit_code": self.exit_code,
            "output": self.output,
        }

    def summary(self) -> str:
        """One line: what failed and the last line of its output."""
        why = {
            "failed": f"exited {self.exit_code}",
            "timeout": "timed out",
            "error": "could not start",
        }.get(self.status, "ok")
        last = self.output.strip().splitlines()[-1:] or [""]
        tail = f": {last[0][:200]}" if last[0] else ""
        return f"on_champion_change {why} for {self.version}{tail}"


def configured(promotion: Any) -> tuple[tuple[str, ...], timedelta] | None:
    """The hook's argv and timeout from a ``PromotionConfig``, or None when none is set."""
    argv = getattr(promotion, "on_champion_change", None)
    if not argv:
        return None
    timeout = getattr(promotion, "hook_timeout", None) or DEFAULT_TIMEOUT
    return tuple(str(a) for a in argv), timeout


def run(
    argv: tuple[str, ...], timeout: timedelta, pointer: dict[str, Any], pointer_file: str
) -> HookOutcome:
    """Run the hook once for the champion ``pointer`` describes; never raises."""
    env = {
        **os.environ,
        "DRIFTD_MODEL": str(pointer["model"]),
        "DRIFTD_VERSION": str(pointer["version"]),
        "DRIFTD_ARTIFACT": str(pointer["artifact"]),
        "DRIFTD_POINTER": pointer_file,
    }
    started = utc_iso()
    code: int | None = None
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # its own group: a timeout kills what it started too
        )
    except OSError as exc:
        status, output = "error", f"{argv[0]}: {exc.strerror or exc}"
    else:
        try:
            raw, _ = proc.communicate(timeout=timeout.total_seconds())
            code = proc.returncode
            status = "ok" if code == 0 else "failed"
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            raw, _ = proc.communicate()
            status = "timeout"
        output = raw.decode("utf-8", "replace")[-OUTPUT_KEPT:]
    outcome = HookOutcome(
        model=str(pointer["model"]),
        version=str(pointer["version"]),
        decision_id=int(pointer["decision_id"]),
        argv=argv,
        started_at=started,
        finished_at=utc_iso(),
        status=status,
        exit_code=code,
        output=output,
    )
    event(
        "champion.hook",
        logging.INFO if outcome.ok else logging.WARNING,
        model=outcome.model,
        version=outcome.version,
        status=status,
        exit_code=code,
    )
    return outcome


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 5
    while proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
