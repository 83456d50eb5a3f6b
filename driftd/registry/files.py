"""File and directory modes of the registry, through :mod:`driftd.permissions`: 0600 (0640 with
a group), directories 0700 (0750, setgid when a group is named), owned by the configured group.

Modes are set explicitly after creation, so the result does not depend on the process umask.
SQLite creates ``-wal`` and ``-shm`` with the main file's mode (it copies the mode and, when
running as root, the owner); their group comes from the directory (setgid) or the process, so
:func:`enforce_modes` also runs once they exist.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from driftd.errors import ConfigError, DriftdError, RegistryError
from driftd.permissions import FILE_MODE, GROUP_DIR_MODE, GROUP_FILE_MODE, Access, make_dirs, secure

__all__ = [
    "FILE_MODE",
    "GROUP_DIR_MODE",
    "GROUP_FILE_MODE",
    "create_file",
    "enforce_modes",
    "remove_version_dir",
]


def create_file(path: Path, access: Access) -> None:
    """Create missing directories and the empty registry file with exact modes and group."""
    try:
        make_dirs(path.parent, access)
        try:
            fd = os.open(
                path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, access.file_mode
            )
        except FileExistsError:
            return  # another process won the race and set the mode
        os.close(fd)
        secure(path, access)
    except OSError as exc:
        raise RegistryError(f"{exc.filename or path}: cannot create: {exc.strerror}") from None
    except ConfigError:
        raise
    except DriftdError as exc:
        raise RegistryError(str(exc)) from None


def enforce_modes(path: Path, access: Access) -> None:
    """Make an existing registry's mode and group follow the config, for files this user owns.

    Turning ``group`` on or off in the config then takes effect at the next open.
    """
    for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        try:
            secure(name, access)
        except ConfigError:
            raise
        except DriftdError as exc:
            raise RegistryError(str(exc)) from None


# What driftd itself writes in a version's directory (cycle.DATA_FILE and HOLDOUT_FILE, the
# trainer's artifact names, crash-safe write temporaries). Anything else there is not ours and
# is left in place.
VERSION_FILES = ("model.skops", "model.pkl", "data.parquet", "holdout.parquet")
TEMP_PREFIX = ".tmp-"


def remove_version_dir(directory: Path) -> None:
    """Remove driftd's files from a collected version's directory, then the directory if empty.

    OSError propagates (the caller names the path); symlinks are removed, never followed.
    """
    import shutil

    for entry in directory.iterdir() if directory.is_dir() else ():
        if entry.name in VERSION_FILES or entry.name.startswith(TEMP_PREFIX):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink(missing_ok=True)
    try:
        directory.rmdir()
    except FileNotFoundError:
        return
    except OSError as exc:
        if exc.errno != errno.ENOTEMPTY:
            raise
