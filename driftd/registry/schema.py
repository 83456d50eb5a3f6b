"""The registry's schema as an ordered list of migrations. Stdlib only: the read side imports it.

Versioning has two marks, written in the same transaction:

* sqlite-utils' ``_sqlite_migrations`` table lists every applied migration by name (set
  :data:`MIGRATION_SET`); it is the authority when migrating (see ``store._migrate``).
* ``PRAGMA user_version`` holds the number of applied migrations, so a reader can refuse a
  newer schema with one cheap pragma and without importing sqlite-utils (which imports pandas).

``PRAGMA application_id`` marks the file as a driftd registry, so pointing driftd at some other
SQLite file fails with a clear message instead of "no such table".

A migration is append-only: never edit a released one, add the next. SQLite cannot alter a
CHECK constraint in place, so a new :class:`driftd.domain.Action` or run status needs a
migration that rebuilds the table (``tests/test_registry.py`` fails until it exists): list a
:class:`Rebuild` in it, as ``0003_clock`` does for the verdicts.

>>> SCHEMA_VERSION == len(MIGRATIONS)
True
"""

from __future__ import annotations

from dataclasses import dataclass

MIGRATION_SET = "driftd"
APPLICATION_ID = 0x64726674  # "drft"

RUN_STATUSES = ("running", "ok", "drift", "failed", "interrupted", "skipped")
TRAINING_STATUSES = ("ok", "failed", "timeout", "crashed")
VERDICTS = ("ok", "drift", "invalid", "insufficient_data")
_VERDICTS_0001 = ("ok", "drift", "invalid")  # what 0001_initial allowed; 0003 widened it
ACTIONS = (
    "bootstrap",
    "promote",
    "reject",
    "inconclusive",
    "would_promote",
    "awaiting_approval",
    "manual_promote",
    "rollback",
    "gc",
)


def _in(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


@dataclass(frozen=True, slots=True)
class Rebuild:
    """Recreate ``table`` from its current CREATE statement with ``old`` replaced by ``new``.

    The way to change a CHECK constraint: every column (also those added by later ALTERs),
    row, index, trigger and AUTOINCREMENT counter is kept (see :mod:`driftd.registry.migrate`).
    """

    table: str
    old: str
    new: str


@dataclass(frozen=True, slots=True)
class Migration:
    name: str
    sql: str  # one or more statements; run inside the caller's BEGIN IMMEDIATE
    rebuild: tuple[Rebuild, ...] = ()  # applied before ``sql``


# json_valid(NULL) is 0 in SQLite 3.40, so nullable JSON columns spell out `x IS NULL OR`.
_INITIAL = f"""
CREATE TABLE models (
    name TEXT PRIMARY KEY NOT NULL CHECK (length(name) > 0),
    created_at TEXT NOT NULL
);

CREATE TABLE runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    model TEXT NOT NULL REFERENCES models(name),
    started_at TEXT NOT NULL,
    finished_at TEXT,
    status TEXT NOT NULL CHECK (status IN {_in(RUN_STATUSES)}),
    trigger TEXT NOT NULL,
    now_at TEXT NOT NULL,
    verdict TEXT CHECK (verdict IN {_in(_VERDICTS_0001)}),
    error TEXT,
    summary TEXT CHECK (summary IS NULL OR json_valid(summary)),
    pid INTEGER NOT NULL,
    host TEXT NOT NULL,
    CHECK ((status = 'running') = (finished_at IS NULL))
);
CREATE INDEX runs_model ON runs(model, id);
CREATE INDEX runs_running ON runs(status) WHERE status = 'running';

CREATE TABLE checks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id INTEGER NOT NULL REFERENCES runs(id),
    model TEXT NOT NULL REFERENCES models(name),
    checked_at TEXT NOT NULL,
    verdict TEXT NOT NULL CHECK (verdict IN {_in(_VERDICTS_0001)}),
    reason TEXT NOT NULL,
    drifted TEXT NOT NULL CHECK (json_valid(drifted)),
    drifted_share REAL,
    share_threshold REAL,
    correction TEXT,
    alpha REAL,
    breached INTEGER NOT NULL CHECK (breached IN (0, 1)),
    n_ref INTEGER NOT NULL,
    n_live INTEGER NOT NULL,
    reference_sha256 TEXT NOT NULL,
    report TEXT NOT NULL CHECK (json_valid(report))
);
CREATE INDEX checks_model ON checks(model, id);
CREATE INDEX checks_run ON checks(run_id);

CREATE TABLE feature_drift (
    check_id INTEGER NOT NULL REFERENCES checks(id),
    role TEXT NOT NULL CHECK (role IN ('feature', 'extra')),
    feature TEXT NOT NULL,
    kind TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('ok', 'drift', 'insufficient_data', 'invalid')),
    test TEXT NOT NULL,
    statistic REAL,
    p_value REAL,
    p_adjusted REAL,
    effect_name TEXT NOT NULL,
    effect REAL,
    threshold REAL,
    n_ref INTEGER NOT NULL,
    n_live INTEGER NOT NULL,
    missing_ref REAL,
    missing_live REAL,
    missing_p REAL,
    new_category_mass REAL,
    detail TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (check_id, role, feature)
);
CREATE INDEX feature_drift_feature ON feature_drift(feature, check_id);

CREATE TABLE versions (
    id TEXT PRIMARY KEY NOT NULL,
    model TEXT NOT NULL REFERENCES models(name),
    number INTEGER NOT NULL CHECK (number >= 1),
    created_at TEXT NOT NULL,
    run_id INTEGER REFERENCES runs(id),
    parent_id TEXT REFERENCES versions(id),
    artifact_path TEXT NOT NULL,
    artifact_sha256 TEXT NOT NULL CHECK (length(artifact_sha256) = 64),
    artifact_size INTEGER NOT NULL CHECK (artifact_size >= 0),
    artifact_deleted_at TEXT,
    estimator TEXT NOT NULL,
    params TEXT NOT NULL CHECK (json_valid(params)),
    spec TEXT NOT NULL CHECK (json_valid(spec)),
    features TEXT NOT NULL CHECK (json_valid(features)),
    data_sha256 TEXT NOT NULL,
    data_rows INTEGER NOT NULL,
    data_time_min TEXT,
    data_time_max TEXT,
    reference_sha256 TEXT,
    seed INTEGER,
    code_version TEXT NOT NULL,
    environment TEXT NOT NULL CHECK (json_valid(environment)),
    metrics TEXT NOT NULL CHECK (json_valid(metrics)),
    training_seconds REAL,
    log_path TEXT,
    UNIQUE (model, number),
    CHECK (id = model || '-v' || number)
);
CREATE INDEX versions_parent ON versions(parent_id);

CREATE TABLE trainings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id INTEGER REFERENCES runs(id),
    model TEXT NOT NULL REFERENCES models(name),
    started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN {_in(TRAINING_STATUSES)}),
    error TEXT,
    log_path TEXT,
    version_id TEXT REFERENCES versions(id)
);
CREATE INDEX trainings_model ON trainings(model, started_at);
CREATE INDEX trainings_run ON trainings(run_id);

CREATE TABLE evaluations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id INTEGER REFERENCES runs(id),
    model TEXT NOT NULL REFERENCES models(name),
    champion_id TEXT NOT NULL REFERENCES versions(id),
    candidate_id TEXT NOT NULL REFERENCES versions(id),
    n_holdout INTEGER NOT NULL,
    confidence REAL,
    comparisons TEXT NOT NULL CHECK (json_valid(comparisons)),
    champion_metrics TEXT NOT NULL CHECK (json_valid(champion_metrics)),
    candidate_metrics TEXT NOT NULL CHECK (json_valid(candidate_metrics)),
    created_at TEXT NOT NULL
);
CREATE INDEX evaluations_candidate ON evaluations(candidate_id);
CREATE INDEX evaluations_champion ON evaluations(champion_id);

CREATE TABLE decisions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    model TEXT NOT NULL REFERENCES models(name),
    version_id TEXT REFERENCES versions(id),
    run_id INTEGER REFERENCES runs(id),
    action TEXT NOT NULL CHECK (action IN {_in(ACTIONS)}),
    reason TEXT NOT NULL,
    actor TEXT NOT NULL CHECK (length(actor) > 0),
    created_at TEXT NOT NULL,
    payload TEXT CHECK (payload IS NULL OR json_valid(payload)),
    prev_hash TEXT NOT NULL UNIQUE CHECK (length(prev_hash) = 64),
    hash TEXT NOT NULL UNIQUE CHECK (length(hash) = 64)
);
CREATE INDEX decisions_model ON decisions(model, id);
CREATE INDEX decisions_version ON decisions(version_id);
CREATE TRIGGER decisions_no_update BEFORE UPDATE ON decisions
BEGIN
    SELECT RAISE(ABORT, 'decisions is append-only: UPDATE refused');
END;
CREATE TRIGGER decisions_no_delete BEFORE DELETE ON decisions
BEGIN
    SELECT RAISE(ABORT, 'decisions is append-only: DELETE refused');
END;

CREATE TABLE champions (
    model TEXT PRIMARY KEY NOT NULL REFERENCES models(name),
    version_id TEXT NOT NULL UNIQUE REFERENCES versions(id),
    since TEXT NOT NULL,
    decision_id INTEGER NOT NULL REFERENCES decisions(id)
);
CREATE TRIGGER champions_model_insert BEFORE INSERT ON champions
WHEN (SELECT model FROM versions WHERE id = NEW.version_id) IS NOT NEW.model
BEGIN
    SELECT RAISE(ABORT, 'champions: the version belongs to another model');
END;
CREATE TRIGGER champions_model_update BEFORE UPDATE ON champions
WHEN (SELECT model FROM versions WHERE id = NEW.version_id) IS NOT NEW.model
BEGIN
    SELECT RAISE(ABORT, 'champions: the version belongs to another model');
END;

CREATE TABLE champion_history (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    model TEXT NOT NULL REFERENCES models(name),
    version_id TEXT NOT NULL REFERENCES versions(id),
    since TEXT NOT NULL,
    until TEXT,
    decision_id INTEGER NOT NULL REFERENCES decisions(id),
    ended_by INTEGER REFERENCES decisions(id),
    CHECK ((until IS NULL) = (ended_by IS NULL))
);
CREATE UNIQUE INDEX champion_history_open ON champion_history(model) WHERE until IS NULL;
CREATE INDEX champion_history_version ON champion_history(version_id);

CREATE TABLE heartbeat (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    pid INTEGER NOT NULL,
    host TEXT NOT NULL,
    started_at TEXT NOT NULL,
    beat_at TEXT NOT NULL,
    state TEXT NOT NULL,
    config_error TEXT,
    next_runs TEXT CHECK (next_runs IS NULL OR json_valid(next_runs)),
    code_version TEXT NOT NULL
);

CREATE VIEW version_status AS
SELECT
    v.id AS version_id,
    v.model AS model,
    v.number AS number,
    CASE
        WHEN c.version_id IS NOT NULL THEN 'champion'
        WHEN EXISTS (SELECT 1 FROM champion_history h WHERE h.version_id = v.id) THEN 'retired'
        WHEN v.artifact_deleted_at IS NOT NULL THEN 'deleted'
        ELSE COALESCE(
            (SELECT CASE d.action
                        WHEN 'reject' THEN 'rejected'
                        WHEN 'inconclusive' THEN 'inconclusive'
                        WHEN 'awaiting_approval' THEN 'awaiting_approval'
                        WHEN 'would_promote' THEN 'would_promote'
                    END
             FROM decisions d
             WHERE d.version_id = v.id AND d.action <> 'gc'
             ORDER BY d.id DESC LIMIT 1),
            'candidate')
    END AS status
FROM versions v
LEFT JOIN champions c ON c.version_id = v.id;
"""

# One clock: champion periods were opened at the wall-clock time of the decision; a decision
# taken by a run now happens at that run's logical time (`now_at`, `driftd check --now`), so
# `policy.max_age` and `status` measure a replay's champion on the replay's clock. Decisions
# without a run (promote, rollback, gc from the CLI) keep their wall time, which is their
# logical time. `insufficient_data` joins the verdicts (a live window too thinly covered).
_RUN_NOW = "(SELECT r.now_at FROM decisions d JOIN runs r ON r.id = d.run_id WHERE d.id = {})"
_OPENED, _PERIOD_OPENED, _PERIOD_CLOSED = (
    _RUN_NOW.format(column)
    for column in (
        "champions.decision_id",
        "champion_history.decision_id",
        "champion_history.ended_by",
    )
)
_CLOCK = f"""
UPDATE champions SET since = COALESCE({_OPENED}, since);
UPDATE champion_history SET
    since = COALESCE({_PERIOD_OPENED}, since),
    until = COALESCE({_PERIOD_CLOSED}, until);
"""
_WIDER_VERDICTS = tuple(
    Rebuild(table, f"verdict IN {_in(_VERDICTS_0001)}", f"verdict IN {_in(VERDICTS)}")
    for table in ("runs", "checks")
)

# The champion's permutation importances on its promotion holdout, computed once per version
# (lazily, at its first check as champion) and weighing the dataset drift decision.
_IMPORTANCE = """
CREATE TABLE importances (
    version_id TEXT NOT NULL REFERENCES versions(id),
    feature TEXT NOT NULL,
    importance REAL NOT NULL,
    metric TEXT NOT NULL,
    n_rows INTEGER NOT NULL CHECK (n_rows > 0),
    computed_at TEXT NOT NULL,
    PRIMARY KEY (version_id, feature)
);
"""

# Every notification delivery's outcome (driftd.alerts): one row per event and target, written
# after the last attempt. `target` is a description without secrets (a URL without its query
# string or user info, or a command's program); headers are never stored. No references to
# runs or decisions: a delivery may concern no run (daemon_stop) and must not be lost to one.
_DELIVERIES = """
CREATE TABLE deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event TEXT NOT NULL,
    model TEXT,
    run_id INTEGER,
    decision_id INTEGER,
    event_at TEXT,
    target TEXT NOT NULL,
    attempts INTEGER NOT NULL CHECK (attempts >= 0),
    ok INTEGER NOT NULL CHECK (ok IN (0, 1)),
    error TEXT,
    at TEXT NOT NULL
);
CREATE INDEX deliveries_failed ON deliveries(id) WHERE ok = 0;
"""

# A compact picture of each check's data for `driftd report`: per feature, both sides (reference
# and live) as a histogram on shared edges (numbers, <= 64 bins, plus quantiles) or the top
# levels and an "other" mass (categories, <= 30 levels). Its size does not grow with the rows,
# so plots can be drawn for any past check without the data (driftd.report.summarize).
_CHECK_SUMMARIES = """
CREATE TABLE check_summaries (
    check_id INTEGER NOT NULL REFERENCES checks(id),
    feature TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('numeric', 'categorical')),
    summary TEXT NOT NULL CHECK (json_valid(summary)),
    PRIMARY KEY (check_id, feature)
);
"""

# Every run of `models.promotion.on_champion_change` (driftd.champion.hooks), written after the
# decision committed: status ok, failed (non-zero exit), timeout or error (could not start), and
# the tail of its output. `driftd status` shows the model's last one when it did not succeed.
_CHAMPION_HOOKS = """
CREATE TABLE champion_hooks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    model TEXT NOT NULL REFERENCES models(name),
    version_id TEXT NOT NULL REFERENCES versions(id),
    decision_id INTEGER NOT NULL REFERENCES decisions(id),
    argv TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('ok', 'failed', 'timeout', 'error')),
    exit_code INTEGER,
    output TEXT NOT NULL
);
CREATE INDEX champion_hooks_model ON champion_hooks(model, id);
"""

# `driftd status` reads each model's last run with an error. Through runs_model that scans
# every run of a model that never failed: 0.93 s of status' 0.98 s with 200 models and 100,000
# runs; 0.05 s in all with this index (bench/registry_scale.py).
_FAILED_RUNS = """
CREATE INDEX runs_failed ON runs(model, id) WHERE error IS NOT NULL;
"""

MIGRATIONS: tuple[Migration, ...] = (
    Migration("0001_initial", _INITIAL),
    Migration("0002_importance", _IMPORTANCE),
    Migration("0003_clock", _CLOCK, rebuild=_WIDER_VERDICTS),
    Migration("0004_check_summaries", _CHECK_SUMMARIES),
    Migration("0005_deliveries", _DELIVERIES),
    Migration("0006_champion_hooks", _CHAMPION_HOOKS),
    Migration("0007_failed_runs_index", _FAILED_RUNS),
)
SCHEMA_VERSION = len(MIGRATIONS)

TABLES = (
    "models",
    "runs",
    "checks",
    "feature_drift",
    "versions",
    "trainings",
    "evaluations",
    "decisions",
    "champions",
    "champion_history",
    "heartbeat",
    "importances",
    "check_summaries",
    "deliveries",
    "champion_hooks",
)
