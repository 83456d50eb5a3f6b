"""Every promotion decision path through the real ``driftd`` executable on a real registry.

The registry (see ``tests/cli_support.py``) holds one model per path, each with a pre-drift
champion and a candidate evaluated on 300 post-drift holdout rows. It is read only through
``driftd status/history/versions/show --json`` and changed only through ``driftd
promote/rollback``; tests check the champion pointer, the decision row and its reason, exit
codes, and that ``driftd verify`` still finds nothing wrong. Tests that only look share one
read (``views``); tests that change the registry restore it first (``reg``).
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cli_support import (
    Built,
    build,
    champion,
    history,
    restore,
    run,
    run_json,
)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """The shared registry, built once per session by whichever CLI module runs first."""
    return build(tmp_path_factory.getbasetemp() / "cli-registry")


@pytest.fixture
def reg(built: Built) -> Built:
    """The registry as it was right after the build, at its original path."""
    return restore(built)


@dataclass(frozen=True, slots=True)
class Views:
    """What `driftd status/history/versions --json` print right after the build."""

    champions: dict[str, str | None]  # model -> champion version id
    decisions: dict[str, list[dict[str, Any]]]  # model -> decisions, newest first
    statuses: dict[str, str]  # version id -> derived status

    def latest(self, model: str) -> dict[str, Any]:
        return self.decisions[model][0]


@pytest.fixture(scope="module")
def views(built: Built) -> Views:
    """One read of the pristine registry for the tests that only look (three CLI calls)."""
    restore(built)
    status = run_json(built.config, "status")
    champions = {m["name"]: (m["champion"] or {}).get("id") for m in status["models"]}
    decisions: dict[str, list[dict[str, Any]]] = {}
    for row in run_json(built.config, "history", "--limit", "1000"):
        decisions.setdefault(row["model"], []).append(row)
    statuses = {v["id"]: v["status"] for v in run_json(built.config, "versions")}
    return Views(champions, decisions, statuses)


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


def _comparisons(decision: dict[str, Any]) -> dict[str, dict[str, Any]]:
    rows = decision["payload"]["evaluation"]["comparisons"]
    return {c["metric"]: c for c in rows}


def _assert_verifies(config: Path) -> None:
    proc = run(config, "verify")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip().endswith(": ok")


def test_the_build_records_one_decision_per_path_and_verifies(built: Built, views: Views) -> None:
    """One check, one decision per model, each after a bootstrap; verify exits 0."""
    assert {m: r["decision"] for m, r in built.bootstrap.items()} == dict.fromkeys(
        built.bootstrap, "bootstrap"
    )
    expected = {
        "promote": "promote",
        "margin": "reject",
        "guardrail": "reject",
        "inconclusive": "inconclusive",
        "dryrun": "would_promote",
        "manual": "awaiting_approval",
    }
    assert {m: built.drift[m]["decision"] for m in expected} == expected
    assert all(built.drift[m]["status"] == "drift" for m in expected)
    assert all(built.drift[m]["error"] is None for m in expected)
    for model, action in expected.items():
        assert [d["action"] for d in views.decisions[model]] == [action, "bootstrap"]
        assert views.latest(model)["version_id"] == f"{model}-v2"
        assert views.latest(model)["run_id"] == built.drift[model]["run_id"]
    _assert_verifies(built.config)


def test_a_better_candidate_is_promoted(built: Built, views: Views) -> None:
    """The interval's lower bound clears 0 and the log-loss guardrail holds: the pointer moves."""
    assert views.champions["promote"] == "promote-v2"
    latest = views.latest("promote")
    assert (latest["action"], latest["actor"]) == ("promote", "daemon")
    assert latest["reason"].startswith("roc_auc ") and "95% CI" in latest["reason"]
    compared = _comparisons(latest)
    primary = compared["roc_auc"]
    assert primary["role"] == "primary" and primary["passed"] is True and primary["ci_low"] > 0
    assert f"{primary['ci_low']:+.4f}" in latest["reason"]
    assert compared["neg_log_loss"]["role"] == "guardrail"
    assert compared["neg_log_loss"]["passed"] is True
    shown = run_json(built.config, "show", "promote-v2")
    assert (shown["status"], shown["parent_id"]) == ("champion", "promote-v1")
    assert latest["payload"]["artifact_sha256"] == shown["artifact_sha256"]  # in the chain
    assert [p["until"] for p in shown["champion_periods"]] == [None]
    assert views.statuses["promote-v1"] == "retired"


def test_a_candidate_short_of_min_improvement_is_rejected(views: Views) -> None:
    """Better, but the lower bound is not above min_improvement 0.5: reject, champion stays."""
    assert views.champions["margin"] == "margin-v1"
    latest = views.latest("margin")
    assert latest["action"] == "reject" and latest["reason"].startswith("roc_auc ")
    assert latest["reason"].endswith(": lower bound not above min_improvement 0.5")
    primary = _comparisons(latest)["roc_auc"]
    assert 0 < primary["ci_low"] <= 0.5 and primary["passed"] is False
    assert views.statuses["margin-v2"] == "rejected"


def test_a_broken_guardrail_rejects_a_better_candidate(views: Views) -> None:
    """The forest wins on roc_auc but is far over the 50 % model-size margin: reject."""
    assert views.champions["guardrail"] == "guardrail-v1"
    latest = views.latest("guardrail")
    assert latest["action"] == "reject"
    assert "but guardrail failed: model_size_bytes (" in latest["reason"]
    assert latest["reason"].endswith(", margin 0.5)")
    compared = _comparisons(latest)
    assert compared["roc_auc"]["passed"] is True and compared["roc_auc"]["ci_low"] > 0
    size = compared["model_size_bytes"]
    assert size["passed"] is False and size["candidate"] > 1.5 * size["champion"]
    assert views.statuses["guardrail-v2"] == "rejected"


def test_too_small_a_holdout_is_inconclusive(views: Views) -> None:
    """300 holdout rows below min_holdout 100000: inconclusive, whatever the interval says."""
    assert views.champions["inconclusive"] == "inconclusive-v1"
    latest = views.latest("inconclusive")
    assert latest["action"] == "inconclusive"
    assert latest["reason"] == (
        "holdout has 300 rows, below min_holdout 100000: keeping the champion"
    )
    assert latest["payload"]["evaluation"]["n_holdout"] == 300
    assert views.statuses["inconclusive-v2"] == "inconclusive"


def test_dry_run_records_would_promote_and_never_moves_the_pointer(
    built: Built, views: Views
) -> None:
    """mode = dry-run: the same winning candidate is logged as would_promote; v1 stays."""
    assert views.champions["dryrun"] == "dryrun-v1"
    latest = views.latest("dryrun")
    assert latest["action"] == "would_promote"
    assert latest["reason"].startswith("dry-run: would promote; roc_auc ")
    assert _comparisons(latest)["roc_auc"]["passed"] is True
    assert views.statuses["dryrun-v2"] == "would_promote"
    shown = run_json(built.config, "show", "dryrun-v2")
    assert shown["champion_periods"] == [] and shown["children"] == []


def test_manual_mode_waits_for_driftd_promote(reg: Built) -> None:
    """mode = manual: awaiting_approval; `driftd promote` then moves it as cli:USER."""
    assert champion(reg.config, "manual") == "manual-v1"
    waiting = history(reg.config, "manual")[0]
    assert (waiting["action"], waiting["version_id"]) == ("awaiting_approval", "manual-v2")
    assert waiting["reason"].startswith("awaiting approval; roc_auc")

    proc = run(reg.config, "promote", "manual", "v2", "--reason", "reviewed the interval", rc=0)
    assert proc.stdout.strip() == "manual: champion is now manual-v2"
    assert champion(reg.config, "manual") == "manual-v2"
    latest = history(reg.config, "manual")[0]
    assert (latest["action"], latest["version_id"], latest["actor"], latest["reason"]) == (
        "manual_promote",
        "manual-v2",
        _actor(),
        "reviewed the interval",
    )
    assert latest["run_id"] is None and set(latest["payload"]) == {"artifact_sha256"}
    statuses = {v["id"]: v["status"] for v in run_json(reg.config, "versions", "--model", "manual")}
    assert statuses == {"manual-v1": "retired", "manual-v2": "champion"}
    _assert_verifies(reg.config)


def test_rollback_returns_to_the_previous_champion_and_to_a_named_one(reg: Built) -> None:
    """`rollback` goes back to v1; `rollback --to v2` forward again; each one decision row."""
    proc = run(reg.config, "rollback", "promote", "--reason", "alerts in prod", rc=0)
    assert proc.stdout.strip() == "promote: rolled back; champion is now promote-v1"
    assert champion(reg.config, "promote") == "promote-v1"
    latest = history(reg.config, "promote")[0]
    assert (latest["action"], latest["version_id"], latest["actor"], latest["reason"]) == (
        "rollback",
        "promote-v1",
        _actor(),
        "alerts in prod",
    )
    periods = run_json(reg.config, "show", "promote-v1")["champion_periods"]
    assert len(periods) == 2 and periods[0]["until"] is not None and periods[1]["until"] is None

    run(reg.config, "rollback", "promote", "--to", "promote-v2", "--reason", "false alarm", rc=0)
    assert champion(reg.config, "promote") == "promote-v2"
    actions = [h["action"] for h in history(reg.config, "promote")]
    assert actions == ["rollback", "rollback", "promote", "bootstrap"]
    _assert_verifies(reg.config)


def test_promoting_an_unknown_version_exits_2_with_one_line(reg: Built) -> None:
    """No such version (or model): exit 2, one line naming it; nothing is recorded."""
    before = history(reg.config, "margin")
    proc = run(reg.config, "promote", "margin", "v9", "--reason", "typo", rc=2)
    assert proc.stderr.strip() == "driftd: margin: no version margin-v9"
    proc = run(reg.config, "promote", "nosuch", "1", "--reason", "typo", rc=2)
    assert proc.stderr.strip() == "driftd: nosuch: no version nosuch-v1"
    proc = run(reg.config, "promote", "margin", "latest", "--reason", "typo", rc=2)
    assert len(proc.stderr.strip().splitlines()) == 1 and "'latest'" in proc.stderr
    assert history(reg.config, "margin") == before
    assert champion(reg.config, "margin") == "margin-v1"
    _assert_verifies(reg.config)


def test_promoting_the_current_champion_is_refused(reg: Built) -> None:
    """Promoting (or rolling back to) the version already in place: exit 2, nothing logged."""
    before = history(reg.config, "promote")
    proc = run(reg.config, "promote", "promote", "2", "--reason", "again", rc=2)
    assert proc.stderr.strip() == "driftd: promote: promote-v2 is already the champion"
    run(reg.config, "rollback", "promote", "--to", "2", "--reason", "again", rc=2)
    assert history(reg.config, "promote") == before


def test_rollback_without_a_previous_champion_fails_clearly(reg: Built) -> None:
    """Only the bootstrap champion ever served: exit 2 with one clear line; nothing changes."""
    before = history(reg.config, "margin")
    proc = run(reg.config, "rollback", "margin", "--reason", "panic")
    assert proc.returncode == 2
    assert proc.stderr.strip() == "driftd: margin: no previous champion to roll back to"
    assert champion(reg.config, "margin") == "margin-v1"
    assert history(reg.config, "margin") == before
    _assert_verifies(reg.config)


def test_rollback_to_a_version_that_never_served_is_refused(reg: Built) -> None:
    """`rollback --to` a rejected candidate would be a promotion in disguise: exit 2."""
    before = history(reg.config, "margin")
    proc = run(reg.config, "rollback", "margin", "--to", "v2", "--reason", "try it", rc=2)
    assert proc.stderr.strip() == (
        "driftd: margin: margin-v2 was never champion; use `driftd promote` for a new one"
    )
    assert champion(reg.config, "margin") == "margin-v1"
    assert history(reg.config, "margin") == before


def test_a_version_whose_artifact_is_gone_or_altered_is_not_made_champion(reg: Built) -> None:
    """promote/rollback check the file against its recorded sha256 first: every later cycle
    would fail to load such a champion. Exit 2, one line naming version and file."""
    before = run_json(reg.config, "history")
    gone = Path(run_json(reg.config, "show", "promote-v1")["artifact_path"])
    gone.unlink()
    proc = run(reg.config, "rollback", "promote", "--reason", "alerts in prod", rc=2)
    assert proc.stderr.strip() == (
        f"driftd: promote-v1: artifact {gone} is missing; champion unchanged"
    )
    altered = Path(run_json(reg.config, "show", "margin-v2")["artifact_path"])
    data = bytearray(altered.read_bytes())
    data[100] ^= 0x01
    altered.write_bytes(bytes(data))
    proc = run(reg.config, "promote", "margin", "v2", "--reason", "override", rc=2)
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith(f"driftd: margin-v2: artifact {altered}: sha256 ")
    assert line.endswith("; champion unchanged")
    champions = {m["name"]: m["champion"]["id"] for m in run_json(reg.config, "status")["models"]}
    assert (champions["promote"], champions["margin"]) == ("promote-v2", "margin-v1")
    assert run_json(reg.config, "history") == before


def test_an_operator_decision_needs_a_reason(reg: Built) -> None:
    """A blank --reason is refused (exit 2): the decision log must say why a human acted."""
    proc = run(reg.config, "promote", "manual", "v2", "--reason", "  ", rc=2)
    assert proc.stderr.strip() == (
        "driftd: --reason: must not be blank; say why, it goes in the decision log"
    )
    assert champion(reg.config, "manual") == "manual-v1"
