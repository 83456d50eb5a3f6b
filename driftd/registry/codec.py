r"""What the writer and the readers must agree on: timestamps, JSON, the decision hash, and how
to open the file read-only. Stdlib only (``driftd status`` imports this).

>>> utc_iso(datetime(2025, 1, 2, 3, 4, 5, 678900, tzinfo=UTC))
'2025-01-02T03:04:05.678Z'
>>> dumps({"b": float("nan"), "a": (1, float("inf"))})
'{"a": [1, null], "b": null}'
>>> row = {"id": 1, "model": "m", "version_id": "m-v1", "run_id": None, "action": "gc",
...        "reason": "r", "actor": "daemon", "created_at": "t", "payload": '{"k": 1}'}
>>> canonical = ('{"action":"gc","actor":"daemon","created_at":"t","id":1,"model":"m",'
...              '"payload":"{\\"k\\": 1}","reason":"r","run_id":null,"version_id":"m-v1"}')
>>> expected = hashlib.sha256((GENESIS_HASH + canonical).encode("utf-8")).hexdigest()
>>> decision_hash(GENESIS_HASH, row) == expected
True
"""

from __future__ import annotations

import enum
import hashlib
import json
import math
import os
import sqlite3
from collections.abc import Mapping
from datetime import UTC, date, datetime
from pathlib import Path, PurePath
from typing import Any

from driftd.errors import (
    RegistryBusyError,
    RegistryCorruptError,
    RegistryError,
    SchemaTooNewError,
)
from driftd.registry.schema import APPLICATION_ID, SCHEMA_VERSION

GENESIS_HASH = "0" * 64
# The columns a decision's hash covers, in the canonical JSON's (sorted) key order.
DECISION_FIELDS = (
    "action",
    "actor",
    "created_at",
    "id",
    "model",
    "payload",
    "reason",
    "run_id",
    "version_id",
)
BUSY_TIMEOUT_S = 10.0

_SQLITE_READONLY = 8
_SQLITE_IOERR = 10
_SQLITE_FULL = 13
_SQLITE_CANTOPEN = 14


def utc_iso(moment: datetime | None = None) -> str:
    """ISO-8601 UTC with milliseconds and 'Z': fixed width, so text order is time order."""
    if moment is None:
        moment = datetime.now(UTC)
    elif moment.tzinfo is None:
        raise RegistryError(f"naive datetime {moment.isoformat()}: registry times must be aware")
    text = moment.astimezone(UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def parse_iso(text: str) -> datetime:
    """The inverse of :func:`utc_iso` (also accepts '+00:00')."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _clean(value: Any, where: str) -> Any:
    """JSON-ready plain data: NaN and infinities become None (JSON has neither)."""
    if value is None or isinstance(value, bool | str | int):
        return value.value if isinstance(value, enum.Enum) else value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): _clean(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=str) if isinstance(value, set | frozenset) else value
        return [_clean(v, f"{where}[{i}]") for i, v in enumerate(items)]
    if isinstance(value, datetime):
        return utc_iso(value) if value.tzinfo else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, enum.Enum):
        return _clean(value.value, where)
    item = getattr(value, "item", None)  # numpy scalars, without importing numpy
    if callable(item):
        return _clean(item(), where)
    raise RegistryError(f"{where}: cannot store a {type(value).__name__} as JSON")


def dumps(value: Any, where: str = "value") -> str:
    """Canonical JSON text for a JSON column: sorted keys, no NaN."""
    return json.dumps(_clean(value, where), allow_nan=False, sort_keys=True)


def dumps_or_none(value: Any, where: str = "value") -> str | None:
    return None if value is None else dumps(value, where)


def loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def real(value: float | None) -> float | None:
    """A REAL column value: NaN becomes NULL explicitly (infinities are valid SQLite REALs)."""
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value


def decision_hash(prev_hash: str, row: Mapping[str, Any]) -> str:
    """sha256 over ``prev_hash`` + canonical JSON of the row's :data:`DECISION_FIELDS`.

    ``payload`` enters as the stored JSON text, so any tool can recompute the hash from the
    columns alone, without re-serialising the payload.
    """
    content = {k: row[k] for k in DECISION_FIELDS}
    canonical = json.dumps(
        content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return hashlib.sha256((prev_hash + canonical).encode("utf-8")).hexdigest()


def is_busy(exc: sqlite3.Error) -> bool:
    return "locked" in str(exc) or "busy" in str(exc)


def is_corrupt(exc: sqlite3.Error) -> bool:
    text = str(exc)
    return "malformed" in text or "not a database" in text or "disk image" in text


def translate(exc: sqlite3.Error, path: Path) -> RegistryError:
    """One sqlite3 error as a driftd error naming the file."""
    first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if is_corrupt(exc):
        return RegistryCorruptError(f"{path}: corrupt registry ({first})")
    if is_busy(exc):
        # Only another process can hold it that long: this process's writers queue in
        # connection.Pool before they ask SQLite.
        return RegistryBusyError(
            f"{path}: database is locked: another process held a write transaction too long"
        )
    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
    if code in (_SQLITE_IOERR, _SQLITE_FULL):
        # A failed write: SQLite has rolled the transaction back; say what usually causes it.
        return RegistryError(f"{path}: {first} (disk full, or a file-size limit reached?)")
    if code == _SQLITE_READONLY:
        return RegistryError(f"{path}: {first} (check the permissions of the file and directory)")
    return RegistryError(f"{path}: {first}")


def connect_ro(path: Path, timeout: float = BUSY_TIMEOUT_S) -> sqlite3.Connection:
    """A read-only connection that never writes the database file.

    A WAL database normally needs its -wal and -shm files. When no writer has the file open,
    SQLite has deleted them, and a reader without write access to the directory (a group
    member running ``driftd status``) cannot recreate them; then, and only when no -wal exists,
    we fall back to ``immutable=1``, which is exact because every committed page is in the main
    file and a new writer changes that file only at a checkpoint.
    """
    uri = Path(os.path.abspath(path)).as_uri()
    conn = _open(uri + "?mode=ro", timeout)
    try:
        conn.execute("PRAGMA user_version").fetchone()
    except sqlite3.OperationalError as exc:
        conn.close()
        code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
        wal = Path(f"{path}-wal")
        if code in (_SQLITE_READONLY, _SQLITE_CANTOPEN) and not wal.exists():
            return _open(uri + "?mode=ro&immutable=1", timeout)
        raise
    except sqlite3.Error:
        conn.close()
        raise
    return conn


def _open(uri: str, timeout: float) -> sqlite3.Connection:
    conn = sqlite3.connect(uri, uri=True, timeout=timeout, isolation_level=None)
    conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA query_only = ON")
    conn.row_factory = sqlite3.Row
    return conn


def schema_state(conn: sqlite3.Connection, path: Path) -> int:
    """The schema version, after refusing a newer schema or a foreign database."""
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    app = int(conn.execute("PRAGMA application_id").fetchone()[0])
    if app not in (0, APPLICATION_ID):
        raise RegistryError(f"{path}: not a driftd registry (application_id {app:#x})")
    if version > SCHEMA_VERSION:
        raise SchemaTooNewError(
            f"{path}: schema version {version} is newer than this driftd's "
            f"{SCHEMA_VERSION}; upgrade driftd"
        )
    if version == 0:
        tables = conn.execute(
            "SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"
        ).fetchone()[0]
        if tables:
            raise RegistryError(f"{path}: not a driftd registry (tables but no driftd schema)")
    return version


def inspect(path: Path) -> int:
    """Check an existing file read-only before anything writes to it; return its version.

    Raises RegistryCorruptError (not a database, or ``PRAGMA quick_check`` fails) or
    SchemaTooNewError, having changed nothing in the file.
    """
    try:
        conn = connect_ro(path)
    except sqlite3.Error as exc:
        if is_corrupt(exc):
            raise RegistryCorruptError(f"{path}: not a valid SQLite database ({exc})") from None
        raise translate(exc, path) from None
    try:
        version = schema_state(conn, path)
        rows = [r[0] for r in conn.execute("PRAGMA quick_check(5)").fetchall()]
    except sqlite3.DatabaseError as exc:
        if is_busy(exc):
            raise translate(exc, path) from None
        raise RegistryCorruptError(f"{path}: not a valid SQLite database ({exc})") from None
    finally:
        conn.close()
    if rows != ["ok"]:
        raise RegistryCorruptError(f"{path}: quick_check failed: {'; '.join(rows)}")
    return version
