"""Drift test and effect names are checked when the config is loaded, not at the first check."""

from __future__ import annotations

import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest

from driftd import config, stats
from driftd.errors import ConfigError

DEMO = resources.files("driftd").joinpath("demo_config.toml").read_text(encoding="utf-8")
CHECKS = config.NameChecks(test=stats.test_problem)


def _write(tmp_path: Path, drift_lines: str) -> Path:
    text = DEMO.replace("[models.drift]\n", f"[models.drift]\n{drift_lines}\n", 1)
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('numeric_test = "kss"', "models[0].drift.numeric_test: unknown test 'kss'"),
        ('numeric_effect = "ks"', "models[0].drift.numeric_effect: ks is a significance test"),
        ('categorical_test = "ks"', "models[0].drift.categorical_test: ks does not apply"),
        ('categorical_effect = "wasserstein"', "models[0].drift.categorical_effect:"),
    ],
)
def test_unknown_or_misplaced_test_names_are_config_errors(
    tmp_path: Path, line: str, expected: str
) -> None:
    """Each wrong name is reported with its key path and the names that would fit."""
    with pytest.raises(ConfigError) as info:
        config.load(_write(tmp_path, line), CHECKS)
    assert any(p.startswith(expected) for p in info.value.problems), info.value.problems


def test_every_registered_name_in_its_role_loads(tmp_path: Path) -> None:
    """Every test in the table is accepted where it applies."""
    for kind in ("numeric", "categorical"):
        for role, key in (("test", f"{kind}_test"), ("effect", f"{kind}_effect")):
            for name in stats.names(stats.FeatureKind(kind), role):
                cfg = config.load(_write(tmp_path, f'{key} = "{name}"'), CHECKS)
                assert getattr(cfg.models[0].drift, key) == name


def test_validate_command_exits_78_naming_the_key(tmp_path: Path) -> None:
    """`driftd validate` on a config with a misspelt test: exit 78, one line naming the key."""
    path = _write(tmp_path, 'numeric_test = "kolmogorov"')
    proc = subprocess.run(
        [sys.executable, "-m", "driftd", "validate", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 78
    assert "models[0].drift.numeric_test: unknown test 'kolmogorov'" in proc.stderr


def test_repository_config_is_the_packaged_demo_config() -> None:
    """config.toml at the root and driftd/demo_config.toml (what `driftd demo` runs) are one
    file in two places: editing one without the other fails here."""
    root = Path(__file__).resolve().parents[1] / "config.toml"
    assert root.read_text(encoding="utf-8") == DEMO
