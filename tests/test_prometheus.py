"""A real Prometheus server scrapes driftd's two outputs and answers PromQL with a known check.

On 127.0.0.1, each on a free port, the test starts:

- the real daemon, ``driftd run``, with ``metrics.listen`` on a copy of the registry built by
  tests/metrics_support.py (no cycle is due, so the registry keeps its two checks);
- node_exporter (Debian ``prometheus-node-exporter``) reading the textfile ``driftd check``
  wrote, or, without it, ``python -m http.server`` serving that file;
- Prometheus (Debian ``prometheus``) with a temporary config scraping both every second;

then asserts through ``/api/v1/query`` that both jobs report the drifted check's verdict, a
feature's effect size exactly as ``driftd check --json`` printed it, the decision counters,
the champion and its age, and (daemon only) a fresh heartbeat.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_support import driftd
from metrics_support import BOOT_AT, DRIFT_AT, Built, build, copy

PROMETHEUS = "/usr/bin/prometheus"
NODE_EXPORTER = "/usr/bin/prometheus-node-exporter"
WAIT_S = 90.0  # generous: the shared CI machine can be slow to start three servers

pytestmark = pytest.mark.skipif(
    not os.path.exists(PROMETHEUS), reason="Prometheus (Debian package prometheus) not installed"
)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    return build(tmp_path_factory.getbasetemp() / "metrics-registry")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read())


def query(base: str, promql: str) -> list[dict[str, Any]]:
    data = get(f"{base}/api/v1/query?{urllib.parse.urlencode({'query': promql})}")
    assert data["status"] == "success", data
    result: list[dict[str, Any]] = data["data"]["result"]
    return result


def wait_for(what: str, probe: Any, procs: list[subprocess.Popen[bytes]]) -> Any:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        for p in procs:
            assert p.poll() is None, f"{p.args[0]} exited with {p.returncode} waiting for {what}"
        try:
            found = probe()
        except OSError:
            found = None
        if found:
            return found
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def servers(built: Built, tmp_path: Path) -> Iterator[tuple[str, list[subprocess.Popen[bytes]]]]:
    """Daemon, textfile server and Prometheus; yields Prometheus' base URL."""
    config = copy(
        built, tmp_path / "d", 'textfile = "metrics/driftd.prom"\nlisten = "127.0.0.1:0"\n'
    )
    procs: list[subprocess.Popen[bytes]] = []
    log = tmp_path / "daemon.log"
    try:
        with log.open("wb") as err:
            procs.append(
                subprocess.Popen(
                    [*driftd(), "run", "--config", str(config), "--log-level", "info"],
                    stdout=subprocess.DEVNULL,
                    stderr=err,
                )
            )
        address = wait_for(
            "the daemon's metrics.listening line",
            lambda: re.search(r"metrics\.listening address=(127\.0\.0\.1:\d+)", log.read_text()),
            procs,
        )[1]
        textfile_port = free_port()
        directory = tmp_path / "d" / "metrics"
        if os.path.exists(NODE_EXPORTER):
            argv = [
                NODE_EXPORTER,
                "--collector.disable-defaults",
                "--collector.textfile",
                f"--collector.textfile.directory={directory}",
                f"--web.listen-address=127.0.0.1:{textfile_port}",
            ]
        else:
            argv = [sys.executable, "-m", "http.server", "--bind", "127.0.0.1"]
            argv += ["--directory", str(directory), str(textfile_port)]
        procs.append(subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        path = "/metrics" if argv[0] == NODE_EXPORTER else "/driftd.prom"
        prom_port = free_port()
        (tmp_path / "prometheus.yml").write_text(
            "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
            "scrape_configs:\n"
            f"  - job_name: driftd\n    static_configs: [{{targets: ['{address}']}}]\n"
            f"  - job_name: textfile\n    metrics_path: {path}\n"
            f"    static_configs: [{{targets: ['127.0.0.1:{textfile_port}']}}]\n"
        )
        procs.append(
            subprocess.Popen(
                [
                    PROMETHEUS,
                    f"--config.file={tmp_path / 'prometheus.yml'}",
                    f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                    f"--web.listen-address=127.0.0.1:{prom_port}",
                    "--log.level=warn",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        yield f"http://127.0.0.1:{prom_port}", procs
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def by_job(result: list[dict[str, Any]]) -> dict[str, float]:
    return {r["metric"]["job"]: float(r["value"][1]) for r in result}


def test_prometheus_scrapes_endpoint_and_textfile(
    built: Built, servers: tuple[str, list[subprocess.Popen[bytes]]]
) -> None:
    """PromQL over both scraped jobs returns the values of the known drifted check."""
    base, procs = servers
    wait_for(
        "Prometheus ready", lambda: urllib.request.urlopen(f"{base}/-/ready").status == 200, procs
    )
    wait_for(
        "both jobs scraped",
        lambda: set(by_job(query(base, "driftd_registry_readable == 1"))) == {"driftd", "textfile"},
        procs,
    )
    feature = max(
        (f for f in built.drift["features"] if f["state"] == "drift"), key=lambda f: f["effect"]
    )
    queries = {
        'driftd_dataset_verdict{model="churn",verdict="drift"}': 1.0,
        f'driftd_feature_effect_size{{model="churn",feature="{feature["feature"]}"}}': feature[
            "effect"
        ],
        f'driftd_feature_state{{model="churn",feature="{feature["feature"]}",state="drift"}}': 1.0,
        'driftd_rejections_total{model="churn"}': 1.0,
        'driftd_promotions_total{model="churn"}': 1.0,
        'driftd_champion_info{model="churn",version="churn-v1"}': 1.0,
        'driftd_champion_age_seconds{model="churn"}': (DRIFT_AT - BOOT_AT).total_seconds(),
    }
    for promql, expected in queries.items():
        got = by_job(query(base, promql))
        print(f"{promql} -> {got}")
        assert got == {"driftd": expected, "textfile": expected}, promql
    fresh = by_job(query(base, "time() - driftd_daemon_heartbeat_timestamp_seconds"))
    print(f"time() - driftd_daemon_heartbeat_timestamp_seconds -> {fresh}")
    assert set(fresh) == {"driftd"} and 0 <= fresh["driftd"] < 60
