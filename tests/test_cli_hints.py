"""``driftd status`` never shows a past "next check" bare, and ``validate --json`` on a missing
config carries the same hint the text output gives."""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from driftd import cli
from driftd.registry.store import Registry

CONFIG = (
    'registry = "r.db"\nartifacts = "a"\n[[models]]\nname = "churn"\nevery = "1h"\n'
    '[models.data]\nreference = "ref.csv"\nlive = "live.csv"\ntimestamp = "ts"\n'
    'target = "label"\nwindow = "1d"\n'
)


def test_status_marks_a_past_next_check_as_due(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A heartbeat's next run an hour ahead is shown as it is; one already past (the check
    that just ran, or a delayed one) is shown "(due, or just run)", as the HTML report does."""
    config = tmp_path / "config.toml"
    config.write_text(CONFIG, encoding="utf-8")
    with Registry.open(tmp_path / "r.db") as registry:
        registry.ensure_model("churn")
        future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
        registry.beat(os.getpid(), "idle", next_runs={"churn": future})
        assert cli.main(["status", "--config", str(config)]) == 0
        line = re.search(r"^  next check .*$", capsys.readouterr().out, re.M)
        assert line and line.group(0).split() == ["next", "check", future]
        past = (datetime.now(UTC) - timedelta(seconds=2)).isoformat()
        registry.beat(os.getpid(), "idle", next_runs={"churn": past})
        assert cli.main(["status", "--config", str(config)]) == 0
        line = re.search(r"^  next check .*$", capsys.readouterr().out, re.M)
        assert line and line.group(0) == f"  next check     {past} (due, or just run)"


def test_validate_json_on_a_missing_config_says_how_to_point_at_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``driftd validate --json`` (exit 78) on a missing file names it in ``problems`` with
    the ``--config`` / ``$DRIFTD_CONFIG`` hint, word for word the line the text output prints
    on stderr."""
    monkeypatch.delenv("DRIFTD_CONFIG", raising=False)
    missing = tmp_path / "absent.toml"
    assert cli.main(["validate", "--config", str(missing), "--json"]) == 78
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] is False
    [problem] = data["problems"]
    assert problem.startswith(f"{missing}: file not found; point at a config with --config FILE")
    assert "$DRIFTD_CONFIG" in problem
    assert cli.main(["validate", "--config", str(missing)]) == 78
    assert capsys.readouterr().err == f"driftd: {problem}\n"
