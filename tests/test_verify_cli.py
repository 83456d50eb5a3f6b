"""``driftd verify`` against what an attacker or an accident can really do to a registry.

Each test restores the real registry built by ``tests/cli_support.py`` (one model per decision
path: a promotion, rejections, ...), damages it the way someone with write access to the files
could (the append-only triggers only stop an honest ``UPDATE``), and runs the real ``driftd
verify``: exit 1 and one line naming the table, row or file. The last test checks the cycle of
the build's drift check that met a booby-trapped pickle named like the champion's skops file:
refused, never executed.
"""

from __future__ import annotations

import hashlib
import pickle
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from cli_support import Built, build, history, restore, run, run_json, swap_artifact, trap


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """The shared registry, built once per session by whichever CLI module runs first."""
    return build(tmp_path_factory.getbasetemp() / "cli-registry")


@pytest.fixture
def reg(built: Built) -> Built:
    """The registry as it was right after the build, at its original path."""
    return restore(built)


def _problems(config: Path) -> list[str]:
    """`driftd verify` must exit 1; its problem lines (stdout, one per problem)."""
    proc = run(config, "verify", rc=1)
    lines = proc.stdout.strip().splitlines()
    assert lines, proc.stderr
    return lines


def _decision(config: Path, model: str, action: str) -> dict[str, Any]:
    return next(h for h in history(config, model) if h["action"] == action)


def _artifact(config: Path, version: str) -> Path:
    return Path(run_json(config, "show", version)["artifact_path"])


def test_an_update_behind_dropped_triggers_breaks_the_hash_chain(reg: Built) -> None:
    """UPDATE is refused; drop the trigger, rewrite a reason, put the trigger back: caught."""
    target = _decision(reg.config, "margin", "reject")
    with sqlite3.connect(reg.registry) as conn:
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute("UPDATE decisions SET reason = 'fine' WHERE id = ?", (target["id"],))
        (trigger_sql,) = conn.execute(
            "SELECT sql FROM sqlite_master WHERE name = 'decisions_no_update'"
        ).fetchone()
        conn.execute("DROP TRIGGER decisions_no_update")
        conn.execute(
            "UPDATE decisions SET reason = 'approved by the board' WHERE id = ?", (target["id"],)
        )
        conn.execute(trigger_sql)
    conn.close()
    assert _problems(reg.config) == [
        f"decisions: row {target['id']}: hash mismatch (the row was altered)"
    ]


def test_a_dropped_trigger_is_reported_by_name(reg: Built) -> None:
    """An attacker who leaves the trigger dropped is reported even before altering any row."""
    with sqlite3.connect(reg.registry) as conn:
        conn.execute("DROP TRIGGER decisions_no_delete")
    conn.close()
    assert _problems(reg.config) == [
        "decisions: append-only trigger decisions_no_delete is missing"
    ]


def test_a_reason_rewritten_in_the_file_bytes_is_caught(reg: Built) -> None:
    """No SQL at all: same-length bytes changed in registry.db pass integrity_check, not verify."""
    target = _decision(reg.config, "promote", "promote")
    data = bytearray(reg.registry.read_bytes())
    # In the row's record the action's text is followed at once by the reason's text.
    needle = (target["action"] + target["reason"]).encode()
    at = data.find(needle)
    assert at >= 0 and data.find(needle, at + 1) < 0
    at += len(target["action"])
    data[at : at + 7] = b"ROC_AUC"  # was "roc_auc"
    reg.registry.write_bytes(bytes(data))
    assert history(reg.config, "promote")[0]["reason"].startswith("ROC_AUC ")
    assert _problems(reg.config) == [
        f"decisions: row {target['id']}: hash mismatch (the row was altered)"
    ]


def test_a_flipped_byte_in_the_champion_artifact_is_reported(reg: Built) -> None:
    """One byte of promote-v2's skops file changed: its sha256 no longer matches the registry."""
    path = _artifact(reg.config, "promote-v2")
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    (line,) = _problems(reg.config)
    assert line.startswith(f"versions: promote-v2: artifact {path}: sha256 ")
    assert "does not match the recorded" in line


def test_a_deleted_champion_artifact_is_reported(reg: Built) -> None:
    """promote-v2's file removed by hand: reported as missing, naming version and path."""
    path = _artifact(reg.config, "promote-v2")
    path.unlink()
    assert _problems(reg.config) == [f"versions: promote-v2: artifact {path} is missing"]


@pytest.mark.parametrize("how", ["deleted", "renamed"])
def test_a_champion_pointer_to_a_missing_version_is_reported(reg: Built, how: str) -> None:
    """The versions row the pointer names is deleted or renamed (foreign keys off, as sqlite3's
    default is): the dangling pointer is named, and every broken reference is listed."""
    with sqlite3.connect(reg.registry) as conn:
        if how == "deleted":
            conn.execute("DELETE FROM versions WHERE id = 'promote-v2'")
        else:
            conn.execute(
                "UPDATE versions SET id = 'promote-v7', number = 7 WHERE id = 'promote-v2'"
            )
    conn.close()
    problems = _problems(reg.config)
    assert "champions: promote -> promote-v2: no such version" in problems
    assert any(p.startswith("foreign key: champions row ") for p in problems)
    assert all(
        p.startswith(("foreign key: ", "champions: promote -> promote-v2")) for p in problems
    ), problems


def test_an_artifact_swapped_with_its_recorded_hash_is_caught_by_the_chain(reg: Built) -> None:
    """Replace promote-v2's file by another valid model *and* rewrite its sha256 and size in
    `versions`: the file check passes, but the hash in the promote decision does not match."""
    old_model = (reg.root / "models" / "pre.skops").read_bytes()
    promoted = _decision(reg.config, "promote", "promote")
    anchored = promoted["payload"]["artifact_sha256"]
    assert anchored == run_json(reg.config, "show", "promote-v2")["artifact_sha256"]
    swap_artifact(reg.registry, "promote-v2", old_model)
    assert _problems(reg.config) == [
        f"versions: promote-v2: artifact_sha256 {hashlib.sha256(old_model).hexdigest()[:12]}... "
        f"is not the {anchored[:12]}... that decision {promoted['id']} made champion "
        "(the versions row was rewritten)"
    ]


def test_a_pickle_posing_as_the_champion_skops_file_is_refused_unexecuted(
    reg: Built, tmp_path: Path
) -> None:
    """The ``pickled`` model's champion model.skops was replaced by a pickle before the drift
    check, its recorded sha256 and size updated too (so only the format check stands in the
    way): that real cycle failed with one line naming the file, the pickle never ran, and the
    champion and the decision log are unchanged."""
    armed = tmp_path / "armed"
    pickle.loads(trap(armed))  # the payload is live: unpickling does run it
    assert armed.exists()
    assert reg.pickle_path.name == "model.skops"

    result = reg.drift["pickled"]
    assert not reg.pickle_marker.exists()
    assert result["status"] == "failed" and result["decision"] is None
    assert result["error"] == (
        f"{reg.pickle_path}: not a skops file (not a zip archive); refusing to load"
    )
    model = next(m for m in run_json(reg.config, "status")["models"] if m["name"] == "pickled")
    assert model["last_error"]["error"] == result["error"]
    assert model["champion"]["id"] == "pickled-v1"
    assert [h["action"] for h in history(reg.config, "pickled")] == ["bootstrap"]
