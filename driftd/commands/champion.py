"""``driftd champion MODEL [--path | --json]``: the current champion, from the registry.

``--json`` prints exactly what ``<artifacts>/<model>/CHAMPION.json`` holds when it agrees with
the registry; ``--path`` only the artifact's path, for shell scripts. Exit 2 (one line on
stderr) when the model has no champion.
"""

from __future__ import annotations

import argparse
from typing import Any

from driftd.commands import Add, common


def register(add: Add, as_json: argparse.ArgumentParser) -> None:
    p = add("champion", cmd_champion, "the current champion of a model: version and artifact")
    p.add_argument("model")
    how = p.add_mutually_exclusive_group()
    how.add_argument("--path", action="store_true", help="print only the artifact's path")
    how.add_argument("--json", action="store_true", help="machine-readable output")


def cmd_champion(args: argparse.Namespace) -> int:
    from driftd.champion import pointer
    from driftd.errors import EXIT_OK, NotFoundError
    from driftd.text import escape

    cfg = common.load_config(args)
    cfg.model(args.model)  # a name the config does not know is a typo, not "no champion"
    current = pointer.expected(cfg.registry, args.model)
    if current is None:
        raise NotFoundError(f"{args.model}: no champion yet (the first check trains one)")
    if args.path:
        print(escape(str(current["artifact"])))
        return EXIT_OK
    file = pointer.pointer_path(cfg.artifacts, args.model)
    in_sync = pointer.read(file) == current
    common.emit(args, current, lambda safe: _text(safe, escape(str(file)), in_sync))
    return EXIT_OK


def _text(data: dict[str, Any], file: str, in_sync: bool) -> str:
    state = "" if in_sync else " (out of date: the daemon's start-up sweep rewrites it)"
    return "\n".join(
        [
            f"{data['model']}: {data['version']}",
            f"  promoted at   {data['promoted_at']} ({data['action']}, decision "
            f"{data['decision_id']}; recorded at {data['recorded_at']})",
            f"  artifact      {data['artifact']}",
            f"  sha256        {data['sha256']}  ({data['size']:,} bytes)",
            f"  pointer file  {file}{state}",
        ]
    )
