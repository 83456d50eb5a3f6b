"""Inputs that used to get a wrong answer, a traceback or no answer (issue 11, items 1-2, 4-6).

Each test drives the real ``driftd`` executable on real files and pins the one-line error and
exit code that each class of input now gets, or the silence on stderr it now keeps.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from cli_support import driftd

from driftd import config, sources, synth
from driftd.errors import ConfigError, DataError

NOW = datetime(2026, 1, 3, tzinfo=UTC)


def _run(
    *args: str, cwd: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "DRIFTD_CONFIG"}
    return subprocess.run(
        [*driftd(), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=cwd,
        env=env,
    )


def _one_line_error(proc: subprocess.CompletedProcess[str], rc: int, *words: str) -> str:
    """The single stderr line of a refused command, checked for its exit code and words."""
    assert proc.returncode == rc, f"rc={proc.returncode}\n{proc.stderr}"
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("driftd: "), proc.stderr
    for word in words:
        assert word in lines[0], lines[0]
    assert "Traceback" not in proc.stderr
    return lines[0]


def _numbers(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=n)


# --- 1. duplicate column names ------------------------------------------------------------------


def test_a_duplicate_csv_header_is_refused_naming_file_and_column(tmp_path: Path) -> None:
    """pandas renames the second 'a' to 'a.1'; driftd refuses the file instead of monitoring
    whichever copy comes first (it used to compare 'a' and a phantom 'a.1', exit 0)."""
    body = "".join(
        f"{x},{y},{x + 5}\n" for x, y in zip(_numbers(300), _numbers(300, 1), strict=True)
    )
    ref, live = tmp_path / "ref.csv", tmp_path / "live.csv"
    ref.write_text("a,b,a\n" + body)
    live.write_text("a,b,c\n" + body)
    proc = _run("drift", str(ref), str(live))
    _one_line_error(proc, 2, "ref.csv", "duplicate column 'a'", "columns 1 and 3")


def test_a_duplicate_parquet_field_is_refused_naming_file_and_column(tmp_path: Path) -> None:
    """A Parquet schema with two fields called 'x' gets the same words as a CSV header."""
    table = pa.Table.from_arrays([pa.array(_numbers(100)), pa.array(_numbers(100, 1))], ["x", "x"])
    path = tmp_path / "dup.parquet"
    pq.write_table(table, path)
    proc = _run("drift", str(path), str(path))
    _one_line_error(proc, 2, "dup.parquet", "duplicate column 'x'", "columns 1 and 2")


def test_a_query_returning_a_column_twice_is_refused(tmp_path: Path) -> None:
    """``SELECT x, x`` from a sqlite:/// source is the same defect, refused in a cycle."""
    db = tmp_path / "live.db"
    frame = synth.make_stream(NOW - timedelta(days=1), 1, timedelta(days=1), 200, None, seed=2)
    with sqlite3.connect(db) as conn:
        frame.assign(ts=frame["ts"].astype(str)).to_sql("rows", conn, index=False)
    config = _cycle_config(
        tmp_path,
        synth.make_reference(400, seed=1, end=NOW - timedelta(days=1)),
        live=f'{{ path = "sqlite:///{db}", query = "SELECT *, age AS age FROM rows" }}',
    )
    result = _check(config)
    assert result["status"] == "failed"
    assert "duplicate column 'age'" in result["error"] and "live.db" in result["error"]


# --- 1. numbers mixed with text, the same on both sides -----------------------------------------


def _mixed(path: Path) -> None:
    values = [f"{v:.3f}" for v in _numbers(400)]
    values[3] = "abc"
    pd.DataFrame({"x": values, "y": _numbers(400, 1)}).to_csv(path, index=False)


def test_numbers_mixed_with_text_get_the_same_error_in_reference_and_live(tmp_path: Path) -> None:
    """The reference side used to become categorical silently (every live number a new
    category: drift, exit 1); now both sides say which file, column, value and row."""
    mixed, clean = tmp_path / "mixed.csv", tmp_path / "clean.csv"
    _mixed(mixed)
    pd.DataFrame({"x": _numbers(400, 2), "y": _numbers(400, 3)}).to_csv(clean, index=False)
    as_reference = _one_line_error(_run("drift", str(mixed), str(clean)), 2)
    as_live = _one_line_error(_run("drift", str(clean), str(mixed)), 2)
    for line, side in ((as_reference, "reference"), (as_live, "live")):
        assert f"{side} {mixed}: column 'x' mixes numbers and text: 'abc' (row 4)" in line
    assert as_reference.split(": ", 2)[2] == as_live.split(": ", 2)[2]


def test_a_mixed_column_listed_as_categorical_is_compared_as_text(tmp_path: Path) -> None:
    """Listing the column is the way to ask for a text comparison; then nothing is refused."""
    mixed = tmp_path / "mixed.csv"
    _mixed(mixed)
    proc = _run("drift", str(mixed), str(mixed), "--categorical", "x", "--json")
    assert proc.returncode == 0, proc.stderr
    kinds = {f["feature"]: f["kind"] for f in json.loads(proc.stdout)["features"]}
    assert kinds == {"x": "categorical", "y": "numeric"}


def test_a_text_column_with_a_few_number_like_codes_stays_categorical(tmp_path: Path) -> None:
    """Mostly text (sizes S/M/L and an odd '42') is a categorical column, not a mixed one."""
    sizes = np.random.default_rng(0).choice(["S", "M", "L", "42"], size=400, p=[0.3, 0.3, 0.3, 0.1])
    path = tmp_path / "sizes.csv"
    pd.DataFrame({"size": sizes}).to_csv(path, index=False)
    proc = _run("drift", str(path), str(path), "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["features"][0]["kind"] == "categorical"


def test_the_sampled_shortcut_keeps_the_rule_on_large_columns() -> None:
    """Above 10 000 rows a seeded sample skips the exact count for text columns (an identifier
    column of 50 000 distinct strings passes); one stray word among 50 000 numbers is still
    found, with its row."""
    n = 50_000
    ids = pd.DataFrame({"id": [f"user-{i}" for i in range(n)]})
    sources.check_features(ids, ["id"], [], "big.csv")
    numbers = pd.Series([f"{v:.5f}" for v in _numbers(n)], dtype=object)
    numbers.iloc[41_234] = "n/a"
    with pytest.raises(DataError, match=r"'n/a' \(row 41235\) among 49999 numbers"):
        sources.check_features(pd.DataFrame({"x": numbers}), ["x"], [], "big.csv")


def test_a_cycle_with_a_mixed_reference_fails_with_the_reason(tmp_path: Path) -> None:
    """In a cycle the reference side is refused too, and the run records why."""
    reference = synth.make_reference(400, seed=1, end=NOW - timedelta(days=1))
    reference["income"] = reference["income"].astype(str)
    reference.loc[7, "income"] = "unknown"
    result = _check(_cycle_config(tmp_path, reference))
    assert result["status"] == "failed"
    assert "column 'income' mixes numbers and text: 'unknown' (row 8)" in result["error"]


# --- 1. config: timestamp collisions and a cron that never fires ------------------------------


_CONFIG = """registry = "r.db"
[[models]]
name = "m"
{schedule}
[models.data]
reference = "r.csv"
live = "l.csv"
timestamp = "{timestamp}"
target = "y"
window = "1d"
{data}
"""


def _validate(
    tmp_path: Path, schedule: str = 'every = "1h"', timestamp: str = "ts", data: str = ""
) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "c.toml"
    path.write_text(_CONFIG.format(schedule=schedule, timestamp=timestamp, data=data))
    return _run("validate", str(path))


def test_timestamp_equal_to_target_is_refused(tmp_path: Path) -> None:
    """One column cannot be both the time and the label (validate used to say ok)."""
    proc = _validate(tmp_path, timestamp="y")
    assert proc.returncode == 78
    assert "models[0].data.target: must differ from data.timestamp" in proc.stderr


def _problems(tmp_path: Path, schedule: str = 'every = "1h"', data: str = "") -> list[str]:
    """The loader's problems for a config file (the same loader `validate` runs, in-process)."""
    path = tmp_path / "c.toml"
    path.write_text(_CONFIG.format(schedule=schedule, timestamp="ts", data=data))
    try:
        config.load(path)
    except ConfigError as exc:
        return list(exc.problems)
    return []


def test_timestamp_or_target_listed_among_features_or_categorical_is_refused(
    tmp_path: Path,
) -> None:
    """A feature (listed in data.features, or in data.categorical when features are implicit)
    that is the timestamp or the target column is refused, whichever list names it."""
    assert "models[0].data.features: 'ts' is the timestamp or target column (got 'ts')" in (
        _problems(tmp_path, data='features = ["ts", "a"]')
    )
    assert _problems(tmp_path, data='categorical = ["y"]') == [
        "models[0].data.categorical: 'y' is the timestamp or target column (got 'y')"
    ]


def test_validate_refuses_a_cron_that_can_never_fire(tmp_path: Path) -> None:
    """`driftd validate` used to accept "0 0 30 feb *": a model that is never checked."""
    proc = _validate(tmp_path, schedule='cron = "0 0 30 feb *"')
    _one_line_error(proc, 78, "models[0].cron: names no date that exists")


@pytest.mark.parametrize("cron", ["0 0 31 apr,jun,sep,nov *", "0 0 30-31 2 *", "0 0 31 feb mon"])
def test_every_dateless_cron_is_refused(tmp_path: Path, cron: str) -> None:
    """Any day/month combination that no calendar holds, written any way, is refused."""
    assert _problems(tmp_path, schedule=f'cron = "{cron}"') == [
        "models[0].cron: names no date that exists (day, month and day_of_week must all "
        f"match): never fires (got {cron!r})"
    ]


@pytest.mark.parametrize(
    "cron", ["0 0 29 feb *", "0 0 13 * fri", "0 0 last feb *", "0 6 * * sun", "0 0 29 feb sat"]
)
def test_a_rare_but_real_cron_is_accepted(tmp_path: Path, cron: str) -> None:
    """Leap days (even on a Saturday: 2020), Friday the 13th and the last day of February
    happen: accepted."""
    assert _problems(tmp_path, schedule=f'cron = "{cron}"') == []


# --- 2. nested Parquet columns ------------------------------------------------------------------


def test_nested_parquet_columns_in_drift_are_a_one_line_error(tmp_path: Path) -> None:
    """Lists and structs used to end in `TypeError: unhashable type` with a traceback."""
    n = 100
    path = tmp_path / "nested.parquet"
    table = pa.table({"x": _numbers(n), "tags": pa.array([[1, 2]] * n)})
    pq.write_table(table, path)
    line = _one_line_error(_run("drift", str(path), str(path)), 2, "nested.parquet")
    assert "column 'tags' holds nested values (a list in row 1)" in line
    struct = tmp_path / "struct.parquet"
    pq.write_table(pa.table({"x": _numbers(n), "s": pa.array([{"a": 1}] * n)}), struct)
    line = _one_line_error(_run("drift", str(struct), str(struct)), 2)
    assert "column 's' holds nested values (a dict (struct) in row 1)" in line
    proc = _run("drift", str(path), str(path), "--exclude", "tags")
    assert proc.returncode == 0, proc.stderr  # the way out the message suggests works


def test_a_cycle_on_nested_parquet_is_recorded_with_the_reason(tmp_path: Path) -> None:
    """The failed run says which column is nested instead of `internal error: TypeError`."""
    reference = synth.make_reference(400, seed=1, end=NOW - timedelta(days=1))
    live = synth.make_stream(NOW - timedelta(days=1), 1, timedelta(days=1), 200, None, seed=2)
    for frame, name in ((reference, "ref.parquet"), (live, "live.parquet")):
        table = pa.Table.from_pandas(frame, preserve_index=False)
        pq.write_table(table.append_column("tags", pa.array([[1]] * len(frame))), tmp_path / name)
    config = _cycle_config(tmp_path, None, reference_path="ref.parquet", live='"live.parquet"')
    result = _check(config)
    assert result["status"] == "failed"
    assert "column 'tags' holds nested values" in result["error"]
    assert not result["error"].startswith("internal error")
    status = json.loads(_run("status", "--json", "--config", str(config)).stdout)
    assert "holds nested values" in status["models"][0]["last_error"]["error"]


# --- 2. integers and clocks out of range --------------------------------------------------------


def test_integer_arguments_beyond_sqlite_are_one_line_errors(tmp_path: Path) -> None:
    """`history --limit` with 21 digits used to raise OverflowError from sqlite3."""
    config = _cycle_config(tmp_path, synth.make_reference(50, seed=1, end=NOW))
    for args, word in (
        (("history", "--limit", "123456789012345678901"), "--limit: must be between 1 and"),
        (("history", "--limit", "0"), "--limit: must be between 1 and"),
        (("gc", "--keep", "123456789012345678901"), "--keep: must be between 0 and"),
        (("reproduce", "m-v1", "--tolerance", "nan"), "--tolerance: must be a finite number"),
    ):
        _one_line_error(_run(*args, "--config", str(config)), 2, word)


@pytest.mark.parametrize(
    "now",
    [
        "0001-01-01T00:00:00",
        "0001-01-01T00:00:00+05:00",
        "9999-12-31T23:59:59",
        "9999-12-31T23:59:59-12:00",
    ],
)
def test_a_clock_at_the_edge_of_the_calendar_is_refused(tmp_path: Path, now: str) -> None:
    """Year 1 used to fail the cycle as `internal error: OverflowError`; data times live in
    1677-2262, so --now outside that range is refused before any cycle starts."""
    config = _cycle_config(tmp_path, synth.make_reference(50, seed=1, end=NOW))
    proc = _run("check", "--now", now, "--config", str(config))
    _one_line_error(proc, 2, "--now: must be between 1678-01-01 and 2262-01-01")


def test_a_window_reaching_past_the_calendar_fails_the_cycle_with_a_reason(
    tmp_path: Path,
) -> None:
    """`window = "999999999d"` reaches before year 1 from any --now: the run is recorded as
    failed with a one-line reason naming the keys, not `internal error: OverflowError`."""
    config = _cycle_config(tmp_path, synth.make_reference(50, seed=1, end=NOW))
    config.write_text(config.read_text().replace('window = "1d"', 'window = "999999999d"'))
    proc = _run("check", "--now", NOW.isoformat(), "--json", "--config", str(config))
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    (result,) = json.loads(proc.stdout)
    assert result["status"] == "failed"
    assert result["error"] == (
        "data.window x (drift.background_windows + 2) reaches before 1678-01-01 from "
        "2026-01-03: shorten it"
    )


# --- 4. validate runs no code it was not asked to run --------------------------------------------


def test_validate_does_not_import_a_non_sklearn_estimator(tmp_path: Path) -> None:
    """A package named as the estimator is refused without being imported: its import-time
    code (here, writing a marker file) never runs."""
    package = tmp_path / "site" / "evilpkg"
    package.mkdir(parents=True)
    marker = tmp_path / "RAN"
    package.joinpath("__init__.py").write_text(
        f"import pathlib\npathlib.Path({str(marker)!r}).write_text('ran')\n"
        "class Thing:\n    def fit(self): ...\n    def get_params(self): ...\n"
    )
    config = tmp_path / "c.toml"
    config.write_text(
        _CONFIG.format(schedule='every = "1h"', timestamp="ts", data="")
        + '[models.training]\nestimator = "evilpkg.Thing"\n'
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "site")}
    proc = subprocess.run(
        [*driftd(), "validate", str(config)], capture_output=True, text=True, env=env, check=False
    )
    assert proc.returncode == 78
    assert "estimator: not a scikit-learn class" in proc.stderr
    assert not marker.exists()


# --- 5. files that are not files ----------------------------------------------------------------


def test_a_config_that_is_a_fifo_is_refused_at_once(tmp_path: Path) -> None:
    """`validate` on a FIFO used to block forever waiting for a writer."""
    fifo = tmp_path / "config.toml"
    os.mkfifo(fifo)
    proc = _run("validate", str(fifo), timeout=30)
    _one_line_error(proc, 78, "config.toml: not a regular file (it is a FIFO)")
    proc = _run("status", "--config", str(tmp_path), timeout=30)
    _one_line_error(proc, 78, "not a regular file (it is a directory)")


def test_a_registry_that_is_a_directory_is_named_as_such_by_every_command(
    tmp_path: Path,
) -> None:
    """It used to read "disk I/O error (disk full...)"; every command now says what it is."""
    config = _cycle_config(tmp_path, synth.make_reference(50, seed=1, end=NOW))
    (tmp_path / "registry.db").mkdir()
    for command in (["status"], ["history"], ["verify"], ["check", "--now", NOW.isoformat()]):
        proc = _run(*command, "--config", str(config))
        _one_line_error(
            proc, 2, "registry.db: the registry is not a regular file (it is a directory)"
        )


def test_a_registry_that_is_not_sqlite_exits_3_everywhere(tmp_path: Path) -> None:
    """`verify` used to exit 1 where `status` and `check` exit 3: one condition, one code.
    verify still lists what it found (on stdout, and as JSON with ``corrupt: true``)."""
    config = _cycle_config(tmp_path, synth.make_reference(50, seed=1, end=NOW))
    (tmp_path / "registry.db").write_bytes(b"this is not a database, " * 100)
    for command in (["status"], ["history"], ["check", "--now", NOW.isoformat()]):
        proc = _run(*command, "--config", str(config))
        _one_line_error(proc, 3, "registry.db", "not a database")
    proc = _run("verify", "--config", str(config))
    assert proc.returncode == 3, proc.stderr
    assert "registry.db: file is not a database" in proc.stdout
    report = json.loads(_run("verify", "--json", "--config", str(config)).stdout)
    assert report["corrupt"] is True and report["ok"] is False


# --- 6. no numpy warnings on stderr -------------------------------------------------------------


def test_values_near_the_float_limit_leave_stderr_silent(tmp_path: Path) -> None:
    """150 000 values of order 1e307 with calibrated thresholds: the verdict comes out, and
    stderr holds nothing (numpy's RuntimeWarning used to leak there)."""
    rng = np.random.default_rng(0)
    ref, live = tmp_path / "big_ref.csv", tmp_path / "big_live.csv"  # not the config's files
    pd.DataFrame({"x": rng.normal(size=150_000) * 1e307}).to_csv(ref, index=False)
    pd.DataFrame({"x": rng.normal(size=150_000) * 1e307 + 5e307}).to_csv(live, index=False)
    config = _cycle_config(tmp_path, synth.make_reference(50, seed=1, end=NOW))
    text = config.read_text() + '\n[models.drift]\nnumeric_threshold = "auto"\n'
    config.write_text(text)
    proc = _run("drift", str(ref), str(live), "--config", str(config), "--model", "m")
    assert proc.returncode in (0, 1), proc.stderr
    assert proc.stderr == ""


def test_values_near_the_float_limit_on_the_default_path_leave_stderr_silent(
    tmp_path: Path,
) -> None:
    """Values up to 1.79e308 (both signs) in reference and live: a verdict, and no warning."""
    rng = np.random.default_rng(1)
    ref, live = tmp_path / "ref.csv", tmp_path / "live.csv"
    pd.DataFrame({"x": rng.uniform(1.0e308, 1.79e308, 500)}).to_csv(ref, index=False)
    pd.DataFrame({"x": rng.uniform(-1.79e308, -1.0e308, 500)}).to_csv(live, index=False)
    proc = _run("drift", str(ref), str(live), "--json")
    assert proc.returncode in (0, 1), proc.stderr
    assert proc.stderr == ""
    assert json.loads(proc.stdout)["features"][0]["feature"] == "x"


# --- helpers ------------------------------------------------------------------------------------


def _cycle_config(
    tmp_path: Path,
    reference: pd.DataFrame | None,
    *,
    live: str | None = None,
    reference_path: str = "reference.csv",
) -> Path:
    """A one-model config over ``reference`` and a live window ending at NOW (synth rows)."""
    if reference is not None:
        reference.to_csv(tmp_path / reference_path, index=False)
    if live is None:
        stream = synth.make_stream(NOW - timedelta(days=1), 1, timedelta(days=1), 200, None, seed=2)
        stream.to_csv(tmp_path / "live.csv", index=False)
        live = '"live.csv"'
    config = tmp_path / "config.toml"
    config.write_text(
        f'registry = "registry.db"\n[[models]]\nname = "m"\nevery = "1d"\n'
        f'[models.data]\nreference = "{reference_path}"\nlive = {live}\n'
        'timestamp = "ts"\ntarget = "label"\nwindow = "1d"\ncategorical = ["plan", "region"]\n'
    )
    return config


def _check(config: Path) -> dict[str, object]:
    proc = _run("check", "--now", NOW.isoformat(), "--json", "--config", str(config))
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    (result,) = json.loads(proc.stdout)
    return dict(result)
