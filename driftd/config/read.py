"""Finding and reading the config file: ``--config``, ``$DRIFTD_CONFIG``, /etc/driftd/config.toml.

Relative paths in the file are resolved against the directory holding the file, so a config and
its data can move together.
"""

from __future__ import annotations

import os
import stat
import tomllib
from pathlib import Path

from driftd.config.models import Config
from driftd.config.validate import NameChecks, parse
from driftd.errors import ConfigError
from driftd.filekind import describe

DEFAULT_CONFIG_PATH = "/etc/driftd/config.toml"


def resolve_config_path(cli_value: str | None) -> Path:
    """``--config``, else ``$DRIFTD_CONFIG``, else /etc/driftd/config.toml."""
    return Path(cli_value or os.environ.get("DRIFTD_CONFIG") or DEFAULT_CONFIG_PATH)


def load(path: str | Path, checks: NameChecks | None = None) -> Config:
    """Read and validate a config file; raise ConfigError listing every problem."""
    path = Path(path)
    try:
        raw = tomllib.loads(_read_regular(path))
    except FileNotFoundError:
        raise ConfigError(["file not found"], str(path)) from None
    except UnicodeDecodeError as exc:
        where = f"byte {exc.object[exc.start]:#04x} at offset {exc.start}"
        raise ConfigError([f"is not UTF-8 text ({where})"], str(path)) from None
    except OSError as exc:
        raise ConfigError([f"cannot read: {exc.strerror or exc}"], str(path)) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"not valid TOML: {exc}"], str(path)) from None
    # Absolute, so that source paths (kept unresolved for globs) do not depend on the cwd.
    return parse(raw, base=path.absolute().parent, source=str(path), checks=checks)


def _read_regular(path: Path) -> str:
    # Non-blocking open, then fstat: a FIFO or a device is refused at once, where a plain read
    # would block `driftd validate` (or the daemon's SIGHUP reload) forever.
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise ConfigError([f"not a regular file (it is {describe(mode)})"], str(path))
        chunks = []
        while chunk := os.read(fd, 1 << 16):
            chunks.append(chunk)
        return b"".join(chunks).decode("utf-8")
    finally:
        os.close(fd)
