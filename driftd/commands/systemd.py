"""``driftd systemd print|install [--prefix DIR]``: the service files shipped in the wheel.

The unit, the ``OnFailure=`` handler unit, the sysusers.d snippet and an example config live in
``driftd/systemd_files/`` (package data, so an installed driftd has them without a source
checkout). Both commands write the units with ``ExecStart`` pointing at the ``driftd`` that runs
them, so a venv anywhere outside the sandbox's hidden paths works without editing a unit.
``install`` never overwrites an existing config; ``--prefix`` writes under a staging root (a
package build, or a test) instead of ``/``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from driftd.commands import Add

UNIT = "driftd.service"
NOTIFY_UNIT = "driftd-notify-failure@.service"
SYSUSERS = "driftd.sysusers"
CONFIG = "config.example.toml"
# Where each file goes under the prefix, and its mode.
TARGETS = {
    UNIT: ("etc/systemd/system/driftd.service", 0o644),
    NOTIFY_UNIT: ("etc/systemd/system/driftd-notify-failure@.service", 0o644),
    SYSUSERS: ("etc/sysusers.d/driftd.conf", 0o644),
    CONFIG: ("etc/driftd/config.toml", 0o640),
}
# ProtectHome=yes and PrivateTmp=yes hide these from the service: a driftd there cannot start.
HIDDEN = ("/home/", "/root/", "/run/user/", "/tmp/", "/var/tmp/")


def register(add: Add, as_json: argparse.ArgumentParser) -> None:
    p = add("systemd", cmd_systemd, "print or install the systemd unit, sysusers and config")
    p.add_argument("action", choices=("print", "install"))
    p.add_argument(
        "--file",
        choices=("unit", "notify-failure", "sysusers", "config"),
        default="unit",
        help="print: which file (default: the unit)",
    )
    p.add_argument("--prefix", default="/", help="install: write under DIR instead of /")
    p.add_argument(
        "--executable", help="the driftd for ExecStart (default: the one running this command)"
    )


def cmd_systemd(args: argparse.Namespace) -> int:
    from driftd.errors import EXIT_OK

    binary = args.executable or installed_driftd()
    for warning in warnings_for(binary):
        print(f"warning: {warning}", file=sys.stderr)
    if args.action == "print":
        files = {"unit": UNIT, "notify-failure": NOTIFY_UNIT, "sysusers": SYSUSERS}
        name = {**files, "config": CONFIG}[args.file]
        sys.stdout.write(render(name, binary))
        return EXIT_OK
    for line in install(Path(args.prefix), binary):
        print(line)
    return EXIT_OK


def shipped(name: str) -> str:
    """One of the files in ``driftd/systemd_files/``, as shipped."""
    from importlib import resources

    return resources.files("driftd").joinpath("systemd_files", name).read_text(encoding="utf-8")


def render(name: str, binary: str) -> str:
    """The file ready to install: a unit's ``ExecStart`` runs ``binary``."""
    import re

    from driftd.errors import DriftdError

    text = shipped(name)
    if name not in (UNIT, NOTIFY_UNIT):
        return text
    if any(c.isspace() for c in binary) or not binary.startswith("/"):
        raise DriftdError(f"ExecStart needs an absolute path without spaces (got {binary!r})")
    patched, count = re.subn(r"(?m)^ExecStart=\S+", lambda _m: f"ExecStart={binary}", text)
    if count != 1:
        raise DriftdError(f"the shipped {name} has {count} ExecStart lines, expected 1")
    return patched


def installed_driftd() -> str:
    """The absolute path of the ``driftd`` command running now (else the one on PATH)."""
    import shutil

    argv0 = Path(sys.argv[0])
    if argv0.name == "driftd" and argv0.is_file():
        # absolute(), not resolve(): a /usr/local/bin/driftd symlink stays the stable name.
        return str(argv0.absolute())
    beside = Path(sys.executable).parent / "driftd"  # `python -m driftd` from a venv
    if beside.exists():
        return str(beside)
    found = shutil.which("driftd")
    if found:
        return str(Path(found).absolute())
    from driftd.errors import DriftdError

    raise DriftdError("cannot find the driftd executable; pass --executable /path/to/driftd")


def warnings_for(binary: str) -> list[str]:
    hidden = [p for p in HIDDEN if binary.startswith(p)]
    if hidden:
        return [
            f"{binary} is under {hidden[0]}, which the service's sandbox hides: install driftd "
            "in /opt or /usr/local (see the README, 'Running driftd under systemd')"
        ]
    return []


def install(prefix: Path, binary: str) -> list[str]:
    """Write the four files under ``prefix``; a config already there is kept. One line each."""
    import os

    from driftd.errors import DriftdError

    lines = []
    for name, (relative, mode) in TARGETS.items():
        target = prefix / relative
        if name == CONFIG and target.exists():
            lines.append(f"kept      {target} (exists)")
            continue
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            temp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
            temp.write_text(render(name, binary), encoding="utf-8")
            temp.chmod(mode)
            os.replace(temp, target)
        except OSError as exc:
            raise DriftdError(f"{target}: cannot write: {exc.strerror or exc}") from None
        lines.append(f"wrote     {target}")
    lines.append(
        "next: systemd-sysusers; edit and `driftd validate` the config; "
        "systemctl daemon-reload; systemctl enable --now driftd "
        "(to be told when it fails: OnFailure=driftd-notify-failure@%n.service in a drop-in)"
    )
    return lines
