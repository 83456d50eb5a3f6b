"""Sub-commands that live outside ``cli.py``, one module each.

``cli.py`` keeps the core commands; every newer command is a module here with a
``register(add, as_json)`` function, listed in :data:`MODULES`. ``add(name, handler, help,
*parents)`` creates the sub-parser (with ``--config``) and returns it; ``as_json`` is the parent
parser that adds ``--json``. A command module imports heavy libraries inside its handler, never at
module level, because every ``driftd`` invocation imports all of them to build the parser.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any, Protocol

Handler = Callable[[argparse.Namespace], int]


class Add(Protocol):
    def __call__(
        self, name: str, handler: Handler, help_: str, *parents: argparse.ArgumentParser
    ) -> Any: ...


# Module names under driftd.commands, in the order their commands appear in `driftd --help`.
MODULES: tuple[str, ...] = (
    "champion",
    "report",
    "metrics",
    "timeline",
    "notify",
    "completion",
    "systemd",
    "export",
)


_ROOT: list[argparse.ArgumentParser] = []


def register_all(add: Add, as_json: argparse.ArgumentParser, root: argparse.ArgumentParser) -> None:
    """Add every module's commands; ``root`` is kept for :func:`root_parser`."""
    import importlib

    _ROOT[:] = [root]
    for name in MODULES:
        importlib.import_module(f"driftd.commands.{name}").register(add, as_json)


def root_parser() -> argparse.ArgumentParser:
    """The whole ``driftd`` parser (for shell completion), as built by ``driftd.cli``."""
    if not _ROOT:
        raise RuntimeError("driftd.cli has not built its parser")
    return _ROOT[0]
