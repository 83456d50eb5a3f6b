"""Apply pending schema migrations with sqlite-utils ``Migrations``, inside ``BEGIN IMMEDIATE``.

sqlite-utils' own ``Migrations.apply`` wraps each step in ``db.atomic()``, which issues a plain
(deferred) ``BEGIN`` when no transaction is open: two processes opening a fresh registry at once
would both read "nothing applied" and the loser would fail with SQLITE_BUSY_SNAPSHOT. We
therefore open the write transaction ourselves; ``atomic()`` then nests each step in a
SAVEPOINT of our transaction, and the whole migration, the ``_sqlite_migrations`` rows, the
``application_id`` and the ``user_version`` commit together or not at all.

Foreign keys are off while migrating (SQLite ignores the pragma inside a transaction, so it is
set before ``BEGIN``): rebuilding a table that others reference (:class:`schema.Rebuild`, the
only way to change a CHECK constraint) drops it for an instant, which enforcement would refuse.
``PRAGMA foreign_key_check`` then runs before the commit, so a migration cannot leave a dangling
reference behind, and enforcement is switched back on whatever happens.

sqlite-utils imports pandas when it is installed, so this module is imported only when the
file's ``user_version`` says a migration is pending: opening an up-to-date registry (``driftd
promote``) stays light.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from driftd.errors import RegistryError, SchemaTooNewError
from driftd.registry import schema


def _migrations() -> Migrations:
    migrations = Migrations(schema.MIGRATION_SET)
    for step in schema.MIGRATIONS:

        def apply(db: Database, /, step: schema.Migration = step) -> None:
            for rebuild in step.rebuild:
                _rebuild(db.conn, rebuild)
            # Database.executescript runs statement by statement inside an open transaction
            # (sqlite3's own executescript would COMMIT it first).
            db.executescript(step.sql)

        apply.__name__ = step.name
        migrations(name=step.name)(apply)
    return migrations


def migrate(conn: sqlite3.Connection, path: Path) -> list[str]:
    """Apply what is pending in one IMMEDIATE transaction; return the names applied."""
    db = Database(conn, recursive_triggers=False, execute_plugins=False)
    migrations = _migrations()
    known = [m.name for m in schema.MIGRATIONS]
    conn.execute("PRAGMA foreign_keys = OFF")
    conn.execute("BEGIN IMMEDIATE")
    try:
        # Re-read under the write lock: another process may have migrated meanwhile.
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        applied = [m.name for m in migrations.applied(db)]
        unknown = [name for name in applied if name not in known]
        if version > schema.SCHEMA_VERSION or unknown:
            raise SchemaTooNewError(
                f"{path}: schema has migrations this driftd does not know "
                f"({', '.join(unknown) or f'user_version {version}'}); upgrade driftd"
            )
        pending = [m.name for m in migrations.pending(db)]
        migrations.apply(db)
        dangling = conn.execute("PRAGMA foreign_key_check").fetchall()
        if dangling:
            table, rowid, parent, _ = dangling[0]
            raise RegistryError(
                f"{path}: migration would leave {len(dangling)} dangling reference(s), e.g. "
                f"{table} row {rowid} -> {parent}; nothing was changed"
            )
        conn.execute(f"PRAGMA application_id = {schema.APPLICATION_ID}")
        conn.execute(f"PRAGMA user_version = {schema.SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    finally:
        conn.execute("PRAGMA foreign_keys = ON")
    return pending


def _rebuild(conn: sqlite3.Connection, step: schema.Rebuild) -> None:
    """Recreate ``step.table`` with ``step.old`` replaced by ``step.new`` in its CREATE statement.

    SQLite's own recipe (https://sqlite.org/lang_altertable.html#otheralter): a new table from
    the edited statement, the rows copied, the old table dropped, the new one renamed, then the
    table's indexes and triggers recreated from their stored SQL. The AUTOINCREMENT counter is
    carried over, so ids of deleted rows are never handed out again.
    """
    table = step.table
    entries = conn.execute(
        "SELECT type, sql FROM sqlite_master WHERE tbl_name = ? AND sql IS NOT NULL", (table,)
    ).fetchall()
    creates = [str(sql) for kind, sql in entries if kind == "table"]
    head = re.match(r'\s*CREATE\s+TABLE\s+("[^"]+"|\w+)', creates[0], re.I) if creates else None
    if head is None or step.old not in creates[0]:
        raise RegistryError(f"{table}: cannot rebuild: its schema has no {step.old!r}")
    temp = f"_rebuild_{table}"
    body = creates[0][head.end() :].replace(step.old, step.new)
    has_sequence = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'"
    ).fetchone()
    counter = (
        conn.execute("SELECT seq FROM sqlite_sequence WHERE name = ?", (table,)).fetchone()
        if has_sequence
        else None
    )
    conn.execute(f'CREATE TABLE "{temp}"{body}')
    conn.execute(f'INSERT INTO "{temp}" SELECT * FROM "{table}"')
    conn.execute(f'DROP TABLE "{table}"')
    conn.execute(f'ALTER TABLE "{temp}" RENAME TO "{table}"')
    for kind, sql in entries:
        if kind in ("index", "trigger"):
            conn.execute(sql)
    if counter is not None:
        conn.execute(
            "UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = ?", (counter[0], table)
        )
