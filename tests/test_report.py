"""The HTML report: stored summaries, size bound, escaping, and the page in a real browser.

The browser is Debian's headless Chromium (``/usr/bin/chromium``) driven by Playwright; every
page opened fails the test on any console or page error. The end-to-end test builds its
registry through real ``driftd check --now`` cycles and is marked slow (a cycle takes seconds);
the size bound is measured on a 100-feature, 50-check registry written through the library's
own write path (``Registry.record_check``), as 50 cycles would write it.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from driftd import synth
from driftd.domain import DriftReport, FeatureDrift, FeatureKind, FeatureState, Verdict
from driftd.errors import DriftdError
from driftd.publish import build
from driftd.registry.store import Registry
from driftd.report.summarize import MAX_BINS, MAX_LEVELS, QUANTILES, categorical, numeric

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
import report_bench  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="no /usr/bin/chromium (Debian package `chromium`)"
)
NOW = datetime(2026, 1, 11, tzinfo=UTC)


# --- summaries ------------------------------------------------------------------------------


def test_numeric_summary_counts_every_finite_value_and_matches_numpy_quantiles() -> None:
    """Shared edges (<= 64 bins) hold every finite value of each side, outliers in the outer
    bins; quantiles are numpy's; NaN and infinities count as missing."""
    rng = np.random.default_rng(1)
    ref = pd.Series(np.r_[rng.normal(0, 1, 5000), [np.nan, np.inf, 1e9]])
    live = pd.Series(np.r_[rng.normal(0.5, 1, 3000), [np.nan] * 7])
    s = numeric(ref, live)
    assert 2 <= len(s["edges"]) <= MAX_BINS + 1
    assert s["reference"]["missing"] == 2 and s["live"]["missing"] == 7
    assert sum(s["reference"]["counts"]) == 5001 and sum(s["live"]["counts"]) == 3000
    assert s["reference"]["max"] == 1e9  # the outlier is kept as the extreme...
    assert s["edges"][-1] < 10  # ...without flattening the histogram
    finite = live.to_numpy()[np.isfinite(live.to_numpy())]
    np.testing.assert_allclose(s["live"]["quantiles"], np.quantile(finite, QUANTILES), rtol=1e-5)


def test_summary_size_does_not_grow_with_rows() -> None:
    """A thousand rows and a million give summaries of the same size (the bound of the report)."""
    rng = np.random.default_rng(2)
    small = json.dumps(numeric(pd.Series(rng.normal(size=1000)), pd.Series(rng.normal(size=1000))))
    big = json.dumps(numeric(pd.Series(rng.normal(size=10**6)), pd.Series(rng.normal(size=10**6))))
    assert len(big) < 2 * len(small) < 6000


def test_categorical_summary_keeps_the_top_levels_and_the_rest_as_other() -> None:
    """The 30 levels with the most pooled mass are counted per side, the rest is `other`; a
    level only the live side has is kept when it is frequent."""
    ref = pd.Series([f"l{i:02d}" for i in range(40) for _ in range(40 - i)] + [None] * 5)
    live = pd.Series(["new"] * 300 + ["l00"] * 10)
    s = categorical(ref, live)
    assert len(s["levels"]) == MAX_LEVELS and s["levels"][0] == "new"
    counts = ref.value_counts()
    kept = sum(int(counts.get(level, 0)) for level in s["levels"])
    assert s["reference"]["other"] == int(counts.sum()) - kept
    assert s["reference"]["missing"] == 5
    assert s["live"]["counts"][0] == 300 and s["live"]["other"] == 0


# --- the registry ---------------------------------------------------------------------------


def _report(features: list[str], reason: str = "r") -> DriftReport:
    rows = tuple(
        FeatureDrift(
            feature=f,
            kind=FeatureKind.CATEGORICAL,
            state=FeatureState.DRIFT,
            test="chi2",
            statistic=1.0,
            p_value=0.001,
            p_adjusted=0.002,
            effect_name="jensen_shannon",
            effect=0.3,
            threshold=0.05,
            n_ref=10,
            n_live=10,
            missing_ref=0.0,
            missing_live=0.0,
            new_category_mass=0.5,
            detail=reason,
        )
        for f in features
    )
    return DriftReport(Verdict.DRIFT, rows, 1.0, 0.25, "bh", 0.05, 10, 10, reason=reason)


def test_summaries_are_written_in_the_checks_transaction(tmp_path: Path) -> None:
    """A check and its summaries commit together: a summary that cannot be stored leaves no
    check row behind either."""
    db = tmp_path / "r.db"
    summary = categorical(pd.Series(["a", "b"]), pd.Series(["b", "c"]))
    with Registry.open(db) as registry:
        registry.ensure_model("m")
        run = registry.start_run("m", "check", NOW)
        check = registry.record_check(
            run, "m", _report(["x"]), breached=True, reference_sha256="0" * 64,
            summaries={"x": summary},
        )  # fmt: skip
        with pytest.raises(DriftdError):
            registry.record_check(
                run, "m", _report(["x"]), breached=True, reference_sha256="0" * 64,
                summaries={"x": {"kind": "categorical", "levels": {object()}}},
            )  # fmt: skip
    with sqlite3.connect(db) as c:
        assert c.execute("SELECT id FROM checks").fetchall() == [(check,)]
        stored = c.execute("SELECT check_id, feature, kind, summary FROM check_summaries")
        stored = stored.fetchall()
    assert [(r[0], r[1], r[2], json.loads(r[3])) for r in stored] == [
        (check, "x", "categorical", summary)
    ]


def test_report_of_100_features_and_50_checks_is_at_most_2_mb(tmp_path: Path) -> None:
    """The documented bound: one model, 100 features, 50 checks, every feature with its plot
    and timeline, in at most 2 MB of HTML."""
    db = tmp_path / "r.db"
    model = report_bench.build_registry(db, 100, 50, rows=1000, distinct=2)
    html = build(db, [model])
    assert len(html.encode()) <= 2 * 2**20
    assert html.count('<figure class="dist"') == 100
    assert html.count(': over the checks"') == 101  # 100 feature timelines and the dataset's


def _config_with_report_dir(tmp_path: Path, report_dir: Path) -> Any:
    from driftd import config

    text = (REPO / "config.toml").read_text(encoding="utf-8")
    text += f'\n[report]\ndir = "{report_dir}"\n'
    (tmp_path / "config.toml").write_text(text, encoding="utf-8")
    return config.load(tmp_path / "config.toml")


def test_report_dir_gets_the_models_report_and_a_failure_is_only_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """With `[report] dir`, after a check the model's report is written there atomically (no
    temporary file left, the registry's file mode); a directory that cannot be written is one
    `report.failed` warning and no exception, so the cycle is never failed by its report."""
    from driftd.publish import after_check

    cfg = _config_with_report_dir(tmp_path, tmp_path / "reports")
    with Registry.open(cfg.registry) as registry:
        registry.ensure_model("churn")
        run = registry.start_run("churn", "check", NOW)
        registry.record_check(
            run, "churn", _report(["plan"]), breached=True, reference_sha256="0" * 64,
            summaries={"plan": categorical(pd.Series(["a", "b"]), pd.Series(["b"]))},
        )  # fmt: skip
        registry.finish_run(run, "drift", verdict="drift")
    written = after_check(cfg, "churn")
    assert written == tmp_path / "reports" / "churn.html"
    assert '<figure class="dist" data-feature="plan">' in written.read_text(encoding="utf-8")
    assert written.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in written.parent.iterdir()] == ["churn.html"]

    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the directory should be")
    cfg = _config_with_report_dir(tmp_path, blocked)
    assert after_check(cfg, "churn") is None
    assert "report.failed" in caplog.text


# --- escaping -------------------------------------------------------------------------------

HOSTILE_FEATURE = '"><img src=x onerror="window.pwned=1">'
HOSTILE_LEVEL = "</svg><script>window.pwned=2</script>"
HOSTILE_REASON = "<b onmouseover=alert(1)>bold</b>\x1b[2J"


@pytest.fixture
def hostile_report(tmp_path: Path) -> Path:
    db = tmp_path / "r.db"
    model = "<script>window.pwned=3</script>"
    summary = categorical(pd.Series([HOSTILE_LEVEL, "ok"]), pd.Series([HOSTILE_LEVEL] * 2))
    with Registry.open(db) as registry:
        registry.ensure_model(model)
        run = registry.start_run(model, "check", NOW)
        registry.record_check(
            run, model, _report([HOSTILE_FEATURE], HOSTILE_REASON), breached=True,
            reference_sha256="0" * 64, summaries={HOSTILE_FEATURE: summary},
        )  # fmt: skip
        registry.finish_run(run, "drift", verdict="drift")
    out = tmp_path / "hostile.html"
    out.write_text(build(db), encoding="utf-8")
    return out


def test_hostile_names_are_escaped_in_the_markup(hostile_report: Path) -> None:
    """Model, feature and category names and reasons reach the page as text, never markup."""
    html = hostile_report.read_text(encoding="utf-8")
    for raw in (HOSTILE_FEATURE, HOSTILE_LEVEL, "<script>window.pwned=3", "<b onmouseover"):
        assert raw not in html
    assert "&lt;/svg&gt;&lt;script&gt;window.pwned=2&lt;/script&gt;" in html
    assert "\x1b" not in html and "\\x1b[2J" in html


# --- the browser ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium (Debian package `chromium`)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield b
        b.close()


def _open(browser: Any, path: Path, errors: list[str]) -> Any:
    page = browser.new_page(viewport={"width": 1200, "height": 1500})
    page.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"page: {e}"))
    uri = path.resolve().as_uri()
    # The report itself is the one load: anything else would be the network (or a file).
    page.on("request", lambda r: errors.append(f"request: {r.url}") if r.url != uri else None)
    page.goto(uri, wait_until="load")
    return page


def _variance(browser: Any, png: bytes) -> float:
    """The variance of a screenshot's grey levels, computed by the browser's own PNG decoder."""
    import base64

    page = browser.new_page()
    try:
        return float(
            page.evaluate(
                """async (src) => {
                const img = new Image(); img.src = src; await img.decode();
                const c = document.createElement("canvas");
                c.width = img.width; c.height = img.height;
                const g = c.getContext("2d"); g.drawImage(img, 0, 0);
                const d = g.getImageData(0, 0, c.width, c.height).data;
                let n = 0, s = 0, s2 = 0;
                for (let i = 0; i < d.length; i += 4) {
                    const v = (d[i] + d[i + 1] + d[i + 2]) / 3; n++; s += v; s2 += v * v;
                }
                return s2 / n - (s / n) ** 2;
            }""",
                "data:image/png;base64," + base64.b64encode(png).decode(),
            )
        )
    finally:
        page.close()


@needs_chromium
def test_hostile_names_run_no_script_in_chromium(browser: Any, hostile_report: Path) -> None:
    """Opened in Chromium, the hostile names show as text and none of their code runs."""
    errors: list[str] = []
    page = _open(browser, hostile_report, errors)
    assert page.evaluate("window.pwned === undefined")
    assert HOSTILE_FEATURE in page.inner_text("table.features")
    assert page.locator("figure.dist svg").count() == 1
    assert errors == []
    page.close()


def _driftd() -> list[str]:
    exe = shutil.which("driftd", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "driftd.cli"]


def _run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*_driftd(), *args], cwd=cwd, capture_output=True, text=True, timeout=600, check=False
    )


@pytest.mark.slow
@needs_chromium
def test_report_of_real_cycles_opens_in_chromium(browser: Any, tmp_path: Path) -> None:
    """Three real `driftd check --now` cycles (bootstrap, quiet, drift and promotion), then
    `driftd report`: Chromium loads it without a console error or a network request, every
    feature of the table has its plot, the sort works, and the screenshot is not blank (saved
    as docs/report.png for the README). `--run` shows a past check; `drift --html` works too."""
    text = (REPO / "config.toml").read_text(encoding="utf-8")
    text = text.replace("prediction_drift = true", "prediction_drift = false")
    (tmp_path / "config.toml").write_text(text.replace("bootstrap = 1000", "bootstrap = 200"))
    synth.write_demo_data(tmp_path / "data", NOW, rows_per_day=400, reference_rows=1500)
    for days in (9, 8, 3):
        now = (NOW - timedelta(days=days)).isoformat()
        proc = _run(tmp_path, "check", "--now", now, "--config", "config.toml")
        assert proc.returncode in (0, 1), proc.stderr
    proc = _run(tmp_path, "report", "--config", "config.toml", "--out", "report.html")
    assert proc.returncode == 0, proc.stderr
    errors: list[str] = []
    page = _open(browser, tmp_path / "report.html", errors)
    features = page.locator("table.features tbody tr td:first-child").all_inner_texts()
    assert len(features) == 8
    for name in features:
        assert page.locator(f'figure.dist[data-feature="{name}"] svg').count() == 1, name
    assert page.locator("text=promote").count() >= 1  # the drifted check's decision
    page.click("table.features th:nth-child(7)")  # sort by effect value, ascending
    values = page.locator("table.features tbody tr td:nth-child(7)").all_inner_texts()
    assert [float(v) for v in values] == sorted(float(v) for v in values)
    full = page.screenshot(full_page=True)
    assert _variance(browser, full) > 100
    docs = REPO / "docs" / "report.png"
    docs.parent.mkdir(exist_ok=True)
    page.reload(wait_until="load")
    page.screenshot(path=str(docs))
    assert 10_000 < docs.stat().st_size < 300_000
    page.close()
    assert errors == []

    proc = _run(tmp_path, "report", "--config", "config.toml", "--run", "1", "--out", "-")
    assert proc.returncode == 0 and "Check run 1 at 2026-01-02" in proc.stdout
    live = tmp_path / "data" / "live" / "2026-01-08.csv"
    html = tmp_path / "drift.html"
    args = ["--categorical", "plan", "--categorical", "region", "--exclude", "label"]
    proc = _run(tmp_path, "drift", "data/reference.csv", str(live), *args, "--html", str(html))
    assert proc.returncode in (0, 1), proc.stderr
    page = _open(browser, html, errors)
    assert page.locator("figure.dist svg").count() == len(
        page.locator("table.features tbody tr").all()
    )
    page.close()
    assert errors == []


def test_an_unwritable_out_file_is_a_one_line_error(tmp_path: Path) -> None:
    """`drift --html` (and `report --out`, through the same writer) into a directory that
    cannot exist is a one-line error naming the file, exit 2, with no traceback."""
    from driftd import report

    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the directory should be", encoding="utf-8")
    with pytest.raises(DriftdError, match=r"blocked/r\.html: cannot write: Not a directory"):
        report.write_atomic(blocked / "r.html", "<html></html>")
    rng = np.random.default_rng(0)
    for name in ("ref.csv", "live.csv"):
        pd.DataFrame({"x": rng.normal(size=200)}).to_csv(tmp_path / name, index=False)
    out = blocked / "drift.html"
    proc = _run(tmp_path, "drift", "ref.csv", "live.csv", "--html", str(out))
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip() == f"driftd: {out}: cannot write: Not a directory"


def test_next_check_comes_from_a_live_heartbeat_and_a_stale_one_is_due(tmp_path: Path) -> None:
    """The overview's next check is the live daemon's heartbeat's next run for the model; a
    next run already past (a heartbeat written before the check the report follows) is marked
    due, never shown as if it were still to come."""
    import os

    db = tmp_path / "r.db"
    with Registry.open(db) as registry:
        registry.ensure_model("churn")
        run = registry.start_run("churn", "check", NOW)
        registry.record_check(
            run, "churn", _report(["plan"]), breached=True, reference_sha256="0" * 64
        )
        registry.finish_run(run, "drift", verdict="drift")
        future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
        registry.beat(os.getpid(), "idle", next_runs={"churn": future})
        assert f"<dt>next check</dt><dd>{future}</dd>" in build(db, ["churn"])
        past = (datetime.now(UTC) - timedelta(seconds=2)).isoformat()
        registry.beat(os.getpid(), "idle", next_runs={"churn": past})
        assert f"<dt>next check</dt><dd>{past} (due, or just run)</dd>" in build(db, ["churn"])


def test_timelines_mark_each_retrain_over_the_promotion_it_made() -> None:
    """Every feature timeline and the dataset's carry a titled line per training and per
    champion change; a training at the moment of its promotion is drawn after (over) the
    promotion line, so both stay visible."""
    from driftd.report import charts, timelines

    day = [f"2026-01-0{d}T00:00:00.000Z" for d in (1, 2, 3)]
    data = {
        "checks": [
            {"id": i + 1, "at": at, "verdict": "ok", "drifted_share": 0.1, "share_threshold": 0.25}
            for i, at in enumerate(day)
        ],
        "timeline": [
            {"check_id": i + 1, "feature": "age", "effect": 0.01 * i, "threshold": 0.05}
            for i in range(3)
        ],
        "trainings": [{"at": day[1], "status": "ok", "version_id": "churn-v2"}],
        "decisions": [
            {"at": day[1], "action": "promote", "version_id": "churn-v2", "reason": "better"}
        ],
    }
    for svg in (timelines.feature_timelines(data)["age"], timelines.dataset_timeline(data)):
        promote = svg.index(f"<title>promote churn-v2 at {day[1]}: better</title>")
        retrain = svg.index(f"<title>training ok at {day[1]} -&gt; churn-v2</title>")
        assert promote < retrain
        assert svg.count(charts.RETRAIN) >= 2 and svg.count(charts.PROMOTE) >= 2  # line, legend
