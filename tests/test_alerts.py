"""Notifications (issue 12, item 3): real HTTP servers on 127.0.0.1, real commands, a real
registry file. Delivery is bounded (timeout, retries with backoff), recorded, never raises, and
keeps secrets out of the log and the registry.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from driftd import alerts
from driftd import config as config_mod
from driftd.alerts import deliver, events, record
from driftd.alerts.targets import Target, resolve_headers
from driftd.cycle.result import CycleResult
from driftd.domain import Action, Decision, DriftReport, Verdict
from driftd.registry.store import Registry

FAST = 0.05  # backoff base for tests: the schedule, not its scale, is under test


class _Server:
    """A real HTTP server in a thread; ``plan`` gives the status of each successive POST (the
    last one repeats), ``delay`` seconds are slept before answering."""

    def __init__(self, plan: list[int], delay: float = 0.0) -> None:
        self.plan, self.delay = plan, delay
        self.requests: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "body": body}
                )
                time.sleep(outer.delay)
                code = outer.plan[min(len(outer.requests), len(outer.plan)) - 1]
                try:
                    self.send_response(code)
                    self.end_headers()
                    self.wfile.write(b"{}")
                except OSError:
                    pass  # the client gave up (timeout): nothing to answer

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server_factory() -> Iterator[Any]:
    made: list[_Server] = []

    def make(plan: list[int], delay: float = 0.0) -> _Server:
        made.append(_Server(plan, delay))
        return made[-1]

    yield make
    for s in made:
        s.close()


def _event(name: str = "drift", **fields: Any) -> events.Event:
    at = datetime(2026, 1, 11, tzinfo=UTC)
    return events.make(
        name, at, model="churn", run_id=7, reason="3 of 8 features drifted", **fields
    )


def _sink(tmp_path: Path, code: int = 0, sleep: float = 0.0) -> tuple[str, ...]:
    """A real command: appends its stdin to ``out.jsonl``, then sleeps and exits with ``code``."""
    script = tmp_path / "sink.py"
    script.write_text(
        "import sys, time\n"
        f"open({str(tmp_path / 'out.jsonl')!r}, 'ab').write(sys.stdin.buffer.read() + b'\\n')\n"
        f"time.sleep({sleep})\n"
        f"if {code}: sys.stderr.write('boom\\nsecond line: the last one is kept\\n')\n"
        f"sys.exit({code})\n",
        encoding="utf-8",
    )
    return (sys.executable, str(script))


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


# --- HTTP -------------------------------------------------------------------------------------


def test_post_delivers_the_event_json_with_resolved_headers(
    server_factory: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 200 on the first attempt: the body is the event's JSON (every documented field), with
    Content-Type application/json, and ``env:``/``credential:`` headers carry the secrets read
    at send time."""
    server = server_factory([200])
    (tmp_path / "creds").mkdir()
    (tmp_path / "creds" / "hook_token").write_text("cred-secret\n", encoding="utf-8")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path / "creds"))
    monkeypatch.setenv("HOOK_KEY", "env-secret")
    headers = {"Authorization": "credential:hook_token", "X-Key": "env:HOOK_KEY", "X-Plain": "p"}
    target = Target(url=server.url, headers=headers)
    outcome = deliver.deliver(target, _event(), backoff=FAST)
    assert outcome == deliver.Outcome(True, 1)
    (request,) = server.requests
    payload = json.loads(request["body"])
    assert set(payload) == {
        "event", "model", "version", "run_id", "decision_id", "action", "reason", "at",
        "recorded_at", "host", "driftd_version",
    }  # fmt: skip
    assert payload["event"] == "drift" and payload["at"] == "2026-01-11T00:00:00.000Z"
    assert request["headers"]["Content-Type"] == "application/json"
    assert request["headers"]["Authorization"] == "cred-secret"
    assert request["headers"]["X-Key"] == "env-secret"
    assert request["headers"]["X-Plain"] == "p"


def test_slack_format_posts_a_text_body(server_factory: Any) -> None:
    """``format = "slack"`` sends ``{"text": ...}`` naming the event, model and reason."""
    server = server_factory([200])
    assert deliver.deliver(Target(url=server.url, format="slack"), _event()).ok
    body = json.loads(server.requests[0]["body"])
    assert list(body) == ["text"]
    assert body["text"].startswith("driftd: drift on churn (run 7): 3 of 8 features drifted")


def test_500_then_200_is_retried_with_backoff(server_factory: Any) -> None:
    """A 500 is retried; the second attempt's 200 makes the delivery ok after 2 attempts, and
    the wait between them is the backoff (0.05 s here)."""
    server = server_factory([500, 200])
    start = time.monotonic()
    outcome = deliver.deliver(Target(url=server.url, retries=3), _event(), backoff=FAST)
    assert outcome == deliver.Outcome(True, 2)
    assert len(server.requests) == 2 and time.monotonic() - start >= FAST


def test_retries_are_bounded_and_4xx_is_not_retried(server_factory: Any) -> None:
    """A server that always answers 500 gets 1 + retries attempts, then the error; a 404 (the
    request itself is wrong) gets one."""
    failing = server_factory([500])
    outcome = deliver.deliver(Target(url=failing.url, retries=2), _event(), backoff=FAST)
    assert outcome == deliver.Outcome(False, 3, "HTTP 500")
    assert len(failing.requests) == 3
    missing = server_factory([404])
    outcome = deliver.deliver(Target(url=missing.url, retries=2), _event(), backoff=FAST)
    assert outcome == deliver.Outcome(False, 1, "HTTP 404")


def test_a_server_slower_than_the_timeout_fails_in_bounded_time(server_factory: Any) -> None:
    """A server that sleeps 3 s past a 0.3 s timeout: each attempt gives up at the timeout, so
    two attempts end well before the server would have answered once."""
    server = server_factory([200], delay=3.0)
    start = time.monotonic()
    target = Target(url=server.url, timeout=timedelta(seconds=0.3), retries=1)
    outcome = deliver.deliver(target, _event(), backoff=FAST)
    assert outcome == deliver.Outcome(False, 2, "timed out after 0.3s")
    assert time.monotonic() - start < 2.0


def test_nothing_listening_is_a_failed_delivery_not_an_exception() -> None:
    """A refused connection is an outcome (retried, then reported), never raised."""
    target = Target(url="http://127.0.0.1:9/hook", retries=1)
    outcome = deliver.deliver(target, _event(), backoff=FAST)
    assert not outcome.ok and outcome.attempts == 2
    assert outcome.error is not None and outcome.error.startswith("cannot connect")


# --- commands ---------------------------------------------------------------------------------


def test_command_gets_the_event_on_stdin(tmp_path: Path) -> None:
    """The command's stdin is the event JSON, byte for byte what a webhook would get."""
    ev = _event("promote", version="churn-v3", decision_id=4, action="promote")
    assert deliver.deliver(Target(command=_sink(tmp_path)), ev).ok
    (got,) = _lines(tmp_path / "out.jsonl")
    assert got == ev.to_dict()


def test_failing_and_hanging_commands_are_bounded(tmp_path: Path) -> None:
    """Exit 3: retried, and the error keeps the status and stderr's last line. A command that
    sleeps past its timeout is killed; a program that does not exist is not retried."""
    failing = Target(command=_sink(tmp_path, code=3), retries=1)
    outcome = deliver.deliver(failing, _event(), backoff=FAST)
    assert outcome == deliver.Outcome(False, 2, "exit status 3: second line: the last one is kept")
    hanging = Target(command=_sink(tmp_path, sleep=5), timeout=timedelta(seconds=0.5), retries=0)
    start = time.monotonic()
    assert deliver.deliver(hanging, _event()) == deliver.Outcome(False, 1, "timed out after 0.5s")
    assert time.monotonic() - start < 3.0
    absent = Target(command=(str(tmp_path / "nope"),), retries=3)
    outcome = deliver.deliver(absent, _event(), backoff=FAST)
    assert outcome.attempts == 1 and "cannot run" in (outcome.error or "")


# --- events -----------------------------------------------------------------------------------


def test_events_of_a_cycle_result() -> None:
    """A drifted cycle that retrained and promoted announces drift, retrain, promote (with the
    decision id); one held for approval (mode manual) announces awaiting_approval with the
    candidate's version; an inconclusive one announces reject with its exact action; a failed one,
    failure with the error, after drift when its check had drifted (a failed retrain); a dry
    run's would_promote announces no decision."""
    at = datetime(2026, 1, 11, tzinfo=UTC)
    promoted = CycleResult(
        5, "churn", "drift", None, "drift in 3 of 3", "churn-v4", None,
        Decision(Action.PROMOTE, "better"),
    )  # fmt: skip
    got = events.from_result(promoted, at, decision_id=9)
    assert [(e.event, e.version, e.decision_id) for e in got] == [
        ("drift", None, None),
        ("retrain", "churn-v4", None),
        ("promote", "churn-v4", 9),
    ]
    inconclusive = replace(promoted, status="ok", decision=Decision(Action.INCONCLUSIVE, "n/a"))
    assert [(e.event, e.action) for e in events.from_result(inconclusive, at, 1)][-1] == (
        "reject",
        "inconclusive",
    )
    manual = replace(promoted, decision=Decision(Action.AWAITING_APPROVAL, "mode manual"))
    assert [(e.event, e.version, e.action) for e in events.from_result(manual, at, 2)][-1] == (
        "awaiting_approval",
        "churn-v4",
        "awaiting_approval",
    )
    dry = replace(promoted, status="ok", decision=Decision(Action.WOULD_PROMOTE, "dry"))
    assert [e.event for e in events.from_result(dry, at, 1)] == ["retrain"]
    failed = CycleResult(6, "churn", "failed", error="live window: no rows")
    (failure,) = events.from_result(failed, at, None)
    assert (failure.event, failure.reason, failure.at) == (
        "failure",
        "live window: no rows",
        "2026-01-11T00:00:00.000Z",
    )
    drifted = DriftReport(
        Verdict.DRIFT, (), 0.375, 0.25, "bh", 0.05, 1000, 1000, reason="3 of 8 features drifted"
    )
    retrain_failed = CycleResult(7, "churn", "failed", drifted, error="training failed: boom")
    got = events.from_result(retrain_failed, at, None)
    assert [(e.event, e.reason) for e in got] == [
        ("drift", "3 of 8 features drifted"),
        ("failure", "training failed: boom"),
    ]


def test_missing_secrets_are_named_not_guessed(tmp_path: Path) -> None:
    """A credential name with a slash, or an unset CREDENTIALS_DIRECTORY, is refused by name."""
    with pytest.raises(alerts.targets.SecretError, match="plain file name"):
        resolve_headers({"A": "credential:../etc/passwd"}, {"CREDENTIALS_DIRECTORY": "/"})
    with pytest.raises(alerts.targets.SecretError, match=r"\$CREDENTIALS_DIRECTORY is not set"):
        resolve_headers({"A": "credential:tok"}, {})


# --- dispatch, recording, secrets -------------------------------------------------------------

CONFIG = """
registry = "state/registry.db"
{notify}
[[models]]
name = "churn"
every = "1d"
[models.data]
reference = "data/reference.csv"
live = "data/live/*.csv"
timestamp = "ts"
target = "label"
window = "1d"
{model_notify}
"""


def _config(tmp_path: Path, notify: str, model_notify: str = "") -> config_mod.Config:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG.format(notify=notify, model_notify=model_notify), encoding="utf-8")
    return config_mod.load(path)


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[Registry]:
    (tmp_path / "state").mkdir()
    reg = Registry.open(tmp_path / "state" / "registry.db")
    yield reg
    reg.close()


def test_secrets_stay_out_of_the_log_and_the_registry(
    server_factory: Any,
    tmp_path: Path,
    registry: Registry,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A failing webhook whose URL carries a token in its query and user info, and a header from
    the environment: the log line and the ``deliveries`` row name the target as
    ``url:http://127.0.0.1:PORT/hook`` with the error, and neither secret appears anywhere in
    the registry's files."""
    server = server_factory([500])
    monkeypatch.setenv("HOOK_TOKEN", "header-secret-77")
    url = (
        server.url.replace("http://", "http://user:userinfo-secret-55@") + "?token=query-secret-66"
    )
    cfg = _config(
        tmp_path,
        f'[[notify]]\nurl = "{url}"\nretries = 1\nheaders = {{ X-Token = "env:HOOK_TOKEN" }}\n',
    )
    dispatcher = alerts.Dispatcher(lambda: cfg, registry, background=False, backoff=FAST)
    with caplog.at_level(logging.INFO, logger="driftd"):
        dispatcher.emit(_event())
    dispatcher.close()
    assert server.requests[0]["headers"]["X-Token"] == "header-secret-77"
    assert server.requests[0]["headers"]["Authorization"].startswith("Basic ")
    assert "?token=query-secret-66" in server.requests[0]["path"]
    (row,) = record.recent(registry.path)
    assert row["target"] == "url:" + server.url
    assert (row["event"], row["model"], row["run_id"], row["ok"], row["attempts"]) == (
        "drift", "churn", 7, 0, 2,
    )  # fmt: skip
    assert row["error"] == "HTTP 500"
    assert "notification.failed" in caplog.text and "attempts=2" in caplog.text
    registry.close()
    stored = b"".join(p.read_bytes() for p in registry.path.parent.iterdir())
    for secret in ("header-secret-77", "query-secret-66", "userinfo-secret-55"):
        assert secret not in caplog.text
        assert secret.encode() not in stored
    with sqlite3.connect(registry.path) as c:
        dumped = "\n".join(c.iterdump())
    assert "secret" not in dumped


def test_background_dispatch_never_blocks_and_drains_with_a_deadline(
    server_factory: Any, tmp_path: Path, registry: Registry, caplog: pytest.LogCaptureFixture
) -> None:
    """In the daemon's mode an emit returns at once even when the webhook hangs; a full queue
    drops the event (recorded as such); close() gives up at its deadline, not the webhook's."""
    slow = server_factory([200], delay=3.0)
    cfg = _config(tmp_path, f'[[notify]]\nurl = "{slow.url}"\ntimeout = "2s"\nretries = 0\n')
    dispatcher = alerts.Dispatcher(
        lambda: cfg, registry, background=True, backoff=FAST, queue_size=1
    )
    start = time.monotonic()
    with caplog.at_level(logging.INFO, logger="driftd"):
        for _ in range(4):
            dispatcher.emit(_event())
        emitted = time.monotonic() - start
        dispatcher.close(0.5)
    assert emitted < 0.2
    assert time.monotonic() - start < 1.5
    rows = record.recent(registry.path)
    assert rows and all(r["error"] == "dropped: notification queue full" for r in rows)
    assert "notification.abandoned" in caplog.text


def test_events_filter_and_per_model_targets(tmp_path: Path, registry: Registry) -> None:
    """A top-level target that wants only promote ignores drift; a ``[[models.notify]]`` target
    hears its own model's events, and every delivery is one ``deliveries`` row."""
    top = _sink(tmp_path)
    cfg = _config(
        tmp_path,
        f'[[notify]]\nevents = ["promote"]\ncommand = {json.dumps(list(top))}\n',
        f"[[models.notify]]\ncommand = {json.dumps(list(top))}\n",
    )
    dispatcher = alerts.Dispatcher(lambda: cfg, registry, background=False)
    dispatcher.emit(_event("drift"))
    dispatcher.emit(_event("promote", version="churn-v2"))
    dispatcher.emit(events.make("daemon_stop", reason="stopped by a signal"))
    dispatcher.close()
    got = [(e["event"], e["model"]) for e in _lines(tmp_path / "out.jsonl")]
    assert got == [("drift", "churn"), ("promote", "churn"), ("promote", "churn")]
    rows = record.recent(registry.path)
    assert len(rows) == 3 and all(r["ok"] == 1 and r["attempts"] == 1 for r in rows)
    assert record.last_failure(registry.path) is None


# --- the OnFailure= unit ----------------------------------------------------------------------

UNIT = (
    Path(__file__).resolve().parent.parent
    / "driftd"
    / "systemd_files"
    / "driftd-notify-failure@.service"
)


def _exec_start() -> list[str]:
    (line,) = [
        x for x in UNIT.read_text(encoding="utf-8").splitlines() if x.startswith("ExecStart=")
    ]
    return shlex.split(line.removeprefix("ExecStart="))


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_on_failure_unit_verifies(tmp_path: Path) -> None:
    """``systemd-analyze verify`` is silent on an instance of the template (its ExecStart
    pointed at this venv's driftd, which exists here)."""
    driftd = Path(sys.executable).parent / "driftd"
    text = UNIT.read_text(encoding="utf-8").replace("/usr/local/bin/driftd", str(driftd))
    copy = tmp_path / "driftd-notify-failure@driftd.service.service"
    copy.write_text(text, encoding="utf-8")
    done = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(copy)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "LC_ALL": "C"},
        check=False,
    )
    output = (done.stdout + done.stderr).strip()
    assert done.returncode == 0 and output == "", output


def test_on_failure_unit_command_sends_a_failure_event(tmp_path: Path, registry: Registry) -> None:
    """The unit's ExecStart, run as systemd would for ``driftd.service`` that exited 1 (``%i``
    and ``$MONITOR_*`` substituted, the config path pointed here), delivers a ``failure``
    event naming the unit and its result to the configured command, records the delivery, and
    exits 0."""
    cfg = _config(tmp_path, f"[[notify]]\ncommand = {json.dumps(list(_sink(tmp_path)))}\n")
    monitor = {"MONITOR_SERVICE_RESULT": "exit-code", "MONITOR_EXIT_CODE": "exited"}
    monitor["MONITOR_EXIT_STATUS"] = "1"
    argv = []
    for word in _exec_start():
        text = word.replace("%i", "driftd.service").replace("/etc/driftd/config.toml", cfg.source)
        for name, value in monitor.items():
            text = text.replace("${" + name + "}", value)
        argv.append(text)
    argv[0] = str(Path(sys.executable).parent / "driftd")
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("command:") and "ok (1 attempt(s))" in done.stdout
    (got,) = _lines(tmp_path / "out.jsonl")
    assert (got["event"], got["model"]) == ("failure", None)
    assert got["reason"] == "systemd: driftd.service failed (result exit-code, exited 1)"
    (row,) = record.recent(registry.path)
    assert (row["event"], row["ok"]) == ("failure", 1)
