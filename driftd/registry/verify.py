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
  sha256; other live versions' files exist (``check_artifacts=False`` skips this); and each
  champion's recorded sha256 is the one its pointer-moving decision put in the hash chain;
* runs still 'running' after a day (a live daemon's current run is not a problem).
"""

from __future__ import annotations

import hashlib
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from driftd.registry import codec, schema
from driftd.registry.connection import require_regular

MOVING_ACTIONS = ("bootstrap", "promote", "manual_promote", "rollback")
STALE_RUN = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Findings:
    """What :func:`examine` found. ``corrupt``: the file itself is damaged or is not SQLite,
    the condition every other command reports with exit 3; ``driftd verify`` exits 3 for it
    too, and 1 for a sound file whose invariants are broken."""

    problems: list[str]
    corrupt: bool = False


def verify(path: Path, *, check_artifacts: bool = True, now: datetime | None = None) -> list[str]:
    """Problems found in the registry at ``path`` (see :func:`examine`)."""
    return examine(path, check_artifacts=check_artifacts, now=now).problems


def examine(path: Path, *, check_artifacts: bool = True, now: datetime | None = None) -> Findings:
    """Problems found in the registry at ``path``, and whether the file itself is corrupt.

    Conditions that every other command refuses the same way raise here too, so that one
    condition has one exit code: SchemaTooNewError (3), and RegistryError (2) for a path that
    is not a regular file, a foreign SQLite database, or a file that cannot be opened.
    """
    path = Path(path)
    if not path.exists():
        return Findings([f"{path}: no registry file"])
    require_regular(path)
    try:
        conn = codec.connect_ro(path)
    except sqlite3.Error as exc:
        return _unreadable(exc, path)
    try:
        version = codec.schema_state(conn, path)
        integrity = [str(r[0]) for r in conn.execute("PRAGMA integrity_check(100)")]
        if integrity != ["ok"]:
            return Findings([f"integrity_check: {line}" for line in integrity], corrupt=True)
        if version != schema.SCHEMA_VERSION:
            return Findings([f"{path}: schema version {version}, expected {schema.SCHEMA_VERSION}"])
        conn.execute("BEGIN")  # one snapshot for every check below
        problems = _foreign_keys(conn)
        problems += _champions(conn)
        problems += _chain(conn)
        problems += _anchors(conn)
        if check_artifacts:
            problems += _artifacts(conn)
        problems += _stale_runs(conn, now or datetime.now(UTC))
        return Findings(problems)
    except sqlite3.Error as exc:
        return _unreadable(exc, path)
    finally:
        conn.close()


def _unreadable(exc: sqlite3.Error, path: Path) -> Findings:
    """A damaged file is a finding (corrupt); anything else (locked, unreadable) is raised."""
    if codec.is_corrupt(exc):
        return Findings([f"{path}: {exc}"], corrupt=True)
    raise codec.translate(exc, path) from None


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
        if found is None:
            # foreign_key_check reports it too, but only as "champions row N": name the version.
            problems.append(f"{where}: no such version")
        elif found[0] != model:
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


def _anchors(c: sqlite3.Connection) -> list[str]:
    """Each champion's recorded sha256 against the one its pointer-moving decision hashed in.

    Decisions written before driftd recorded ``artifact_sha256`` in the payload are skipped.
    """
    rows = c.execute(
        "SELECT h.version_id, h.decision_id, v.artifact_sha256 AS recorded, "
        "json_extract(d.payload, '$.artifact_sha256') AS anchored "
        "FROM champion_history h JOIN decisions d ON d.id = h.decision_id "
        "JOIN versions v ON v.id = h.version_id "
        "WHERE anchored IS NOT NULL AND anchored IS NOT v.artifact_sha256 ORDER BY h.id"
    ).fetchall()
    return [
        f"versions: {r['version_id']}: artifact_sha256 {str(r['recorded'])[:12]}... is not the "
        f"{str(r['anchored'])[:12]}... that decision {r['decision_id']} made champion "
        "(the versions row was rewritten)"
        for r in rows
    ]


def _artifacts(c: sqlite3.Connection) -> list[str]:
    problems: list[str] = []
    rows = c.execute(
        "SELECT v.id, v.artifact_path, v.artifact_sha256, v.artifact_size, "
        "EXISTS (SELECT 1 FROM champion_history h WHERE h.version_id = v.id) AS champion "
        "FROM versions v WHERE v.artifact_deleted_at IS NULL ORDER BY v.model, v.number"
    ).fetchall()
    for r in rows:
        problem = _file_problem(
            Path(r["artifact_path"]),
            r["artifact_sha256"],
            r["artifact_size"],
            hash_it=bool(r["champion"]),
        )
        if problem:
            problems.append(f"versions: {r['id']}: artifact {r['artifact_path']}{problem}")
    return problems


def artifact_problem(path: Path, version_id: str) -> str | None:
    """Why ``version_id``'s artifact could not serve as champion (one line), or None.

    For ``driftd promote`` and ``driftd rollback``: a file that is gone, unreadable, or not the
    bytes the registry recorded would make every later cycle fail when it loads the champion.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     artifact_problem(Path(d) / "none.db", "churn-v1")
    "version 'churn-v1': no such version"
    """
    row = None
    if Path(path).exists():
        require_regular(Path(path))
        try:
            conn = codec.connect_ro(Path(path))
            try:
                row = conn.execute(
                    "SELECT artifact_path, artifact_sha256, artifact_size, artifact_deleted_at "
                    "FROM versions WHERE id = ?",
                    (version_id,),
                ).fetchone()
            finally:
                conn.close()
        except sqlite3.Error as exc:
            raise codec.translate(exc, Path(path)) from None
    if row is None:
        return f"version {version_id!r}: no such version"
    if row["artifact_deleted_at"] is not None:
        return f"{version_id}: artifact was garbage-collected"
    problem = _file_problem(
        Path(row["artifact_path"]), row["artifact_sha256"], row["artifact_size"], hash_it=True
    )
    return f"{version_id}: artifact {row['artifact_path']}{problem}" if problem else None


def _file_problem(path: Path, sha256: str, size: int | None, *, hash_it: bool) -> str:
    """'' when the file is there (and, with ``hash_it``, has the recorded size and sha256)."""
    if not path.is_file():
        return " is missing"
    if not hash_it:
        return ""
    try:
        actual_size, digest = _sha256(path)
    except OSError as exc:
        return f": unreadable ({exc.strerror})"
    if actual_size != size or digest != sha256:
        return (
            f": sha256 {digest[:12]}... size {actual_size} does not match the recorded "
            f"{sha256[:12]}... size {size}"
        )
    return ""


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
