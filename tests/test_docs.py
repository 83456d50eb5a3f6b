"""Every config key is documented: the key list comes from the key table (driftd/config/keys.py).

The expected spelling is the key's full dotted TOML path in backticks, e.g. `registry`,
`models.every`, `models.drift.alpha`, plus the table headers `[[models]]` and `[models.drift]`
(also in backticks). A key added to the table without documentation fails here;
tests/test_readme_defaults.py checks that the dataclasses and the table agree.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from driftd import config as cfg_mod
from driftd.config.keys import KEYS, tables
from driftd.config.spec import ARRAY_TABLES
from driftd.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]
DOCUMENTS = {"README.md": REPO / "README.md"}


def _header(table: str) -> str:
    return f"[[{table}]]" if table in ARRAY_TABLES else f"[{table}]"


def toml_keys() -> list[str]:
    """Every key the loader reads, as a dotted path, table by table; headers in brackets."""
    keys: list[str] = []
    for table in tables():
        if table:
            keys.append(_header(table))
        keys += [path for path, key in KEYS.items() if key.table == table]
    return keys


def test_key_list_is_derived_as_expected() -> None:
    """The derivation itself: flat schedule keys, section headers, no loader-only fields."""
    keys = toml_keys()
    assert keys[:4] == ["registry", "artifacts", "log_level", "group"]
    assert {"[metrics]", "metrics.listen", "[[notify]]", "notify.url"} <= set(keys)
    assert "daemon.workers" in keys
    assert {"[[models.notify]]", "models.notify.events", "models.data.engine"} <= set(keys)
    assert {"models.name", "models.every", "models.cron", "models.misfire_grace"} <= set(keys)
    assert {"models.jitter", "[models.data]", "models.data.reference", "models.drift.alpha"} <= set(
        keys
    )
    assert "source" not in keys and "models.schedule" not in keys


def test_derived_keys_are_the_keys_the_loader_reads(tmp_path: Path) -> None:
    """No derived key is an `unknown key` to the loader, so the docs test checks real names."""
    keys = toml_keys()
    leaves = [k for k in keys if not k.startswith("[")]
    text = "\n".join(f"{k} = {{}}" for k in leaves if "." not in k) + "\n"
    for header in [k for k in keys if k.startswith("[")]:
        table = header.strip("[]")
        inner = [k for k in leaves if k.rpartition(".")[0] == table]
        text += f"{header}\n" + "\n".join(f"{k.rpartition('.')[2]} = {{}}" for k in inner) + "\n"
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
