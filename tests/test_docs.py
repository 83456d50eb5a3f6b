"""Every config key is documented: the key list is derived from the config dataclasses.

The expected spelling is the key's full dotted TOML path in backticks, e.g. `registry`,
`models.every`, `models.drift.alpha`, plus the table headers `[[models]]` and `[models.drift]`
(also in backticks). Adding a field to a config dataclass without documenting it fails here.
"""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path

import pytest

from driftd import config as cfg_mod
from driftd.config import Config, ModelConfig, Schedule
from driftd.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]
DOCUMENTS = {"README.md": REPO / "README.md"}

# Dataclass fields that are not TOML keys: filled in by the loader itself.
NOT_KEYS = {(Config, "source")}


def _sections() -> dict[str, type]:
    """[[models]] sub-tables by TOML name -> dataclass (DataConfig, DriftConfig, ...)."""
    hints = typing.get_type_hints(ModelConfig, vars(cfg_mod))
    return {
        f.name: hints[f.name]
        for f in dataclasses.fields(ModelConfig)
        if dataclasses.is_dataclass(hints[f.name]) and hints[f.name] is not Schedule
    }


def _keys(cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(cls) if (cls, f.name) not in NOT_KEYS]


def toml_keys() -> list[str]:
    """Every key the loader reads, as a dotted path, in dataclass order; headers in brackets."""
    keys = [k for k in _keys(Config) if k != "models"] + ["[[models]]"]
    for name in _keys(ModelConfig):
        hint = typing.get_type_hints(ModelConfig, vars(cfg_mod))[name]
        if hint is Schedule:  # Schedule's fields are written flat in [[models]]
            keys += [f"models.{k}" for k in _keys(Schedule)]
        elif name in _sections():
            keys.append(f"[models.{name}]")
            keys += [f"models.{name}.{k}" for k in _keys(_sections()[name])]
        else:
            keys.append(f"models.{name}")
    return keys


def test_key_list_is_derived_as_expected() -> None:
    """The derivation itself: flat schedule keys, section headers, no loader-only fields."""
    keys = toml_keys()
    assert keys[: keys.index("[[models]]") + 1] == [
        "registry",
        "artifacts",
        "log_level",
        "group",
        "[[models]]",
    ]
    assert {"models.name", "models.every", "models.cron", "models.misfire_grace"} <= set(keys)
    assert {"models.jitter", "[models.data]", "models.data.reference", "models.drift.alpha"} <= set(
        keys
    )
    assert "source" not in keys and "models.schedule" not in keys


def test_derived_keys_are_the_keys_the_loader_reads(tmp_path: Path) -> None:
    """No derived key is an `unknown key` to the loader, so the docs test checks real names."""
    leaves = [k for k in toml_keys() if not k.startswith("[")]
    top = "\n".join(f"{k} = {{}}" for k in leaves if "." not in k)
    flat = "\n".join(f"{k.split('.')[1]} = {{}}" for k in leaves if k.count(".") == 1)
    text = f"{top}\n[[models]]\n{flat}\n"
    for section in _sections():
        inner = [k.split(".")[2] for k in leaves if k.startswith(f"models.{section}.")]
        text += f"[models.{section}]\n" + "\n".join(f"{k} = {{}}" for k in inner) + "\n"
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:  # {} is the wrong type for most keys
        cfg_mod.load(path)
    unknown = [p for p in info.value.problems if "unknown key" in p]
    assert unknown == []


@pytest.mark.parametrize("document", sorted(DOCUMENTS))
def test_every_config_key_is_documented(document: str) -> None:
    """Each TOML key appears as its dotted path in backticks, e.g. `models.drift.alpha`."""
    path = DOCUMENTS[document]
    assert path.exists(), f"{document} does not exist yet"
    text = path.read_text(encoding="utf-8")
    missing = [key for key in toml_keys() if f"`{key}`" not in text]
    assert missing == [], f"{document} does not document: {', '.join(missing)}"


def test_every_registered_drift_test_is_documented() -> None:
    """Each name in the stats table has a row in the README's table of tests and its own
    paragraph, so a new test cannot land undocumented."""
    from driftd import stats

    text = DOCUMENTS["README.md"].read_text(encoding="utf-8")
    for name in stats.TESTS:
        assert f"| `{name}` |" in text, f"{name}: no row in the README's table of tests"
        assert f"* **`{name}`**" in text, f"{name}: no paragraph in the README"
