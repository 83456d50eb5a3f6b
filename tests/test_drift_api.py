"""``driftd drift`` is a shell over ``driftd.compare``/``driftd.comparison`` (issue 13 item 2):
the same inputs give the same report through either, the bookkeeping columns are left out the
same way, and errors name the caller's own settings (arguments in Python, flags on the CLI)."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import driftd
from driftd import cli, render

N = 800


def _frames(seed: int = 5) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A reference and a live frame with an id, a text timestamp, a shifted number, a stable
    category and a label."""
    rng = np.random.default_rng(seed)

    def frame(start: int, shift: float) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "order_id": range(start, start + N),
                "ts": pd.date_range("2026-01-01", periods=N, freq="min")
                .shift(start, freq="min")
                .strftime("%Y-%m-%dT%H:%M:%SZ"),
                "x": rng.normal(shift, 1, N),
                "plan": rng.choice(["basic", "pro", "team"], N),
                "label": rng.integers(0, 2, N),
            }
        )

    return frame(0, 0.0), frame(N, 0.4)


def _files(tmp_path: Path) -> tuple[str, str]:
    reference, live = _frames()
    reference.to_csv(tmp_path / "ref.csv", index=False)
    live.to_csv(tmp_path / "live.csv", index=False)
    return str(tmp_path / "ref.csv"), str(tmp_path / "live.csv")


def _cli_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, object]]:
    rc = cli.main(["drift", *args, "--json"])
    return rc, json.loads(capsys.readouterr().out)


def test_the_cli_prints_what_comparison_returns(tmp_path: Path) -> None:
    """A real ``driftd drift REF LIVE --exclude label --json`` (no config) prints exactly
    ``driftd.comparison(REF, LIVE, exclude=["label"]).to_dict()``: the same features, tests,
    p-values and verdict, and the same ``left_out`` (the id and the timestamp); its exit code
    is the report's (1: ``x`` drifted); stderr names the left-out columns and ``--keep``."""
    ref, live = _files(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "driftd", "drift", ref, live, "--exclude", "label", "--json"],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    found = driftd.comparison(ref, live, exclude=["label"])
    assert proc.returncode == 1, proc.stderr
    assert json.loads(proc.stdout) == json.loads(render.to_json(found.to_dict()))
    assert found.left_out == {"order_id": "named like an identifier", "ts": "holds timestamps"}
    assert found.report.drifted == ("x",)
    assert "left out order_id (named like an identifier), ts (holds timestamps); compare one " \
        "anyway with --keep COLUMN" in proc.stderr  # fmt: skip


def test_compare_and_the_cli_agree_on_keep_categorical_and_frames(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With ``--keep ts --categorical order_id``, the CLI and ``driftd.compare`` on the frames
    themselves give the same report (a column named in ``categorical`` is compared, not left
    out); ``compare`` warns (UserWarning) naming what it leaves out, and is silent when
    nothing is."""
    ref, live = _files(tmp_path)
    rc, printed = _cli_json(capsys, ref, live, "--keep", "ts", "--categorical", "order_id")
    reference, current = pd.read_csv(ref), pd.read_csv(live)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing is left out: no warning
        report = driftd.compare(reference, current, keep=["ts"], categorical=["order_id"])
    assert printed["left_out"] == {}
    expected = json.loads(render.to_json(report.to_dict()))
    assert {k: v for k, v in printed.items() if k != "left_out"} == expected
    assert rc == (1 if report.drifted else 0)
    names = {f["feature"] for f in expected["features"]}  # type: ignore[union-attr]
    assert names == {"order_id", "ts", "x", "plan", "label"}
    with pytest.warns(UserWarning, match=r"^left out order_id \(named like an identifier\), ts "):
        default = driftd.compare(reference, current)
    assert {f.feature for f in default.features} == {"x", "plan", "label"}


def test_with_a_config_both_take_the_models_settings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``driftd drift --config C`` takes the model's ``[models.drift]``, leaves out its
    timestamp and target and guesses nothing (``order_id`` is compared); ``driftd.compare``
    with that model's ``drift``, ``exclude`` and ``drop_bookkeeping=False`` gives the same
    report. A lenient threshold turns the verdict, so the setting demonstrably arrives."""
    ref, live = _files(tmp_path)
    config = tmp_path / "config.toml"
    config.write_text(
        'registry = "r.db"\nartifacts = "a"\n[[models]]\nname = "m"\nevery = "1h"\n'
        '[models.data]\nreference = "ref.csv"\nlive = "live.csv"\ntimestamp = "ts"\n'
        'target = "label"\nwindow = "1d"\n[models.drift]\nnumeric_threshold = 5.0\n',
        encoding="utf-8",
    )
    rc, printed = _cli_json(capsys, ref, live, "--config", str(config))
    model = driftd.load_config(config).model("m")
    found = driftd.comparison(
        ref, live, exclude=["ts", "label"], drift=model.drift, drop_bookkeeping=False
    )
    assert printed == json.loads(render.to_json(found.to_dict()))
    assert "order_id" in {f["feature"] for f in printed["features"]}  # type: ignore[attr-defined]
    assert "x" not in found.report.drifted  # 0.4 sd is under the threshold of 5
    with pytest.warns(UserWarning, match="left out order_id"):
        assert "x" in driftd.compare(ref, live, exclude=["label"]).drifted
    assert rc == (1 if found.report.drifted else 0)


def test_errors_name_the_callers_settings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A datetime column kept in the comparison is refused naming ``exclude=``/
    ``categorical=`` for a Python caller and ``--exclude``/``--categorical`` on the command
    line (never the config keys the caller has no config for); an unknown ``keep`` names
    ``keep`` or ``--keep``."""
    reference, live = _frames()
    for frame in (reference, live):
        frame["when"] = pd.to_datetime(frame["ts"])
    reference.to_parquet(tmp_path / "ref.parquet", index=False)
    live.to_parquet(tmp_path / "live.parquet", index=False)
    with pytest.raises(driftd.DataError) as info:
        driftd.compare(reference, live, keep=["when"], exclude=["ts"])
    assert str(info.value).startswith("reference: column 'when' has dtype datetime64")
    assert str(info.value).endswith(
        "; leave it out (exclude=[...]) or compare its values as categories (categorical=[...])"
    )
    with pytest.raises(driftd.DataError, match=r"^keep: no column 'nope' in the reference$"):
        driftd.compare(reference, live, keep=["nope"])

    files = [str(tmp_path / "ref.parquet"), str(tmp_path / "live.parquet")]
    assert cli.main(["drift", *files, "--keep", "when", "--exclude", "ts"]) == 2
    err = capsys.readouterr().err
    assert "column 'when' has dtype datetime64" in err
    assert "leave it out (--exclude) or compare its values as categories (--categorical)" in err
    assert "data." not in err
    assert cli.main(["drift", *files, "--keep", "nope"]) == 2
    assert "driftd: --keep: no column 'nope' in the reference" in capsys.readouterr().err


def test_compare_on_the_dask_engine_agrees_and_wants_a_path(tmp_path: Path) -> None:
    """``driftd.compare(..., engine="dask")`` (what ``driftd drift --engine dask`` calls) gives
    the pandas engine's feature states for the same Parquet files and leaves out the same
    columns; a live frame is refused naming the argument (the dask engine reads a path)."""
    reference, live = _frames()
    reference.to_parquet(tmp_path / "ref.parquet", index=False)
    live.to_parquet(tmp_path / "live.parquet", index=False)
    ref, cur = str(tmp_path / "ref.parquet"), str(tmp_path / "live.parquet")
    on_dask = driftd.comparison(ref, cur, exclude=["label"], engine="dask")
    on_pandas = driftd.comparison(ref, cur, exclude=["label"])
    assert (
        on_dask.left_out
        == on_pandas.left_out
        == {
            "order_id": "named like an identifier",
            "ts": "holds timestamps",
        }
    )
    states = {f.feature: f.state for f in on_dask.report.features}
    assert states == {f.feature: f.state for f in on_pandas.report.features}
    assert on_dask.live is None and on_dask.to_dict()["engine"] == "dask"
    with pytest.raises(driftd.DataError, match=r"^live: the dask engine reads a Parquet path"):
        driftd.comparison(ref, live, engine="dask")
