"""File and directory modes of the registry: 0600 (0640 when group-readable), dirs 0700/0750.

Modes are set explicitly after creation (``fchmod``/``chmod``), so the result does not depend
on the process umask. SQLite creates ``-wal`` and ``-shm`` with the main file's mode (it copies
the mode and, when running as root, the owner), so fixing the main file covers them.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from driftd.errors import RegistryError

FILE_MODE = 0o600
GROUP_FILE_MODE = 0o640
DIR_MODE = 0o700
GROUP_DIR_MODE = 0o750


def create_file(path: Path, group_readable: bool) -> None:
    """Create missing directories and the empty registry file with exact modes."""
    dir_mode = GROUP_DIR_MODE if group_readable else DIR_MODE
    missing = [p for p in (path.parent, *path.parent.parents) if not p.exists()]
    try:
        for directory in reversed(missing):
            try:
                directory.mkdir(mode=dir_mode)
            except FileExistsError:
                continue
            os.chmod(directory, dir_mode)
        mode = GROUP_FILE_MODE if group_readable else FILE_MODE
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
        except FileExistsError:
            return  # another process won the race and set the mode
        try:
            os.fchmod(fd, mode)
        finally:
            os.close(fd)
    except OSError as exc:
        raise RegistryError(f"{exc.filename or path}: cannot create: {exc.strerror}") from None


def enforce_modes(path: Path, group_readable: bool) -> None:
    """Make an existing registry's mode follow the config, for the files this user owns.

    Turning ``group`` on or off in the config then takes effect at the next open.
    """
    want = GROUP_FILE_MODE if group_readable else FILE_MODE
    for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        try:
            st = name.stat()
            if st.st_uid == os.geteuid() and stat.S_IMODE(st.st_mode) != want:
                os.chmod(name, want)
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise RegistryError(f"{name}: cannot set mode {want:o}: {exc.strerror}") from None
