"""Apply pending schema migrations with sqlite-utils ``Migrations``, inside ``BEGIN IMMEDIATE``.

sqlite-utils' own ``Migrations.apply`` wraps each step in ``db.atomic()``, which issues a plain
(deferred) ``BEGIN`` when no transaction is open: two processes opening a fresh registry at once
would both read "nothing applied" and the loser would fail with SQLITE_BUSY_SNAPSHOT. We
therefore open the write transaction ourselves; ``atomic()`` then nests each step in a
SAVEPOINT of our transaction, and the whole migration, the ``_sqlite_migrations`` rows, the
``application_id`` and the ``user_version`` commit together or not at all.

sqlite-utils imports pandas when it is installed, so this module is imported only when the
file's ``user_version`` says a migration is pending: opening an up-to-date registry (``driftd
promote``) stays light.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from driftd.errors import SchemaTooNewError
from driftd.registry import schema


def _migrations() -> Migrations:
    migrations = Migrations(schema.MIGRATION_SET)
    for step in schema.MIGRATIONS:

        def apply(db: Database, /, sql: str = step.sql) -> None:
            # Database.executescript runs statement by statement inside an open transaction
            # (sqlite3's own executescript would COMMIT it first).
            db.executescript(sql)

        apply.__name__ = step.name
        migrations(name=step.name)(apply)
    return migrations


def migrate(conn: sqlite3.Connection, path: Path) -> list[str]:
    """Apply what is pending in one IMMEDIATE transaction; return the names applied."""
    db = Database(conn, recursive_triggers=False, execute_plugins=False)
    migrations = _migrations()
    known = [m.name for m in schema.MIGRATIONS]
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
        conn.execute(f"PRAGMA application_id = {schema.APPLICATION_ID}")
        conn.execute(f"PRAGMA user_version = {schema.SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return pending
