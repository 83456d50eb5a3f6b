"""The README's Python examples run: the "Python API" section's doctests pass as written, and its
other Python blocks at least compile (the model server is run by tests/test_champion.py)."""

from __future__ import annotations

import doctest
import os
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCK = re.compile(r"^```python\n(.*?)^```$", re.M | re.S)


def section(title: str) -> str:
    """The README's text from ``## title`` (or ``### title``) to the next heading as high."""
    text = README.read_text(encoding="utf-8")
    match = re.search(rf"^(#+) {re.escape(title)}\n", text, re.M)
    assert match, f"README has no section {title!r}"
    level = len(match.group(1))
    rest = text[match.end() :]
    end = re.search(rf"^#{{1,{level}}} ", rest, re.M)
    return rest[: end.start()] if end else rest


def python_blocks(title: str) -> list[str]:
    return BLOCK.findall(section(title))


def test_the_python_api_examples_pass_as_doctests(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every `>>>` example of "Python API" gives the output the README shows (compare, config,
    status, history, the Registry's refusals, load_champion, the exception's exit code)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DRIFTD_CONFIG", raising=False)
    examples = [b for b in python_blocks("Python API") if b.lstrip().startswith(">>>")]
    assert len(examples) >= 2
    parser = doctest.DocTestParser()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    # One doctest: the blocks share their names, as a reader's session would.
    test = parser.get_doctest("\n".join(examples), {}, "README Python API", str(README), 0)
    runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.attempted >= 15
    assert result.failed == 0


def test_the_other_python_blocks_compile() -> None:
    """The plain Python blocks of "Python API" and "Serving the champion" are valid Python."""
    blocks = [b for b in python_blocks("Python API") if not b.lstrip().startswith(">>>")]
    blocks += python_blocks("Serving the champion")
    assert len(blocks) >= 2
    for text in blocks:
        compile(text, "README.md", "exec")


def test_import_driftd_is_light_and_exports_what_all_lists() -> None:
    """`import driftd` loads no submodule; every name in `__all__` resolves, and `dir` lists it."""
    import subprocess
    import sys

    code = (
        "import sys, driftd\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('driftd.') or m == 'pandas')\n"
        "print(','.join(loaded))\n"
        "missing = [n for n in driftd.__all__ if getattr(driftd, n, None) is None]\n"
        "print(missing, set(driftd.__all__) <= set(dir(driftd)))\n"
        "print(issubclass(driftd.NotFoundError, driftd.DriftdError), driftd.Registry.__module__)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "DRIFTD_CONFIG"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    first, second, third = out.stdout.splitlines()
    assert first == ""
    assert second == "[] True"
    assert third == "True driftd.api"
    package = Path(__file__).resolve().parents[1] / "driftd"
    assert (package / "py.typed").is_file()


def test_validate_config_checks_estimator_names_load_config_does_not(tmp_path: Path) -> None:
    """validate_config refuses an estimator scikit-learn lacks (ConfigError, exit 78) as
    `driftd validate` does; load_config accepts the same file (structure only); driftd.check
    given the path refuses it before any cycle, as `driftd check` does."""
    import driftd

    path = tmp_path / "config.toml"
    path.write_text(
        'registry = "r.db"\nartifacts = "a"\n[[models]]\nname = "m"\nevery = "1h"\n'
        '[models.data]\nreference = "ref.csv"\nlive = "live.csv"\ntimestamp = "ts"\n'
        'target = "y"\nwindow = "1d"\n[models.training]\n'
        'estimator = "sklearn.linear_model.NoSuchRegression"\n',
        encoding="utf-8",
    )
    assert [m.name for m in driftd.load_config(path).models] == ["m"]
    with pytest.raises(driftd.ConfigError) as info:
        driftd.validate_config(path)
    assert info.value.exit_code == 78
    assert any("NoSuchRegression" in p for p in info.value.problems)
    with pytest.raises(driftd.ConfigError, match="NoSuchRegression"):
        driftd.check(path)
    assert not (tmp_path / "r.db").exists()  # refused before the registry was created


def test_compare_reads_files_as_frames_and_refuses_other_values(tmp_path: Path) -> None:
    """driftd.compare gives the same report for two CSV paths as for the frames they hold, and a
    value that is neither a DataFrame nor a path is a DataError naming the argument (it was an
    AttributeError from inside the engine)."""
    import numpy as np
    import pandas as pd

    import driftd

    rng = np.random.default_rng(3)
    reference = pd.DataFrame({"x": rng.normal(0, 1, 600), "plan": rng.choice(["a", "b"], 600)})
    live = pd.DataFrame({"x": rng.normal(0.5, 1, 600), "plan": rng.choice(["a", "b"], 600)})
    reference.to_csv(tmp_path / "ref.csv", index=False)
    live.to_csv(tmp_path / "live.csv", index=False)
    from_files = driftd.compare(tmp_path / "ref.csv", str(tmp_path / "live.csv"))
    from_frames = driftd.compare(reference, live)
    assert from_files.drifted == from_frames.drifted == ("x",)
    assert str(from_files.verdict) == str(from_frames.verdict) == "drift"
    with pytest.raises(driftd.DataError, match=r"^live: expected a pandas DataFrame .* got list$"):
        driftd.compare(reference, [1, 2, 3])  # type: ignore[arg-type]
