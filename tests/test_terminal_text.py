"""Untrusted text on the operator's terminal (issue 11, item 3).

Reasons, model and feature names, file paths and column names come from users and data. Every
text output escapes control characters (ANSI escapes, newlines, bidi overrides) and caps any
one value; ``--json`` stays exact. The tests drive the real executable on real registries.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cli_support import driftd

from driftd.domain import Action, Decision
from driftd.registry.store import Registry
from driftd.text import MAX_TEXT, escape, terminal_safe

NASTY = "ok\x1b[2J\x1b[31m\n  last error     FORGED LINE\r\u202edesrever\x07\x9b"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "DRIFTD_CONFIG"}
    return subprocess.run(
        [*driftd(), *args], capture_output=True, text=True, timeout=300, check=False, env=env
    )


def _assert_clean(text: str) -> None:
    """No C0/C1 control (but the newlines between lines), no DEL, no bidi override."""
    bad = [c for c in text if c != "\n" and (ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F)]
    assert not bad, f"control characters reach the terminal: {bad!r}"
    assert "\u202e" not in text and "\u2028" not in text


# --- the escaping itself -----------------------------------------------------------------------


def test_escape_shows_every_control_character_and_keeps_printable_text() -> None:
    """C0, C1, DEL, separators and bidi controls become visible escapes; letters stay."""
    assert escape(NASTY) == (
        "ok\\x1b[2J\\x1b[31m\\n  last error     FORGED LINE\\r\\u202edesrever\\x07\\x9b"
    )
    assert escape("café 中文 naïve ok") == "café 中文 naïve ok"
    assert escape("a\u2028b\x7fc\x00") == "a\\u2028b\\x7fc\\x00"


def test_escape_caps_a_value_and_counts_what_it_left_out() -> None:
    """A 100 KB value prints its first MAX_TEXT characters and how many more there are."""
    shown = escape("x" * 100_000)
    assert shown == "x" * MAX_TEXT + f"... ({100_000 - MAX_TEXT} more characters not shown)"


def test_terminal_safe_reaches_keys_and_nested_values() -> None:
    """Feature names are dict keys and list items in results: all are escaped."""
    assert terminal_safe({"f\x1b": [{"reason": "a\nb"}, 1.5, None]}) == {
        "f\\x1b": [{"reason": "a\\nb"}, 1.5, None]
    }


# --- through the CLI ---------------------------------------------------------------------------


def test_drift_escapes_column_names_in_text_and_keeps_them_in_json(tmp_path: Path) -> None:
    """A CSV header holding ANSI escapes and a newline prints as one escaped table row."""
    name = "age\x1b[2J\nfake"
    rng = np.random.default_rng(0)
    path = tmp_path / "data.csv"
    pd.DataFrame({name: rng.normal(size=200), "y": rng.normal(size=200)}).to_csv(path, index=False)
    text = _run("drift", str(path), str(path))
    assert text.returncode == 0, text.stderr
    _assert_clean(text.stdout)
    rows = [line for line in text.stdout.splitlines() if line.startswith("age")]
    assert rows and rows[0].startswith("age\\x1b[2J\\nfake")
    exact = json.loads(_run("drift", str(path), str(path), "--json").stdout)
    assert {f["feature"] for f in exact["features"]} == {name, "y"}


def test_error_lines_escape_the_paths_they_name(tmp_path: Path) -> None:
    """A missing file whose name holds an escape and a newline: one line, escaped."""
    missing = tmp_path / "ref\x1b[2J\nx.csv"
    proc = _run("drift", str(missing), str(missing))
    assert proc.returncode == 2
    assert len(proc.stderr.splitlines()) == 1
    _assert_clean(proc.stderr)
    assert "ref\\x1b[2J\\nx.csv" in proc.stderr


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real registry with two versions of ``churn``, from ``driftd demo --fast``."""
    root = tmp_path_factory.mktemp("demo")
    proc = _run("demo", "--dir", str(root), "--fast")
    assert proc.returncode == 0, proc.stderr
    return root


def test_status_and_history_escape_a_hostile_reason_and_json_keeps_it(
    demo: Path, tmp_path: Path
) -> None:
    """A decision reason written by an older driftd or the Python API (the CLI now refuses
    it) cannot clear the screen or forge a status line, and is capped; --json has it whole."""
    config = demo / "config.toml"
    reason = NASTY + "x" * 100_000
    registry = Registry.open(demo / "state" / "registry.db", create=False)
    try:
        registry.decide(
            "churn", "churn-v1", Decision(Action.MANUAL_PROMOTE, reason), run_id=None, actor="t"
        )
    finally:
        registry.close()
    status = _run("status", "--config", str(config))
    assert status.returncode == 0, status.stderr
    _assert_clean(status.stdout)
    assert "FORGED LINE" in status.stdout
    assert not any(
        line.lstrip().startswith("last error     FORGED") for line in status.stdout.splitlines()
    )
    assert len(status.stdout) < 5_000  # the 100 KB reason is capped, not printed whole
    assert "more characters not shown" in status.stdout
    history = _run("history", "--config", str(config))
    _assert_clean(history.stdout)
    assert max(len(line) for line in history.stdout.splitlines()) < MAX_TEXT + 300
    exact = json.loads(_run("status", "--json", "--config", str(config)).stdout)
    assert exact["models"][0]["last_decision"]["reason"] == reason


@pytest.mark.parametrize(
    ("reason", "words"),
    [
        ("x" * 1001, "--reason: at most 1000 characters (got 1001)"),
        ("fine\x1b[2J", "--reason: must be one line of printable text (got \\x1b at character 5)"),
        ("two\nlines", "--reason: must be one line of printable text (got \\n at character 4)"),
    ],
)
def test_promote_refuses_an_absurd_or_unprintable_reason(
    demo: Path, reason: str, words: str
) -> None:
    """The decision log keeps a printable sentence: longer or control-laden reasons are refused
    before anything is written (exit 2, one line)."""
    config = demo / "config.toml"
    before = json.loads(_run("history", "--json", "--config", str(config)).stdout)
    proc = _run("promote", "churn", "churn-v1", "--reason", reason, "--config", str(config))
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"driftd: {words}") and proc.stderr.count("\n") == 1
    assert json.loads(_run("history", "--json", "--config", str(config)).stdout) == before


def test_a_cycle_error_naming_a_hostile_path_is_escaped_everywhere(tmp_path: Path) -> None:
    """The data directory's name (from the config) holds an ANSI escape and a bidi override;
    the cycle fails on a missing live file there. The log line, the check result and the status
    line all show the name escaped; status --json has it exact."""
    data = tmp_path / "d\x1b[2J\u202e"
    data.mkdir()
    rng = np.random.default_rng(0)
    pd.DataFrame(
        {
            "ts": pd.date_range("2026-01-01", periods=50, freq="h", tz="UTC"),
            "x": rng.normal(size=50),
            "label": rng.integers(0, 2, 50),
        }
    ).to_csv(data / "ref.csv", index=False)
    config = tmp_path / "config.toml"
    config.write_text(
        'registry = "registry.db"\n[[models]]\nname = "m"\nevery = "1d"\n[models.data]\n'
        f"reference = {json.dumps(str(data / 'ref.csv'))}\n"
        f"live = {json.dumps(str(data / 'missing.csv'))}\n"
        'timestamp = "ts"\ntarget = "label"\nwindow = "1d"\n'
    )
    check = _run("check", "--now", "2026-01-03T00:00:00Z", "--config", str(config))
    assert check.returncode == 1
    _assert_clean(check.stdout)
    _assert_clean(check.stderr)
    assert "d\\x1b[2J\\u202e/missing.csv" in check.stdout
    assert "cycle.failed" in check.stderr and "x1b[2J" in check.stderr  # the log line
    status = _run("status", "--config", str(config))
    _assert_clean(status.stdout)
    assert "d\\x1b[2J\\u202e/missing.csv" in status.stdout
    exact = json.loads(_run("status", "--json", "--config", str(config)).stdout)
    assert "d\x1b[2J\u202e/missing.csv" in exact["models"][0]["last_error"]["error"]
