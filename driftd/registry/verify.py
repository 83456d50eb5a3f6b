"""``driftd verify``: every invariant of the registry, checked read-only. Stdlib only.

Problems come back as one line each, naming the table and row; an empty list means healthy.
What is checked:

* ``PRAGMA integrity_check`` (when it fails, nothing else is trusted or checked);
* ``PRAGMA foreign_key_check``: every reference resolves;
* the champion pointer: at most one per model, its version belongs to the model, it matches
  the model's single open ``champion_history`` row and a pointer-moving decision;
* the decision log: both append-only triggers exist, and every hash is recomputed from the
  row's columns and the previous row's hash (a removed, inserted or altered row shows up);
* artifacts: the files of current and past champions exist with the recorded size and
  sha256; other live versions' files exist (``check_artifacts=False`` skips this);
* runs still 'running' after a day (a live daemon's current run is not a problem).
"""

from __future__ import annotations

import hashlib
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from driftd.errors import RegistryError, SchemaTooNewError
from driftd.registry import codec, schema

MOVING_ACTIONS = ("bootstrap", "promote", "manual_promote", "rollback")
STALE_RUN = timedelta(days=1)


def verify(path: Path, *, check_artifacts: bool = True, now: datetime | None = None) -> list[str]:
    """Problems found in the registry at ``path``; raises only SchemaTooNewError."""
    path = Path(path)
    if not path.exists():
        return [f"{path}: no registry file"]
    try:
        conn = codec.connect_ro(path)
    except sqlite3.Error as exc:
        return [f"{path}: cannot open: {exc}"]
    try:
        try:
            version = codec.schema_state(conn, path)
        except SchemaTooNewError:
            raise
        except RegistryError as exc:
            return [str(exc)]
        integrity = [str(r[0]) for r in conn.execute("PRAGMA integrity_check(100)")]
        if integrity != ["ok"]:
            return [f"integrity_check: {line}" for line in integrity]
        if version != schema.SCHEMA_VERSION:
            return [f"{path}: schema version {version}, expected {schema.SCHEMA_VERSION}"]
        conn.execute("BEGIN")  # one snapshot for every check below
        problems = _foreign_keys(conn)
        problems += _champions(conn)
        problems += _chain(conn)
        if check_artifacts:
            problems += _artifacts(conn)
        problems += _stale_runs(conn, now or datetime.now(UTC))
        return problems
    except sqlite3.DatabaseError as exc:
        return [f"{path}: {exc}"]
    finally:
        conn.close()


def _foreign_keys(c: sqlite3.Connection) -> list[str]:
    return [
        f"foreign key: {table} row {rowid} references a missing {parent} row"
        for table, rowid, parent, _ in c.execute("PRAGMA foreign_key_check").fetchall()
    ]


def _champions(c: sqlite3.Connection) -> list[str]:
    problems: list[str] = []
    open_rows: dict[str, list[sqlite3.Row]] = {}
    for h in c.execute("SELECT * FROM champion_history WHERE until IS NULL ORDER BY id"):
        open_rows.setdefault(h["model"], []).append(h)
    pointers = {r["model"]: r for r in c.execute("SELECT * FROM champions")}
    for model in sorted(open_rows.keys() | pointers.keys()):
        rows, ptr = open_rows.get(model, []), pointers.get(model)
        if len(rows) > 1:
            problems.append(f"champion_history: {model} has {len(rows)} open periods")
        if ptr is None:
            problems.append(f"champions: {model} has an open champion period but no pointer")
            continue
        where = f"champions: {model} -> {ptr['version_id']}"
        owner = c.execute("SELECT model FROM versions WHERE id = ?", (ptr["version_id"],))
        found = owner.fetchone()
        if found is not None and found[0] != model:
            problems.append(f"{where}: version belongs to model {found[0]}")
        if not rows:
            problems.append(f"{where}: no open champion_history row")
        elif (rows[-1]["version_id"], rows[-1]["decision_id"]) != (
            ptr["version_id"],
            ptr["decision_id"],
        ):
            problems.append(
                f"{where}: open champion_history row says {rows[-1]['version_id']} "
                f"(decision {rows[-1]['decision_id']})"
            )
        d = c.execute(
            "SELECT action, version_id FROM decisions WHERE id = ?", (ptr["decision_id"],)
        ).fetchone()
        if d is None or d["action"] not in MOVING_ACTIONS or d["version_id"] != ptr["version_id"]:
            problems.append(f"{where}: decision {ptr['decision_id']} did not promote it")
    return problems


def _chain(c: sqlite3.Connection) -> list[str]:
    problems: list[str] = []
    triggers = {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
    for name in ("decisions_no_update", "decisions_no_delete"):
        if name not in triggers:
            problems.append(f"decisions: append-only trigger {name} is missing")
    expected = codec.GENESIS_HASH
    for row in c.execute("SELECT * FROM decisions ORDER BY id"):
        if row["prev_hash"] != expected:
            problems.append(
                f"decisions: row {row['id']}: prev_hash does not match the previous row's hash "
                "(a row was removed, inserted or rewritten)"
            )
        content = dict(zip(row.keys(), tuple(row), strict=True))
        if codec.decision_hash(row["prev_hash"], content) != row["hash"]:
            problems.append(f"decisions: row {row['id']}: hash mismatch (the row was altered)")
        expected = row["hash"]
    return problems


def _artifacts(c: sqlite3.Connection) -> list[str]:
    problems: list[str] = []
    rows = c.execute(
        "SELECT v.id, v.artifact_path, v.artifact_sha256, v.artifact_size, "
        "EXISTS (SELECT 1 FROM champion_history h WHERE h.version_id = v.id) AS champion "
        "FROM versions v WHERE v.artifact_deleted_at IS NULL ORDER BY v.model, v.number"
    ).fetchall()
    for r in rows:
        path = Path(r["artifact_path"])
        where = f"versions: {r['id']}: artifact {path}"
        if not path.is_file():
            problems.append(f"{where} is missing")
            continue
        if not r["champion"]:
            continue
        try:
            size, digest = _sha256(path)
        except OSError as exc:
            problems.append(f"{where}: unreadable ({exc.strerror})")
            continue
        if size != r["artifact_size"] or digest != r["artifact_sha256"]:
            problems.append(
                f"{where}: sha256 {digest[:12]}... size {size} does not match the recorded "
                f"{r['artifact_sha256'][:12]}... size {r['artifact_size']}"
            )
    return problems


def _sha256(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
            size += len(block)
    return size, digest.hexdigest()


def _stale_runs(c: sqlite3.Connection, now: datetime) -> list[str]:
    rows = c.execute(
        "SELECT id, model, started_at, pid FROM runs WHERE status = 'running' AND started_at < ?",
        (codec.utc_iso(now - STALE_RUN),),
    ).fetchall()
    return [
        f"runs: run {r['id']} of {r['model']} has been 'running' since {r['started_at']} "
        f"(pid {r['pid']}); `driftd run` marks it interrupted at start-up"
        for r in rows
    ]
