"""The architecture in DESIGN.md, enforced: imports point down, and each library has one home."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "driftd"

# module (top-level name under driftd) -> layer
LAYERS = {
    "commands": 6.5,  # sub-commands outside cli.py (which builds its parser from them)
    "cli": 7,
    "daemon": 5,
    "demo": 6,
    "api": 6,  # the public Python API: over daemon, cycle and champion
    "cycle": 4,
    # Above registry and trainer (it reads one, loads with the other), below cycle and sweep
    # (which publish the pointer after a commit, and repair it at start-up).
    "champion": 3.5,
    # Dask: reads sources, counts for detect, runs the trainer's child on a worker; the cycle
    # (cycle/dask_check.py) and the CLI drive it.
    "dask": 3.5,
    # Notifications: record their deliveries in the registry; the daemon and the CLI emit them.
    "alerts": 3.25,  # below champion, whose manual decisions notify
    "bookkeeping": 1,  # which columns are timestamps or identifiers (driftd drift, no config)
    "extras": 3,
    "retention": 4,
    "publish": 4,
    "sweep": 4,
    "reproduce": 4,
    "sources": 3,
    "trainer": 3,
    "registry": 3,
    "fingerprint": 1,
    "permissions": 1,
    "synth": 3,
    "detect": 2,
    "evaluate": 2,
    "estimate": 2,
    "policy": 2,
    "render": 2,
    "report": 2,
    "lineage": 3,
    "metrics": 4,
    "stats": 1,
    "schema": 1,  # which columns are categorical: shared by detect (2) and trainer (3)
    "export_mlflow": 4,  # reads the registry; the one home of mlflow
    "config": 1,
    "durations": 0,
    "domain": 0,
    "errors": 0,
    "notify": 1,
    "lock": 1,
    "log": 1,  # imports text (escaping every logged value)
    "text": 0,
    "workqueue": 1,  # the daemon's worker threads (threading only)
    "filekind": 0,
}

# third-party library -> the driftd modules allowed to import it
HOMES = {
    "scipy": {"stats"},
    "sqlite_utils": {"registry"},
    "apscheduler": {"daemon"},
    "sklearn": {"trainer", "evaluate", "estimate"},
    "skops": {"trainer"},
    "prometheus_client": {"metrics"},
    "mlflow": {"export_mlflow"},
    "dask": {"dask"},
    "distributed": {"dask"},
}


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py"))


def _owner(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0].removesuffix(".py")


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
            if node.module == "driftd":
                names += [f"driftd.{a.name}" for a in node.names]
    return names


def test_every_module_has_a_layer() -> None:
    """A new top-level module must be placed in the layer table before it can land."""
    owners = {_owner(p) for p in _modules()} - {"__init__", "__main__"}
    assert owners <= LAYERS.keys(), f"unplaced modules: {sorted(owners - LAYERS.keys())}"


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_down(path: Path) -> None:
    """A module imports only modules of a lower layer (or its own subpackage)."""
    owner = _owner(path)
    if owner in ("__init__", "__main__"):
        return
    for name in _imports(path):
        parts = name.split(".")
        if parts[0] != "driftd" or len(parts) < 2:
            continue
        target = parts[1]
        if target in (owner, "__version__"):
            continue
        assert target in LAYERS, f"{path.name} imports unknown driftd.{target}"
        assert LAYERS[target] < LAYERS[owner], (
            f"{owner} (layer {LAYERS[owner]}) imports {target} (layer {LAYERS[target]})"
        )


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_one_home_per_library(path: Path) -> None:
    """scipy, sqlite_utils, apscheduler, sklearn and skops are each imported in one place."""
    owner = _owner(path)
    for name in _imports(path):
        lib = name.split(".")[0]
        if lib in HOMES:
            assert owner in HOMES[lib], f"{owner} imports {lib}; its home is {HOMES[lib]}"


def test_status_path_imports_no_heavy_library(tmp_path: Path) -> None:
    """`driftd status` must not import pandas, scipy or scikit-learn (it only reads SQLite)."""
    code = (
        "import sys\n"
        "from driftd import cli\n"
        "from driftd.registry import queries\n"
        "heavy = sorted(m for m in ('pandas', 'scipy', 'sklearn', 'sqlite_utils') "
        "if m in sys.modules)\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path
    )
    assert out.stdout.strip() == ""
