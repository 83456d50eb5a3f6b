"""Prometheus metrics from a registry built by real `driftd check --now` cycles.

The registry (tests/metrics_support.py) holds a bootstrap check (ok, churn-v1) and a drifted
check whose candidate churn-v2 was rejected. Values are compared with what `driftd check --json`
printed for those checks and with the registry's rows read directly through sqlite3; the text is
parsed with prometheus_client's own parser and validated with `promtool check metrics`.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import socket
import sqlite3
import stat
import subprocess
import time
from datetime import datetime
from pathlib import Path

import pytest
from cli_support import driftd, run
from metrics_support import BOOT_AT, DRIFT_AT, TEXTFILE, Built, build, config_text, copy
from prometheus_client.parser import text_string_to_metric_families

from driftd import config, metrics

PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    return build(tmp_path_factory.getbasetemp() / "metrics-registry")


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of an exposition, keyed by name and label set."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(
    found: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return found[(name, frozenset(labels.items()))]


def by_name(
    found: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str
) -> dict[frozenset[tuple[str, str]], float]:
    return {labels: v for (n, labels), v in found.items() if n == name}


def test_metrics_show_the_newest_check(built: Built) -> None:
    """`driftd metrics` reports the drifted check: verdict state-set, dataset p-value and share
    from the registry, and each feature's effect, threshold, p-values and state exactly as
    `driftd check --json` printed them."""
    text = run(built.config, "metrics", rc=0).stdout
    found = samples(text)
    verdicts = {dict(k)["verdict"]: v for k, v in by_name(found, "driftd_dataset_verdict").items()}
    assert verdicts == {"ok": 0.0, "drift": 1.0, "invalid": 0.0, "insufficient_data": 0.0}
    with sqlite3.connect(built.registry) as conn:
        p, share = conn.execute(
            "SELECT json_extract(report, '$.p_value'), drifted_share FROM checks "
            "ORDER BY id DESC LIMIT 1"
        ).fetchone()
    conn.close()
    assert value(found, "driftd_dataset_p_value", model="churn") == p
    assert value(found, "driftd_dataset_drifted_features_ratio", model="churn") == share
    features = built.drift["features"]
    assert value(found, "driftd_features_monitored", model="churn") == len(features)
    drifted = [f for f in features if f["state"] == "drift"]
    assert value(found, "driftd_features_drifted", model="churn") == len(drifted) > 0
    assert value(found, "driftd_features_omitted", model="churn") == 0
    for f in features:
        name = f["feature"]
        effect = value(
            found,
            "driftd_feature_effect_size",
            model="churn",
            feature=name,
            effect=f["effect_name"],
        )
        assert effect == pytest.approx(f["effect"], rel=1e-12)
        assert value(found, "driftd_feature_effect_threshold", model="churn", feature=name) == (
            pytest.approx(f["threshold"], rel=1e-12)
        )
        assert value(found, "driftd_feature_p_value", model="churn", feature=name) == (
            pytest.approx(f["p_value"], rel=1e-12)
        )
        assert value(found, "driftd_feature_p_value_adjusted", model="churn", feature=name) == (
            pytest.approx(f["p_adjusted"], rel=1e-12)
        )
        states = {
            dict(k)["state"]: v
            for k, v in by_name(found, "driftd_feature_state").items()
            if dict(k)["feature"] == name
        }
        assert states[f["state"]] == 1.0 and sum(states.values()) == 1.0 and len(states) == 4


def test_metrics_count_decisions_and_show_the_champion(built: Built) -> None:
    """Counters: two cycles (one ok, one drift), one bootstrap promotion, one rejection, two
    successful trainings, no failure; the champion is churn-v1 with its age at the newest run's
    clock (DRIFT_AT - BOOT_AT); performance rows come from the drifted check's extras."""
    found = samples(run(built.config, "metrics", rc=0).stdout)
    assert value(found, "driftd_runs_total", model="churn", status="ok") == 1
    assert value(found, "driftd_runs_total", model="churn", status="drift") == 1
    assert value(found, "driftd_runs_total", model="churn", status="failed") == 0
    assert value(found, "driftd_checks_total", model="churn", verdict="drift") == 1
    assert value(found, "driftd_promotions_total", model="churn") == 1
    assert value(found, "driftd_rejections_total", model="churn") == 1
    assert value(found, "driftd_failures_total", model="churn") == 0
    assert value(found, "driftd_trainings_total", model="churn", status="ok") == 2
    assert value(found, "driftd_decisions_total", model="churn", action="reject") == 1
    assert value(found, "driftd_champion_info", model="churn", version="churn-v1") == 1
    assert value(found, "driftd_champion_version_number", model="churn") == 1
    age = (DRIFT_AT - BOOT_AT).total_seconds()
    assert value(found, "driftd_champion_age_seconds", model="churn") == age
    assert value(found, "driftd_champion_since_timestamp_seconds", model="churn") == (
        BOOT_AT.timestamp()
    )
    assert value(found, "driftd_last_check_data_timestamp_seconds", model="churn") == (
        DRIFT_AT.timestamp()
    )
    extras = {e["feature"]: e for e in built.drift["extra"]}
    realised = next(e for name, e in extras.items() if name.startswith("performance:"))
    metric = realised["feature"].removeprefix("performance:")
    assert value(found, "driftd_realised_performance", model="churn", metric=metric) == (
        pytest.approx(realised["statistic"], rel=1e-12)
    )
    assert value(found, "driftd_realised_performance_drop", model="churn", metric=metric) == (
        pytest.approx(realised["effect"], rel=1e-12)
    )
    estimated = [e for name, e in extras.items() if name.startswith("estimated:")]
    assert estimated
    for e in estimated:
        metric = e["feature"].removeprefix("estimated:")
        assert value(found, "driftd_estimated_performance", model="churn", metric=metric) == (
            pytest.approx(e["effect"], rel=1e-12)
        )
    with sqlite3.connect(built.registry) as conn:
        start, end = (
            datetime.fromisoformat(t).timestamp()
            for t in conn.execute(
                "SELECT started_at, finished_at FROM runs ORDER BY id DESC LIMIT 1"
            ).fetchone()
        )
    conn.close()
    duration = value(found, "driftd_last_check_duration_seconds", model="churn")
    assert duration == pytest.approx(end - start, abs=1e-6) and duration > 0
    assert value(found, "driftd_last_success_timestamp_seconds", model="churn") == (
        pytest.approx(end, abs=1e-3)
    )
    # No daemon ran: its families are declared without samples.
    assert not by_name(found, "driftd_daemon_heartbeat_timestamp_seconds")


def test_check_writes_the_textfile_atomically_and_readably(built: Built) -> None:
    """`driftd check` with metrics.textfile leaves the exposition there, mode 0644 (node_exporter
    runs as another user), identical to `driftd metrics`, and no temp file beside it."""
    text = built.textfile.read_text(encoding="utf-8")
    assert text == run(built.config, "metrics", rc=0).stdout
    assert stat.S_IMODE(built.textfile.stat().st_mode) == 0o644
    assert sorted(p.name for p in built.textfile.parent.iterdir()) == ["driftd.prom"]


@pytest.mark.skipif(not os.path.exists(PROMTOOL), reason="promtool (Debian prometheus) absent")
def test_promtool_accepts_the_exposition(built: Built) -> None:
    """`promtool check metrics` finds no problem (names, units, HELP, counter suffixes)."""
    for text in (run(built.config, "metrics", rc=0).stdout, built.textfile.read_text()):
        proc = subprocess.run(
            [PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True, check=False
        )
        assert proc.returncode == 0 and not proc.stdout.strip(), proc.stdout + proc.stderr


def test_max_features_caps_feature_series(built: Built, tmp_path: Path) -> None:
    """With max_features = 2 only two features keep per-feature series: the drifted ones with
    the largest effect relative to their threshold; the rest are counted as omitted."""
    cfg = copy(built, tmp_path / "capped", "max_features = 2\n")
    found = samples(run(cfg, "metrics", rc=0).stdout)
    features = built.drift["features"]
    ranked = sorted(
        features, key=lambda f: (f["state"] != "drift", -f["effect"] / f["threshold"], f["feature"])
    )
    kept = {dict(k)["feature"] for k in by_name(found, "driftd_feature_effect_threshold")}
    assert kept == {f["feature"] for f in ranked[:2]}
    assert len(by_name(found, "driftd_feature_state")) == 2 * 4
    assert value(found, "driftd_features_omitted", model="churn") == len(features) - 2
    assert value(found, "driftd_features_monitored", model="churn") == len(features)


def test_metrics_out_writes_a_file_and_an_empty_registry_still_answers(
    built: Built, tmp_path: Path
) -> None:
    """`driftd metrics --out FILE` writes the same text; a config whose registry does not exist
    yet prints build info and `driftd_registry_readable 1` with no model series."""
    out = tmp_path / "x" / "m.prom"
    run(built.config, "metrics", "--out", str(out), rc=0)
    assert out.read_text() == run(built.config, "metrics", rc=0).stdout
    empty = tmp_path / "empty.toml"
    empty.write_text(
        (built.config.read_text()).replace('registry = "state/registry.db"', 'registry = "none.db"')
    )
    found = samples(run(empty, "metrics", rc=0).stdout)
    assert value(found, "driftd_registry_readable") == 1
    assert not by_name(found, "driftd_runs_total")


def test_textfile_failure_never_raises(
    built: Built, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A textfile that cannot be written (its directory is a regular file) is logged as
    `metrics.textfile_failed`; after_cycle returns normally, so the cycle is not failed."""
    blocker = tmp_path / "file"
    blocker.write_text("")
    cfg = config.load(copy(built, tmp_path / "bad", f'textfile = "{blocker}/sub/driftd.prom"\n'))
    with caplog.at_level(logging.ERROR, logger="driftd"):
        metrics.after_cycle(cfg)
    assert "metrics.textfile_failed" in caplog.text
    assert not (blocker.parent / "sub").exists()


def test_unreadable_registry_answers_with_readable_zero(tmp_path: Path) -> None:
    """A registry file that is not SQLite still yields an exposition, saying readable 0, so a
    scrape reports the problem instead of failing."""
    bad = tmp_path / "registry.db"
    bad.write_bytes(b"not a database at all" * 100)
    found = samples(metrics.exposition(bad))
    assert value(found, "driftd_registry_readable") == 0


def test_daemon_refuses_to_start_when_the_endpoint_cannot_listen(
    built: Built, tmp_path: Path
) -> None:
    """metrics.listen on a port another socket holds: `driftd run` exits 2 at start-up with one
    line naming the key and the address, rather than running without its endpoint."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        cfg = copy(built, tmp_path / "busy", f'listen = "127.0.0.1:{port}"\n')
        proc = run(cfg, "run", rc=2, timeout=120)
    # (Other lines before it may be warnings of the start-up sweep about the copied artifacts.)
    assert proc.stderr.splitlines()[-1] == (
        f"driftd: metrics.listen: cannot listen on 127.0.0.1:{port}: Address already in use"
    )


ANALYZE = shutil.which("systemd-analyze")


@pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze not installed")
def test_readme_endpoint_drop_in_verifies_and_stays_sandboxed(tmp_path: Path) -> None:
    """The README's metrics drop-in, applied to the shipped unit (appended to [Service], as a
    drop-in's later assignments act): `systemd-analyze verify` is silent and the exposure
    score stays at most 1.5, the unit test's limit."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("\n## Metrics\n") : readme.index("\n## Timeline\n")]
    block = section[section.index("```ini\n") + 7 :]
    drop_in = "\n".join(line.strip() for line in block[: block.index("```")].splitlines())
    assert drop_in.startswith("[Service]\n") and "IPAddressAllow=localhost" in drop_in
    unit = (REPO / "systemd" / "driftd.service").read_text(encoding="utf-8")
    unit = re.sub(r"(?m)^ExecStart=\S+", f"ExecStart={shutil.which('true')}", unit)
    merged = unit.replace("\n[Install]", drop_in.removeprefix("[Service]") + "\n[Install]")
    path = tmp_path / "driftd.service"
    path.write_text(merged, encoding="utf-8")
    env = {**os.environ, "LC_ALL": "C"}
    verify = subprocess.run(
        [ANALYZE, "verify", "--man=no", str(path)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert verify.returncode == 0 and not (verify.stdout + verify.stderr).strip()
    security = subprocess.run(
        [ANALYZE, "security", "--offline=yes", "--no-pager", str(path)],
        check=False,
        capture_output=True,
        text=True,
        env=env,
    )
    score = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", security.stdout)
    assert score is not None and float(score.group(1)) <= 1.5, security.stdout[-300:]


def test_daemon_rewrites_the_textfile_after_a_cycle(built: Built, tmp_path: Path) -> None:
    """`driftd run` writes the textfile when a cycle ends, also a failed one: on a fresh registry
    its first cycle runs at once on the wall clock, finds no live rows (the data ends in
    January 2026) and fails, and the textfile then counts that failure."""
    root = tmp_path / "fresh"
    root.mkdir()
    (root / "data").symlink_to(built.root / "data")
    (root / "config.toml").write_text(config_text(), encoding="utf-8")
    textfile = root / TEXTFILE
    proc = subprocess.Popen(
        [*driftd(), "run", "--config", str(root / "config.toml")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        while not textfile.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert textfile.exists(), f"no textfile; daemon exit {proc.poll()}"
        found = samples(textfile.read_text(encoding="utf-8"))
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=60)
    assert value(found, "driftd_failures_total", model="churn") == 1
    assert value(found, "driftd_runs_total", model="churn", status="failed") == 1
    assert not by_name(found, "driftd_dataset_verdict")  # a failed run records no check
    assert proc.returncode == 0, err.decode()
