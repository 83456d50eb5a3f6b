"""The README agrees with the code: the configuration reference, and links that resolve.

The configuration reference is a set of tables whose rows read
``| `models.drift.alpha` | float | `0.05` | meaning |``. The key table (driftd/config/keys.py) is
the one source of each key's type and default: every key has a row whose type and default cells
are exactly the table's, and every field of the config dataclasses is a key of the table whose
default it holds. The README once said 0.1 where the code used 0.05.
"""

from __future__ import annotations

import dataclasses
import re
import typing
from pathlib import Path
from typing import Any

import pytest

from driftd.config import Config, ModelConfig, Schedule, SourceConfig
from driftd.config.keys import KEYS
from driftd.config.models import default_workers
from driftd.config.spec import DERIVED, REQUIRED

README = Path(__file__).resolve().parents[1] / "README.md"
ROW = re.compile(r"^\| `(?P<key>[a-z_.]+)` \| (?P<type>[^|]*) \| (?P<default>[^|]*) \|")


def _section(text: str, title: str) -> str:
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def documented() -> dict[str, tuple[str, str]]:
    """Key path -> (type cell, default cell), from the tables of the configuration reference."""
    rows = {}
    text = _section(README.read_text(encoding="utf-8"), "Configuration reference")
    for line in text.splitlines():
        match = ROW.match(line)
        if match:
            rows[match["key"]] = (match["type"].strip(), match["default"].strip())
    return rows


def code_fields() -> dict[str, dataclasses.Field[Any]]:
    """Key path -> the dataclass field that holds it: nested dataclasses (and tuples of them)
    are tables, Schedule's fields sit flat in [[models]]."""

    def walk(owner: type, prefix: str) -> dict[str, dataclasses.Field[Any]]:
        out: dict[str, dataclasses.Field[Any]] = {}
        hints = typing.get_type_hints(owner)
        for f in dataclasses.fields(owner):
            hint, args = hints[f.name], typing.get_args(hints[f.name])
            inner = args[0] if typing.get_origin(hint) is tuple and args else None
            if f.name in ("models", "source"):  # the array walked below; the loader's own
                continue
            if hint is Schedule:
                out |= walk(Schedule, prefix)
            elif dataclasses.is_dataclass(hint) and hint is not SourceConfig:  # a value
                out |= walk(hint, f"{prefix}{f.name}.")
            elif inner is not None and dataclasses.is_dataclass(inner):
                out |= walk(inner, f"{prefix}{f.name}.")
            else:
                out[f"{prefix}{f.name}"] = f
        return out

    return walk(Config, "") | walk(ModelConfig, "models.")


def _default(field: dataclasses.Field[Any]) -> Any:
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return dataclasses.MISSING


def test_every_key_has_a_row() -> None:
    """Each key of the key table has a row in the configuration reference, and only those."""
    assert set(documented()) == set(KEYS)


@pytest.mark.parametrize("key", sorted(KEYS))
def test_the_documented_type_and_default_are_the_key_tables(key: str) -> None:
    """The type and default cells say exactly what the key table says."""
    type_cell, default_cell = documented()[key]
    assert (type_cell, default_cell) == (KEYS[key].type, KEYS[key].cell)


MEANING = re.compile(r"^\| `(?P<key>[a-z_.]+)` \|[^|]*\|[^|]*\| (?P<meaning>.*) \|$")


def meanings() -> dict[str, str]:
    """Key path -> the meaning cell; "As `other.key`..." rows stand for the other key's cell."""
    rows = {}
    text = _section(README.read_text(encoding="utf-8"), "Configuration reference")
    for line in text.splitlines():
        match = MEANING.match(line)
        if match:
            rows[match["key"]] = match["meaning"]
    for key, cell in rows.items():
        alias = re.match(r"As `([a-z_.]+)`", cell)
        if alias and alias[1] in rows:
            rows[key] = f"{cell} {rows[alias[1]]}"
    return rows


def _number(value: float) -> str:
    """A bound as the README writes it: ``1``, ``0.5``, ``1e9``."""
    if float(value).is_integer():
        whole = int(value)
        return (
            f"{whole:.0e}".replace("e+0", "e").replace("e+", "e")
            if abs(whole) >= 10**6
            else str(whole)
        )
    return repr(float(value))


def range_text(key: str) -> str | None:
    """The key table's bounds as the README states them: "In `(0, 1)`", "`>= 1`", "<= 10"."""
    spec = KEYS[key]
    if spec.lo is not None and spec.hi is not None:
        left, right = "(" if spec.open_lo else "[", ")" if spec.open_hi else "]"
        return f"In `{left}{_number(spec.lo)}, {_number(spec.hi)}{right}`"
    if spec.lo is not None:
        return f"{'>' if spec.open_lo else '>='} {_number(spec.lo)}"
    if spec.hi is not None:
        return f"{'<' if spec.open_hi else '<='} {_number(spec.hi)}"
    return None


@pytest.mark.parametrize("key", sorted(KEYS))
def test_the_documented_range_and_choices_are_the_key_tables(key: str) -> None:
    """The meaning cell states the bounds the reader enforces and names every allowed choice,
    so a bound or choice changed in the key table alone fails here."""
    cell = meanings()[key]
    bound = range_text(key)
    assert bound is None or bound in cell, f"{key}: README lacks {bound!r}: {cell}"
    missing = [c for c in KEYS[key].choices if f"`{c}`" not in cell]
    assert not missing, f"{key}: README does not name {missing}: {cell}"


def test_the_range_check_sees_a_wrong_bound() -> None:
    """The checker itself: alpha's open interval, a lower bound alone, and a huge bound."""
    assert range_text("models.drift.alpha") == "In `(0, 1)`"
    assert range_text("models.drift.min_samples") == ">= 1"
    assert range_text("models.promotion.min_improvement") == "In `[-1e9, 1e9]`"
    assert range_text("models.drift.alpha") not in "Significance level. In `[0, 1]`."


def test_every_dataclass_field_is_a_key_of_the_table() -> None:
    """A field added to a config dataclass without a key-table entry (or the reverse) fails."""
    assert set(code_fields()) == set(KEYS)


@pytest.mark.parametrize("key", sorted(KEYS))
def test_the_dataclass_default_is_the_key_tables(key: str) -> None:
    """What the dataclass holds when the key is left out is the table's default, as loaded."""
    spec, held = KEYS[key], _default(code_fields()[key])
    if spec.default is REQUIRED or key == "artifacts":  # artifacts: beside registry, by the loader
        assert held is dataclasses.MISSING
    elif spec.default is DERIVED:
        assert key == "daemon.workers" and held == default_workers()
    else:
        assert held == spec.loaded and type(held) is type(spec.loaded)


def test_the_reference_check_sees_a_wrong_default() -> None:
    """The checker itself: the row the README once had (alpha 0.1) would not pass."""
    assert KEYS["models.drift.alpha"].cell == "`0.05`"
    assert KEYS["models.data.features"].cell.startswith("every column")
    assert KEYS["models.policy.max_age"].cell == "unset"
    assert KEYS["models.data.window"].cell == "required"


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(text: str) -> set[str]:
    anchors: set[str] = set()
    in_code = False
    for line in text.splitlines():
        in_code ^= line.startswith("```")
        heading = re.match(r"#{1,6} (.*)", line)
        if heading and not in_code:
            slug = base = _slug(heading[1])
            n = 0
            while slug in anchors:  # GitHub numbers repeated headings: x, x-1, x-2
                n += 1
                slug = f"{base}-{n}"
            anchors.add(slug)
    return anchors


def test_every_relative_link_resolves() -> None:
    """Links to files exist beside the README; links to #anchors name a heading."""
    text = README.read_text(encoding="utf-8")
    anchors = _anchors(text)
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):  # http:, https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        resolves = (README.parent / path).exists() if path else anchor in anchors
        if not resolves:
            broken.append(target)
    assert not broken, f"README links that resolve nowhere: {broken}"


def test_the_link_check_sees_broken_links() -> None:
    """The checker itself: a made-up file and a made-up anchor are both caught."""
    assert "configuration-reference" in _anchors("## Configuration reference\n")
    assert _slug("Garbage collection: `driftd gc`") == "garbage-collection-driftd-gc"
    assert "nowhere" not in _anchors(README.read_text(encoding="utf-8"))
    assert not (README.parent / "config.md").exists()
