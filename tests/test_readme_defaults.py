"""The README agrees with the code: configuration defaults, and links that resolve (issue 11.9).

The configuration reference is a set of tables whose rows read
``| `models.drift.alpha` | float | `0.05` | meaning |``. Each default cell is compared with the
dataclass default the loader uses: a backticked TOML value is converted the way the loader
converts it (durations to ``timedelta``, arrays to tuples), ``required`` means the field has no
default, ``unset`` means ``None``. The few defaults written as prose are listed here with the
value they stand for. The README once said 0.1 where the code used 0.05.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
import typing
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from driftd import config as cfg_mod
from driftd.config import Config, ModelConfig, Schedule
from driftd.durations import parse_duration

README = Path(__file__).resolve().parents[1] / "README.md"
ROW = re.compile(r"^\| `(?P<key>[a-z_.]+)` \| [^|]* \| (?P<default>[^|]*) \|")
# Defaults written in words: key -> the field value they describe.
PROSE = {
    "artifacts": "derived",  # `artifacts/` beside `registry`: filled in by the loader
    "models.data.features": None,  # every column except timestamp and target
    "models.data.labelled": None,  # `live`: the live source holds the labels
}


def _section(text: str, title: str) -> str:
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def documented_defaults() -> dict[str, str]:
    """Key path -> the default cell, from the tables of the configuration reference."""
    rows = {}
    for line in _section(
        README.read_text(encoding="utf-8"), "Configuration reference"
    ).splitlines():
        match = ROW.match(line)
        if match:
            rows[match["key"]] = match["default"].strip()
    return rows


def code_fields() -> dict[str, dataclasses.Field[Any]]:
    """Key path -> the dataclass field that holds it (Schedule's fields sit in [[models]])."""
    fields = {f.name: f for f in dataclasses.fields(Config) if f.name not in ("models", "source")}
    hints = typing.get_type_hints(ModelConfig, vars(cfg_mod))
    for f in dataclasses.fields(ModelConfig):
        hint = hints[f.name]
        if hint is Schedule:
            fields |= {f"models.{s.name}": s for s in dataclasses.fields(Schedule)}
        elif dataclasses.is_dataclass(hint):
            fields |= {f"models.{f.name}.{s.name}": s for s in dataclasses.fields(hint)}
        else:
            fields[f"models.{f.name}"] = f
    return fields


def _default(field: dataclasses.Field[Any]) -> Any:
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return dataclasses.MISSING


def _as_loaded(documented: Any, default: Any) -> Any:
    """The documented TOML value as the loader would hold it, given the field's default."""
    if isinstance(default, timedelta):
        return timedelta(0) if documented == 0 else parse_duration(documented)
    if isinstance(default, tuple) and isinstance(documented, list):
        return tuple(documented)
    if isinstance(default, float) and type(documented) is int:
        return float(documented)
    return documented


def _expected(key: str, cell: str, field: dataclasses.Field[Any]) -> Any:
    if key in PROSE:
        return PROSE[key]
    if cell == "required":
        return dataclasses.MISSING
    if cell.startswith("unset"):
        return None
    literal = re.match(r"`([^`]+)`", cell)
    assert literal, f"{key}: cannot read the default {cell!r}; write a TOML value in backticks"
    documented = tomllib.loads(f"v = {literal[1]}")["v"]
    return _as_loaded(documented, _default(field))


def test_every_key_has_a_row_with_a_default() -> None:
    """Each key the loader reads has a row in the configuration reference, and only those."""
    assert set(documented_defaults()) == set(code_fields())


@pytest.mark.parametrize("key", sorted(documented_defaults()))
def test_the_documented_default_is_the_code_default(key: str) -> None:
    """The default column says what the dataclass holds when the key is left out."""
    field = code_fields()[key]
    expected = _expected(key, documented_defaults()[key], field)
    if expected == "derived":
        assert _default(field) is dataclasses.MISSING  # computed by the loader, not a constant
        return
    assert _default(field) == expected, f"README says {documented_defaults()[key]!r}"


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
