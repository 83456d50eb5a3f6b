"""``driftd systemd print|install``: the unit, sysusers snippet and example config shipped as
package data, written with ExecStart at the installed ``driftd``; the installed unit passes
``systemd-analyze verify`` and keeps its exposure at most 1.5."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "driftd" / "systemd_files"
DRIFTD = Path(sys.executable).parent / "driftd"  # the test venv's console script
ANALYZE = shutil.which("systemd-analyze")
needs_analyze = pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed")
MAX_EXPOSURE = 1.5


def _driftd(*args: str, rc: int = 0) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [str(DRIFTD), *args], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == rc, proc.stderr + proc.stdout
    return proc


def _analyze(*args: str) -> subprocess.CompletedProcess[str]:
    assert ANALYZE is not None
    env = {**os.environ, "LC_ALL": "C"}
    return subprocess.run(
        [ANALYZE, *args], capture_output=True, text=True, timeout=60, check=False, env=env
    )


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``driftd systemd install --prefix ROOT`` run once by the venv's real ``driftd``."""
    if not DRIFTD.exists():
        pytest.skip(f"{DRIFTD} is not installed (pip install -e .)")
    prefix = tmp_path_factory.mktemp("root")
    out = _driftd("systemd", "install", "--prefix", str(prefix)).stdout
    assert out.count("wrote ") == 4, out
    return prefix


def test_files_are_package_data_and_the_top_level_copies_are_the_same() -> None:
    """pyproject ships driftd/systemd_files/* in the wheel; systemd/ at the top level holds
    the same bytes (links to them), so the README's source-checkout paths still work."""
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "systemd_files/*" in data["tool"]["setuptools"]["package-data"]["driftd"]
    for name in ("driftd.service", "driftd-notify-failure@.service", "driftd.sysusers"):
        assert (ROOT / "systemd" / name).read_bytes() == (SHIPPED / name).read_bytes()
    assert (SHIPPED / "config.example.toml").is_file()


def test_install_writes_four_files_with_exec_start_at_this_driftd(installed: Path) -> None:
    """Each unit (the daemon and its OnFailure= handler) differs from the shipped one only in
    ExecStart, which runs this venv's driftd; sysusers goes to sysusers.d as driftd.conf; the
    config is the example, mode 0640."""
    strip = re.compile(r"(?m)^ExecStart=.*$")
    expected = {
        "driftd.service": " run --config /etc/driftd/config.toml",
        "driftd-notify-failure@.service": " notify failure --config /etc/driftd/config.toml",
    }
    for name, tail in expected.items():
        unit = (installed / "etc/systemd/system" / name).read_text(encoding="utf-8")
        (exec_start,) = re.findall(r"(?m)^ExecStart=(.*)$", unit)
        assert exec_start.startswith(f"{DRIFTD.absolute()}{tail}"), exec_start
        shipped = (SHIPPED / name).read_text(encoding="utf-8")
        assert strip.sub("", unit) == strip.sub("", shipped)
    sysusers = installed / "etc/sysusers.d/driftd.conf"
    assert sysusers.read_bytes() == (SHIPPED / "driftd.sysusers").read_bytes()
    config = installed / "etc/driftd/config.toml"
    assert config.read_bytes() == (SHIPPED / "config.example.toml").read_bytes()
    assert config.stat().st_mode & 0o777 == 0o640


def test_print_matches_install_and_an_existing_config_is_kept(
    installed: Path, tmp_path: Path
) -> None:
    """``print`` shows what ``install`` writes; a second install keeps the edited config; the
    example config validates."""
    unit = installed / "etc/systemd/system/driftd.service"
    assert _driftd("systemd", "print").stdout == unit.read_text(encoding="utf-8")
    handler = installed / "etc/systemd/system/driftd-notify-failure@.service"
    printed = _driftd("systemd", "print", "--file", "notify-failure").stdout
    assert printed == handler.read_text(encoding="utf-8")
    printed = _driftd("systemd", "print", "--file", "config").stdout
    assert printed == (SHIPPED / "config.example.toml").read_text(encoding="utf-8")
    prefix = tmp_path / "root"
    _driftd("systemd", "install", "--prefix", str(prefix))
    config = prefix / "etc/driftd/config.toml"
    config.write_text(config.read_text() + "\n# edited\n", encoding="utf-8")
    out = _driftd("systemd", "install", "--prefix", str(prefix)).stdout
    assert f"kept      {config} (exists)" in out
    assert config.read_text().endswith("# edited\n")
    assert "ok (1 model(s): churn)" in _driftd("validate", str(config)).stdout


def test_a_driftd_under_home_is_warned_about(tmp_path: Path) -> None:
    """An ExecStart under /home (hidden by ProtectHome=yes) gets a warning on stderr; a
    relative path is refused in one line (exit 2)."""
    proc = _driftd("systemd", "print", "--executable", "/home/alice/venv/bin/driftd")
    assert "ExecStart=/home/alice/venv/bin/driftd run" in proc.stdout
    assert "warning: /home/alice/venv/bin/driftd is under /home/" in proc.stderr
    bad = _driftd("systemd", "print", "--executable", "bin/driftd", rc=2)
    assert "absolute path" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


@needs_analyze
def test_the_installed_unit_verifies_silently(installed: Path) -> None:
    """``systemd-analyze verify`` on the installed unit prints nothing (any output is a
    failure: verify exits 0 after "ignoring" a bad line); ExecStart's binary exists."""
    result = _analyze("verify", "--man=no", str(installed / "etc/systemd/system/driftd.service"))
    output = (result.stdout + result.stderr).strip()
    assert result.returncode == 0 and output == "", output


@needs_analyze
def test_the_installed_on_failure_handler_verifies_silently(
    installed: Path, tmp_path: Path
) -> None:
    """An instance of the installed ``OnFailure=`` template (as ``OnFailure=...@%n.service``
    names it for driftd.service) passes ``systemd-analyze verify`` with no output."""
    handler = installed / "etc/systemd/system/driftd-notify-failure@.service"
    instance = tmp_path / "driftd-notify-failure@driftd.service.service"
    instance.write_text(handler.read_text(encoding="utf-8"), encoding="utf-8")
    result = _analyze("verify", "--man=no", str(instance))
    output = (result.stdout + result.stderr).strip()
    assert result.returncode == 0 and output == "", output


@needs_analyze
def test_the_installed_unit_exposure_is_at_most_1_5(installed: Path) -> None:
    """``systemd-analyze security --offline=yes`` rates the installed unit at most 1.5."""
    unit = installed / "etc/systemd/system/driftd.service"
    result = _analyze("security", "--offline=yes", "--no-pager", str(unit))
    assert result.returncode == 0, result.stderr
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)
    assert match is not None, result.stdout[-500:]
    assert float(match.group(1)) <= MAX_EXPOSURE, result.stdout
