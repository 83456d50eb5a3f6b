"""The champion for serving code, through the real ``driftd`` command and real files:
``CHAMPION.json`` follows every bootstrap, promotion and rollback and is repaired by the
start-up sweep after a kill -9 between the commit and its write; ``driftd champion``;
``driftd.load_champion`` and ``changed``; ``models.promotion.on_champion_change`` with its
environment, its recorded failures and timeouts shown by ``driftd status``; the Python
``Registry`` refusing what the CLI refuses.

The workspace (``tests/faultkit.py``: a fake trainer copying a prebuilt model, a policy that
retrains and promotes at every check) is built once per module by two checks through
``driftd.check``; tests read the current champion instead of assuming one.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import driftd
from driftd.champion import pointer
from tests import faultkit

MODEL = faultkit.MODEL


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> faultkit.Workspace:
    """A registry with a bootstrap and a promotion (refitted: churn-v1..v3), through the API."""
    ws = faultkit.make_workspace(
        tmp_path_factory.mktemp("champion"), train_delay=0.05, rows_per_day=150
    )
    first = driftd.check(ws.config)
    assert [str(r.decision.action) for r in first if r.decision] == ["bootstrap"]
    time.sleep(1.1)  # past the 1 s cool-down and max_age: the next check retrains and promotes
    second = driftd.check(ws.config, model=MODEL)
    assert [str(r.decision.action) for r in second if r.decision] == ["promote"]
    return ws


def cli(ws: faultkit.Workspace, *args: str, rc: int | None = 0) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [*faultkit.driftd_argv(), *args, "--config", str(ws.config)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=faultkit.child_env(),
    )
    if rc is not None:
        assert proc.returncode == rc, f"rc={proc.returncode}\n{proc.stderr}\n{proc.stdout}"
    return proc


def pointer_file(ws: faultkit.Workspace) -> dict[str, Any]:
    return json.loads((ws.model_dir / "CHAMPION.json").read_text(encoding="utf-8"))


def registry_champion(ws: faultkit.Workspace) -> tuple[str, int]:
    with faultkit.connect_ro(ws.registry) as c:
        row = c.execute(
            "SELECT version_id, decision_id FROM champions WHERE model = ?", (MODEL,)
        ).fetchone()
    return str(row[0]), int(row[1])


def versions(ws: faultkit.Workspace) -> list[str]:
    with faultkit.connect_ro(ws.registry) as c:
        rows = c.execute("SELECT id FROM versions WHERE model = ? ORDER BY number", (MODEL,))
        return [str(r[0]) for r in rows]


def test_the_pointer_follows_checks_promote_and_rollback(ws: faultkit.Workspace) -> None:
    """After the checks, a CLI rollback and a CLI promote, CHAMPION.json names the registry's
    champion with its artifact's path, sha256 and size and the deciding decision, and
    `driftd champion --json` prints exactly the file."""
    version, decision = registry_champion(ws)
    assert pointer_file(ws)["version"] == version and pointer_file(ws)["decision_id"] == decision
    cli(ws, "rollback", MODEL, "--reason", "back to the previous one")
    after_rollback, decision = registry_champion(ws)
    assert after_rollback != version
    on_disk = pointer_file(ws)
    assert (on_disk["version"], on_disk["decision_id"], on_disk["action"]) == (
        after_rollback,
        decision,
        "rollback",
    )
    artifact = Path(on_disk["artifact"])
    assert artifact.stat().st_size == on_disk["size"]
    import hashlib

    assert hashlib.sha256(artifact.read_bytes()).hexdigest() == on_disk["sha256"]
    assert json.loads(cli(ws, "champion", MODEL, "--json").stdout) == on_disk
    assert cli(ws, "champion", MODEL, "--path").stdout == f"{artifact}\n"
    text = cli(ws, "champion", MODEL).stdout
    assert text.startswith(f"{MODEL}: {after_rollback}\n") and "out of date" not in text
    cli(ws, "promote", MODEL, version, "--reason", "forward again")
    assert pointer_file(ws)["version"] == version == registry_champion(ws)[0]
    assert pointer_file(ws)["action"] == "manual_promote"
    assert not [p for p in ws.model_dir.iterdir() if p.name.startswith(".tmp-")]


def test_champion_command_errors(ws: faultkit.Workspace, tmp_path: Path) -> None:
    """A model without a champion: exit 2, one line; a name the config lacks: exit 78; a stale
    pointer file is reported as out of date by the text output."""
    other = tmp_path / "config.toml"
    text = ws.config.read_text(encoding="utf-8").replace(
        'registry = "state/registry.db"', f'registry = "{tmp_path}/empty.db"'
    )
    other.write_text(text.replace("state/artifacts", str(ws.artifacts)), encoding="utf-8")
    proc = subprocess.run(
        [*faultkit.driftd_argv(), "champion", MODEL, "--config", str(other)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (proc.returncode, proc.stderr) == (
        2,
        f"driftd: {MODEL}: no champion yet (the first check trains one)\n",
    )
    assert cli(ws, "champion", "nope", rc=78).stderr.count("\n") == 1
    saved = (ws.model_dir / "CHAMPION.json").read_bytes()
    try:
        (ws.model_dir / "CHAMPION.json").write_text("{}", encoding="utf-8")
        assert "(out of date" in cli(ws, "champion", MODEL).stdout
    finally:
        (ws.model_dir / "CHAMPION.json").write_bytes(saved)


def test_load_champion_checks_the_artifact_and_changed_sees_a_rollback(
    ws: faultkit.Workspace,
) -> None:
    """load_champion returns the registry's champion, fitted and predicting; `changed()` turns
    true after a CLI rollback; an artifact of another size or other bytes is refused."""
    champ = driftd.load_champion(MODEL, config=ws.config)
    assert champ.version == registry_champion(ws)[0]
    from driftd import synth

    frame = synth.make_reference(20, seed=4)
    assert len(champ.predict(frame[list(synth.FEATURES)])) == 20
    assert not champ.changed()
    assert not driftd.changed_since(MODEL, champ.version, config=ws.config)
    cli(ws, "rollback", MODEL, "--reason", "test changed()")
    assert champ.changed() and driftd.changed_since(MODEL, champ.version, config=ws.config)
    fresh = driftd.load_champion(MODEL, config=ws.config)
    assert fresh.version == registry_champion(ws)[0] != champ.version
    original = fresh.artifact.read_bytes()
    try:
        fresh.artifact.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
        with pytest.raises(driftd.ArtifactError, match="sha256 mismatch"):
            driftd.load_champion(MODEL, config=ws.config)
        fresh.artifact.write_bytes(original + b"x")
        with pytest.raises(driftd.ArtifactError, match=r"size \d+ bytes, registry says"):
            driftd.load_champion(MODEL, config=ws.config)
    finally:
        fresh.artifact.write_bytes(original)
    cli(ws, "promote", MODEL, champ.version, "--reason", "restore")


def test_python_registry_refuses_what_the_cli_refuses(ws: faultkit.Workspace) -> None:
    """Registry.promote/rollback raise the CLI's refusals with the CLI's messages (minus the
    option spelling): current champion, a never-champion rollback target, bad reasons; a
    successful call records the python:USER actor and rewrites the pointer."""
    reg = driftd.Registry(ws.config)
    current, _ = registry_champion(ws)
    with pytest.raises(driftd.RegistryError, match="is already the champion"):
        reg.promote(MODEL, current, reason="again")
    never = [v for v in versions(ws) if v not in _served(ws)]
    assert never, "the refit leaves an evaluated candidate that never served"
    message = f"{MODEL}: {never[0]} was never champion; use `driftd promote` for a new one"
    with pytest.raises(driftd.DriftdError) as info:
        reg.rollback(MODEL, to=never[0], reason="x")
    assert str(info.value) == message
    assert cli(ws, "rollback", MODEL, "--to", never[0], "--reason", "x", rc=2).stderr == (
        f"driftd: {message}\n"
    )
    for bad, why in (("", "must not be blank"), ("a\nb", "one line"), ("x" * 1001, "at most")):
        with pytest.raises(driftd.DriftdError, match=f"^reason: .*{why}"):
            reg.rollback(MODEL, reason=bad)
    done = reg.rollback(MODEL, reason="from python")
    assert done.change.pointer is not None and done.change.pointer["version"] == done.version
    assert pointer_file(ws)["version"] == done.version == registry_champion(ws)[0]
    assert reg.champion(MODEL) == pointer_file(ws) == done.change.pointer
    last = driftd.history(ws.config, model=MODEL, limit=1)[0]
    assert last["actor"].startswith("python") and last["reason"] == "from python"
    reg.promote(MODEL, current, reason="restore")


def test_python_registry_notifies_as_the_cli_does(ws: faultkit.Workspace, tmp_path: Path) -> None:
    """Registry.rollback and .promote deliver their ``rollback`` / ``promote`` events (with the
    decision's id) to the ``[[notify]]`` command targets, as `driftd rollback` does; a target
    that exits 1 is recorded in ``deliveries``, never raised; the CLI delivers its own event
    once, not twice (it announces itself and asks the API not to)."""
    out = tmp_path / "events.jsonl"
    sinks = []
    for code in (0, 1):
        script = tmp_path / f"sink{code}.py"
        script.write_text(
            f"import sys\nopen({str(out)!r}, 'ab').write(sys.stdin.buffer.read() + b'\\n')\n"
            f"sys.exit({code})\n",
            encoding="utf-8",
        )
        sinks.append(json.dumps([sys.executable, str(script)]))
    notify = "".join(
        f'[[notify]]\nevents = ["promote", "rollback"]\ncommand = {s}\nretries = 0\n' for s in sinks
    )
    original = ws.config.read_text(encoding="utf-8")
    current, _ = registry_champion(ws)
    reg = driftd.Registry(ws.config)
    try:
        ws.config.write_text(
            original.replace('log_level = "info"\n', f'log_level = "info"\n{notify}', 1),
            encoding="utf-8",
        )
        reg = driftd.Registry(ws.config)
        back = reg.rollback(MODEL, reason="notify from python")
        forward = reg.promote(MODEL, current, reason="notify forward")
        cli(ws, "rollback", MODEL, "--reason", "notify from the cli")
        by_cli = registry_champion(ws)[1]
    finally:
        ws.config.write_text(original, encoding="utf-8")
    events = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines() if line]
    ids = (back.decision_id, forward.decision_id, by_cli)
    want = [("rollback", ids[0]), ("promote", ids[1]), ("rollback", ids[2])]
    assert sorted((e["event"], e["decision_id"]) for e in events) == sorted(want * 2)
    with faultkit.connect_ro(ws.registry) as c:
        rows = c.execute(
            "SELECT decision_id, ok FROM deliveries WHERE decision_id IN (?, ?, ?)", ids
        ).fetchall()
    assert sorted((int(r[0]), int(r[1])) for r in rows) == sorted(
        (i, ok) for i in ids for ok in (0, 1)
    )
    driftd.Registry(ws.config).promote(MODEL, current, reason="restore")


def _served(ws: faultkit.Workspace) -> set[str]:
    with faultkit.connect_ro(ws.registry) as c:
        return {str(r[0]) for r in c.execute("SELECT version_id FROM champion_history")}


HOOK = """\
import json, os, sys, time
out, code, delay = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
env = {k: v for k, v in os.environ.items() if k.startswith("DRIFTD_")}
open(out, "a").write(json.dumps(env) + "\\n")
print("reloading the server")
time.sleep(delay)
print("connection refused" if code else "reloaded")
sys.exit(code)
"""


def _with_hook(ws: faultkit.Workspace, tmp: Path, code: int, delay: float, timeout: str) -> Path:
    script, out = tmp / "hook.py", tmp / "hook.jsonl"
    script.write_text(HOOK, encoding="utf-8")
    argv = [sys.executable, str(script), str(out), str(code), str(delay)]
    text = re.sub(r"\non_champion_change = .*\nhook_timeout = .*\n", "\n", ws.config.read_text())
    text = text.replace(
        "[models.promotion]\n",
        f"[models.promotion]\non_champion_change = {json.dumps(argv)}\n"
        f'hook_timeout = "{timeout}"\n',
    )
    ws.config.write_text(text, encoding="utf-8")
    return out


def _without_hook(ws: faultkit.Workspace) -> None:
    text = re.sub(r"\non_champion_change = .*\nhook_timeout = .*\n", "\n", ws.config.read_text())
    ws.config.write_text(text, encoding="utf-8")


def test_hook_runs_after_the_commit_and_its_failures_show_in_status(
    ws: faultkit.Workspace, tmp_path: Path
) -> None:
    """The hook sees the new champion in its environment and on disk; a failing hook (exit 3)
    and a hung one (killed after hook_timeout) leave the decision in place, warn on stderr,
    exit 0, are recorded, and `driftd status` shows the last failure."""
    try:
        out = _with_hook(ws, tmp_path, 0, 0.0, "10s")
        time.sleep(1.1)  # the cycle's own promotion runs the hook too
        [result] = driftd.check(ws.config, model=MODEL)
        assert result.decision is not None and str(result.decision.action) == "promote"
        promoted = json.loads(out.read_text().splitlines()[-1])
        assert promoted["DRIFTD_VERSION"] == registry_champion(ws)[0] == result.version_id
        cli(ws, "rollback", MODEL, "--reason", "hook ok")
        version, _ = registry_champion(ws)
        env = json.loads(out.read_text().splitlines()[-1])
        assert env == {
            "DRIFTD_MODEL": MODEL,
            "DRIFTD_VERSION": version,
            "DRIFTD_ARTIFACT": pointer_file(ws)["artifact"],
            "DRIFTD_POINTER": str(ws.model_dir / "CHAMPION.json"),
        }
        status = driftd.status(ws.config)["models"][0]
        assert status["last_hook"]["status"] == "ok"
        assert "champion hook" not in cli(ws, "status").stdout

        _with_hook(ws, tmp_path, 3, 0.0, "10s")
        proc = cli(ws, "rollback", MODEL, "--reason", "hook fails")
        failed_version, _ = registry_champion(ws)
        assert failed_version != version  # the decision stands
        assert proc.stderr == (
            f"driftd: warning: on_champion_change exited 3 for {failed_version}: "
            "connection refused; the decision stands\n"
        )
        text = cli(ws, "status").stdout
        assert f"  champion hook  exited 3 after {failed_version}" in text
        assert "                 connection refused" in text

        _with_hook(ws, tmp_path, 0, 30.0, "1s")
        started = time.monotonic()
        proc = cli(ws, "rollback", MODEL, "--reason", "hook hangs")
        assert time.monotonic() - started < 15
        assert "on_champion_change timed out" in proc.stderr
        hook = driftd.status(ws.config)["models"][0]["last_hook"]
        assert (hook["status"], hook["exit_code"]) == ("timeout", None)
        assert hook["output"].startswith("reloading the server")
        assert "champion hook  timed out after" in cli(ws, "status").stdout
        assert pointer_file(ws)["version"] == registry_champion(ws)[0]
    finally:
        _without_hook(ws)


@pytest.mark.slow  # a daemon start: seconds of imports
def test_sweep_repairs_the_pointer_after_a_kill_between_commit_and_write(
    ws: faultkit.Workspace,
) -> None:
    """kill -9 of `driftd rollback` after its decision committed and before it rewrote
    CHAMPION.json (held at the pointer's flock): the file still names the old champion; the
    next daemon's start-up sweep rewrites it, says so, and `driftd verify` is clean."""
    before = pointer_file(ws)
    with faultkit.connect_ro(ws.registry) as c:
        decisions = int(c.execute("SELECT count(*) FROM decisions").fetchone()[0])
    fd = os.open(ws.model_dir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        argv = ["rollback", MODEL, "--reason", "killed", "--config", str(ws.config)]
        proc = subprocess.Popen(
            [*faultkit.driftd_argv(), *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=faultkit.child_env(),
        )
        deadline = time.monotonic() + 60
        while _count(ws.registry) == decisions:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.01)
        time.sleep(0.2)  # it is now waiting for the flock, past its commit
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        os.close(fd)
    moved, _ = registry_champion(ws)
    assert moved != before["version"] and pointer_file(ws) == before  # stale
    daemon = faultkit.Daemon(ws, 99)
    try:
        assert daemon.wait_for(faultkit.SWEEP_LINE, 120), daemon.text()
    finally:
        assert daemon.stop() == 0
    text = daemon.text()
    assert f"startup.champion_pointer model={MODEL} repaired=true" in text.lower()
    assert "pointers_repaired=1" in text
    assert pointer_file(ws) == pointer.expected(ws.registry, MODEL)
    assert cli(ws, "verify").returncode == 0


def _count(registry: Path) -> int:
    conn = sqlite3.connect(f"file:{registry}?mode=ro", uri=True)
    try:
        return int(conn.execute("SELECT count(*) FROM decisions").fetchone()[0])
    finally:
        conn.close()


def _server_code() -> str:
    """The model server of the README's "A model server that follows the champion"."""
    from tests.test_readme_python import python_blocks

    blocks = python_blocks("A model server that follows the champion")
    assert len(blocks) == 1
    return blocks[0]


def _ask(port: int, rows: list[dict[str, Any]]) -> dict[str, Any]:
    import urllib.request

    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/predict", data=json.dumps(rows).encode(), method="POST"
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        answer: dict[str, Any] = json.loads(response.read())
    return answer


@pytest.mark.slow  # a server process importing pandas and scikit-learn, four CLI calls
def test_the_readme_model_server_follows_cli_promotions_without_restarting(
    ws: faultkit.Workspace, tmp_path: Path
) -> None:
    """The README's server, run as a child process, answers with the champion; after a
    `driftd rollback` and a `driftd promote` through the CLI the same process answers with
    each new version within a few seconds, and says so on stdout."""
    from driftd import synth

    script = tmp_path / "serve.py"
    script.write_text(_server_code(), encoding="utf-8")
    rows = synth.make_reference(5, seed=9)[list(synth.FEATURES)].to_dict("records")
    server = subprocess.Popen(
        [sys.executable, str(script), MODEL, str(ws.config), "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=faultkit.child_env(),
    )
    try:
        assert server.stdout is not None
        first = server.stdout.readline()
        match = re.fullmatch(rf"serving {MODEL} (\S+) on port (\d+)\n", first)
        assert match, first + (server.stdout.read() if server.poll() is not None else "")
        served, port = match.group(1), int(match.group(2))
        assert served == registry_champion(ws)[0]
        answer = _ask(port, rows)
        assert answer["version"] == served and len(answer["predictions"]) == 5
        cli(ws, "rollback", MODEL, "--reason", "serving test")
        back = registry_champion(ws)[0]
        assert _wait_served(port, rows, back) and server.poll() is None
        cli(ws, "promote", MODEL, served, "--reason", "serving test, forward")
        assert _wait_served(port, rows, served) and server.poll() is None
    finally:
        server.terminate()
        out, _ = server.communicate(timeout=30)
    assert f"now serving {back}\n" in out and f"now serving {served}\n" in out
    assert "Traceback" not in out


def _wait_served(port: int, rows: list[dict[str, Any]], version: str) -> bool:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if _ask(port, rows)["version"] == version:
            return True
        time.sleep(0.1)
    return False
